"""What an API key may reach: its scopes."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.permissions import BasePermission

from tenants.models import ApiKey


class KeyScope(BasePermission):
    """Allows a view to keys holding the view's ``required_scope`` (one of ``ApiKey.Scope``)."""

    def has_permission(self, request, view) -> bool:
        key = request.user
        if not getattr(key, "is_api_key", False):
            return False
        scope = getattr(view, "required_scope", None)
        if scope is None or key.has_scope(scope):
            return True
        self.message = _("该 API 密钥没有“%(scope)s”权限。") % {"scope": ApiKey.Scope(scope).label}
        return False
