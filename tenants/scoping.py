"""The one scoping API for department-owned objects.

Every model that belongs to a department uses a manager built from :class:`ScopedQuerySet` and
declares ``scope_field``, the lookup path from the model to its :class:`~tenants.models.Department`.
``Model.objects.restrict(principal, action)`` narrows any queryset to what the principal may
reach; the admin, views, API and tasks all start from it and never filter by department by hand.

A principal is a user, or any object with ``scope_department_ids(action)`` (API keys use that).
The generic isolation tests find department-owned models by this queryset class, so a new model
is covered by declaring it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.apps import apps
from django.db import models

from .roles import ROLE_GRANTS, Action

ALL = None  # department_ids() answer meaning "every department"


def department_ids(principal, action: str = Action.MANAGE) -> frozenset[int] | None:
    """Ids of the departments where ``principal`` may perform ``action``; None means all of them."""
    if principal is None:
        return frozenset()
    if hasattr(principal, "scope_department_ids"):
        return principal.scope_department_ids(action)
    if not getattr(principal, "is_authenticated", False) or not principal.is_active:
        return frozenset()
    if principal.is_superuser:
        return ALL
    cache = principal.__dict__.setdefault("_scope_cache", {})
    if action not in cache:
        cache[action] = _user_department_ids(principal, action)
    return cache[action]


def _user_department_ids(user, action: str) -> frozenset[int]:
    Department = apps.get_model("tenants", "Department")
    Membership = apps.get_model("tenants", "Membership")
    grants = ROLE_GRANTS.get(action, {})
    if not grants:
        return frozenset()
    rows = Membership.objects.filter(user=user, role__in=list(grants), department__is_active=True).values_list(
        "role", "department_id", "department__path"
    )
    ids: set[int] = set()
    subtree_paths: list[str] = []
    for role, dept_id, path in rows:
        ids.add(dept_id)
        if grants[role]:
            subtree_paths.append(path)
    if subtree_paths:
        below = models.Q()
        for path in subtree_paths:
            below |= models.Q(path__startswith=path)
        ids.update(Department.objects.filter(below, is_active=True).values_list("pk", flat=True))
    return frozenset(ids)


def forget(principal) -> None:
    """Drop the cached scope of a principal (after its memberships change)."""
    if principal is not None:
        principal.__dict__.pop("_scope_cache", None)


def has_role_anywhere(user, action: str) -> bool:
    ids = department_ids(user, action)
    return ids is ALL or bool(ids)


class ScopedQuerySet(models.QuerySet):
    """A queryset for a department-owned model; see the module docstring.

    ``shared_when_null``: rows with no department are platform-wide (registered by platform
    admins for everyone): every department may see and choose them, only platform admins change them.
    """

    scope_field = "department"
    shared_when_null = False

    def restrict(self, principal, action: str = Action.MANAGE) -> ScopedQuerySet:
        ids = department_ids(principal, action)
        if ids is ALL:
            return self
        mine = models.Q(**{f"{self.scope_field}__in": ids})
        if self.shared_when_null and ids:
            mine |= models.Q(**{f"{self.scope_field}__isnull": True})
        return self.filter(mine)

    def changeable_by(self, principal, action: str = Action.MANAGE) -> ScopedQuerySet:
        """Like restrict(), without the platform-wide rows a department may only look at."""
        ids = department_ids(principal, action)
        if ids is ALL:
            return self
        return self.filter(**{f"{self.scope_field}__in": ids})

    def in_departments(self, ids: Iterable[int]) -> ScopedQuerySet:
        return self.filter(**{f"{self.scope_field}__in": list(ids)})


class SharedScopedQuerySet(ScopedQuerySet):
    """For models whose rows without a department are platform-wide (see ``shared_when_null``)."""

    shared_when_null = True


def scope_field_of(model) -> str | None:
    """The model's path to its department, or None when the model is not department-owned."""
    queryset = model._default_manager.get_queryset()
    if isinstance(queryset, ScopedQuerySet):
        return queryset.scope_field
    return None


def department_id_of(obj) -> int | None:
    """The id of the department an object belongs to (by following its ``scope_field``)."""
    field = scope_field_of(type(obj))
    if field is None:
        return None
    if field == "pk":
        return obj.pk
    parts = field.split("__")
    target = obj
    for part in parts[:-1]:
        target = getattr(target, part, None)
        if target is None:
            return None
    return getattr(target, f"{parts[-1]}_id", None)


def is_department_owned(model) -> bool:
    return scope_field_of(model) is not None


def is_shared(obj) -> bool:
    """A platform-wide row of a model that has them (no department)."""
    queryset = type(obj)._default_manager.get_queryset()
    return getattr(queryset, "shared_when_null", False) and department_id_of(obj) is None
