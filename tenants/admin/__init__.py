"""The builder in the Django admin: the site, the scoped base classes and tenants' pages."""

from . import tenants  # noqa: F401  (registers the admin pages)
from .base import DepartmentScopedAdmin, DepartmentScopedInline, ScopedAdminMixin

__all__ = ["DepartmentScopedAdmin", "DepartmentScopedInline", "ScopedAdminMixin"]
