"""The admin site: platform admins (superusers), department admins, security admins and audit admins may enter."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .roles import Action
from .scoping import has_role_anywhere

ADMIN_ACTIONS = (Action.MANAGE, Action.ACCOUNTS, Action.AUDIT)


def may_enter_admin(user) -> bool:
    return bool(
        user.is_active and (user.is_superuser or any(has_role_anywhere(user, action) for action in ADMIN_ACTIONS))
    )


class AdminLoginForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "not_admin": _("该账号没有管理后台权限。工作人员、审核员和领导请从首页登录。"),
    }

    def confirm_login_allowed(self, user):
        AuthenticationForm.confirm_login_allowed(self, user)
        if not may_enter_admin(user):
            raise ValidationError(self.error_messages["not_admin"], code="not_admin")


# Panels other apps add to the admin's home page: callables (request) -> dict | None, each giving
# {"template": ..., **context}. Kept here so the admin site needs no import from the apps above it.
INDEX_PANELS: list = []


class ShuzhiAdminSite(admin.AdminSite):
    site_header = _("数智员工平台 · 管理后台")
    site_title = _("数智员工平台")
    index_title = _("配置管理")
    login_form = AdminLoginForm

    def has_permission(self, request) -> bool:
        return may_enter_admin(request.user)

    def index(self, request, extra_context=None):
        panels = [panel for make in INDEX_PANELS if (panel := make(request))]
        return super().index(request, {**(extra_context or {}), "shuzhi_panels": panels})
