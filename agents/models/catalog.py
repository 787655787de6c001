"""The scenario catalog in the database (synced from agents/catalog/scenarios/*.toml)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..catalog.areas import Area


class Scenario(models.Model):
    """A ready-made agent definition any department may clone. Platform-wide; read-only in the admin."""

    key = models.SlugField(_("标识"), max_length=80, unique=True)
    area = models.CharField(_("场景分类"), max_length=20, choices=Area.choices, db_index=True)
    name = models.CharField(_("名称"), max_length=100, db_index=True)
    icon = models.CharField(_("图标"), max_length=8)
    description = models.CharField(_("简介"), max_length=300)
    minutes_saved = models.PositiveIntegerField(_("每次节省工时（分钟）"))
    definition = models.JSONField(_("定义"))
    position = models.PositiveIntegerField(default=0)

    audit_log = False  # synced from files in the repository, which are their own history

    class Meta:
        verbose_name = _("场景目录")
        verbose_name_plural = _("场景目录")
        ordering = ["area", "position", "name"]

    def __str__(self) -> str:
        return self.name
