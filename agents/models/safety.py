"""Sensitive-word lists applied to agents' output."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Department
from tenants.scoping import ScopedQuerySet


class WordListQuerySet(ScopedQuerySet):
    shared_when_null = True


class SensitiveWordList(models.Model):
    class Action(models.TextChoices):
        MASK = "mask", _("替换为 ***")
        BLOCK = "block", _("拦截整条回答")

    department = models.ForeignKey(
        Department,
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text=_("留空表示全平台共享（仅平台管理员可设置）。"),
    )
    name = models.CharField(_("名称"), max_length=100)
    words = models.TextField(_("敏感词"), help_text=_("每行一个。"))
    action = models.CharField(_("处理方式"), max_length=10, choices=Action.choices, default=Action.MASK)

    objects = WordListQuerySet.as_manager()

    class Meta:
        verbose_name = _("敏感词表")
        verbose_name_plural = _("敏感词表")
        ordering = ["department__path", "name"]

    def __str__(self) -> str:
        return self.name

    def word_list(self) -> list[str]:
        return [w.strip() for w in self.words.splitlines() if w.strip()]
