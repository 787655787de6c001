"""Sensitive-word lists applied to agents' output."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.scoping import SharedScopedQuerySet

from .fields import platform_or_department


class SensitiveWordList(models.Model):
    class Action(models.TextChoices):
        MASK = "mask", _("替换为 ***")
        BLOCK = "block", _("拦截整条回答")

    department = platform_or_department()
    name = models.CharField(_("名称"), max_length=100)
    words = models.TextField(_("敏感词"), help_text=_("每行一个。"))
    action = models.CharField(_("处理方式"), max_length=10, choices=Action.choices, default=Action.MASK)

    objects = SharedScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("敏感词表")
        verbose_name_plural = _("敏感词表")
        ordering = ["department__path", "name"]

    def __str__(self) -> str:
        return self.name

    def word_list(self) -> list[str]:
        return [w.strip() for w in self.words.splitlines() if w.strip()]
