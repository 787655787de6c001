"""Reads about users, departments and roles."""

from __future__ import annotations

from .models import Department, Membership
from .roles import BUSINESS_ROLES, Action, Role
from .scoping import ALL, department_ids


def user_roles(*, user) -> set[str]:
    """The roles a user holds in any active department."""
    if not user.is_authenticated:
        return set()
    cache = user.__dict__.get("_roles_cache")
    if cache is None:
        cache = set(Membership.objects.filter(user=user, department__is_active=True).values_list("role", flat=True))
        user.__dict__["_roles_cache"] = cache
    return cache


def departments_for(*, user, action: str) -> list[Department]:
    """The departments where the user may perform ``action``, in tree order."""
    ids = department_ids(user, action)
    queryset = Department.objects.filter(is_active=True)
    if ids is not ALL:
        queryset = queryset.filter(pk__in=ids)
    return list(queryset.order_by("path"))


def sections_for(*, user) -> list[dict]:
    """The parts of the platform a user can open, in the order they matter to them."""
    roles = user_roles(user=user)
    sections = []
    if user.is_superuser or roles & BUSINESS_ROLES:
        sections.append({"key": "workspace", "url_name": "chat:workspace"})
    if user.is_superuser or Role.REVIEWER in roles:
        sections.append({"key": "review", "url_name": "chat:review"})
    if user.is_superuser or roles & {Role.LEADER, Role.ADMIN}:
        sections.append({"key": "reports", "url_name": "reports:home"})
    if user.is_superuser or roles & {Role.ADMIN, Role.SECURITY, Role.AUDITOR}:
        sections.append({"key": "admin", "url_name": "admin:index"})
    return sections


def home_url_name(*, user) -> str:
    """Where a user lands after logging in: their main role's own page."""
    roles = user_roles(user=user)
    if user.is_superuser or roles == {Role.ADMIN}:
        return "admin:index"
    if Role.STAFF in roles:
        return "chat:workspace"
    if Role.REVIEWER in roles:
        return "chat:review"
    if Role.LEADER in roles:
        return "reports:home"
    if roles & {Role.ADMIN, Role.SECURITY, Role.AUDITOR}:
        return "admin:index"
    return "no_role"


def may(*, user, action: str) -> bool:
    ids = department_ids(user, action)
    return ids is ALL or bool(ids)


__all__ = ["Action", "departments_for", "home_url_name", "may", "sections_for", "user_roles"]


def user_labels(*, ids) -> dict[int, str]:
    """How people are named on pages (display name, else full name, else username), by user id, in one query."""
    from .models import User

    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        user.pk: str(user)
        for user in User.objects.filter(pk__in=wanted).only("username", "display_name", "first_name", "last_name")
    }


def user_label(*, user_id) -> str:
    """One person's name for a page: "—" for nobody, "#id" for an account that no longer exists."""
    if user_id is None:
        return "—"
    return user_labels(ids=[user_id]).get(user_id, f"#{user_id}")
