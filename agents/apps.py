from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_platform_rows(sender, **kwargs):
    """After migrating: the built-in tools and the scenario catalog are in the database."""
    from tenants import audit

    from .builder.services import builtin_tools_sync, catalog_sync

    with audit.context(via="migrate"):
        builtin_tools_sync()
        catalog_sync()


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = _("数字员工")

    def ready(self) -> None:
        post_migrate.connect(_sync_platform_rows, sender=self, dispatch_uid="agents_sync_platform_rows")
