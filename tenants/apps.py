from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    default = True
    name = "tenants"
    verbose_name = _("部门与权限")

    def connect_audit(self) -> None:
        from . import audit

        audit.connect()

    def ready(self) -> None:
        from . import sign_ins

        self.connect_audit()
        sign_ins.connect()


class ShuzhiAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the site that lets department admins in."""

    default = False

    default_site = "tenants.admin_site.ShuzhiAdminSite"
