"""Declarations for the generic department-isolation tests of the admin.

A department-owned model registered in the admin declares an :class:`AdminSpec` subclass with
``@admin_spec``: how to make one of its objects in a department, and valid form data that would
place an object in a department. ``tests/test_admin_isolation.py`` then proves, for every spec,
that department A's admin can list, search, open, change and delete A's objects and cannot
list, find, open, change, delete, choose in a foreign key, or move into A any object of
department B; a meta-test fails when a registered department-owned model has no spec.
"""

from __future__ import annotations

import importlib
import pkgutil

SPECS: list[type[AdminSpec]] = []


def admin_spec(cls):
    SPECS.append(cls)
    return cls


class AdminSpec:
    model: type
    # What a department admin may do with their own department's objects in the admin.
    can_add = True
    can_change = True
    can_delete = True
    # False when the field placing the object in a department is read-only once created.
    movable = True
    # Fields that deliberately list other departments (explicit cross-department grants).
    cross_department_fields: tuple[str, ...] = ()
    # The add view answers with a page of its own (an API key's secret, shown once) instead of a redirect.
    add_renders_result = False

    def create(self, tenant):
        """An object belonging to ``tenant.department`` (with whatever it depends on)."""
        raise NotImplementedError

    def form_data(self, tenant, obj=None) -> dict:
        """POST data for the add form (or the change form of ``obj``) placing it in ``tenant``."""
        raise NotImplementedError

    def label(self, obj) -> str:
        """Text that identifies the object on the list page and finds it by search."""
        return str(obj)


def load_specs() -> list[type[AdminSpec]]:
    """Import every ``specs`` module under tests/ so their declarations register."""
    import tests

    for module in pkgutil.walk_packages(tests.__path__, "tests."):
        if module.name.endswith(".specs"):
            importlib.import_module(module.name)
    return SPECS
