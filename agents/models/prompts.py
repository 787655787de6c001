"""Prompt templates with named, typed variables."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Department
from tenants.scoping import ScopedQuerySet

from ..prompts.variables import VariableType


class PromptTemplate(models.Model):
    """A system prompt with ``{{ name }}`` placeholders for the variables staff fill in."""

    department = models.ForeignKey(Department, verbose_name=_("部门"), on_delete=models.CASCADE)
    name = models.CharField(_("名称"), max_length=100)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    body = models.TextField(_("模板内容"), help_text=_("用 {{ 变量名 }} 引用下方定义的变量。"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("提示词模板")
        verbose_name_plural = _("提示词模板")
        ordering = ["department__path", "name"]

    def __str__(self) -> str:
        return self.name

    def variable_dicts(self) -> list[dict]:
        return [v.as_dict() for v in self.variables.all()]


class VariableQuerySet(ScopedQuerySet):
    scope_field = "template__department"


class PromptVariable(models.Model):
    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="variables")
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    name = models.CharField(_("变量名"), max_length=40)
    label = models.CharField(_("显示名称"), max_length=60)
    type = models.CharField(_("类型"), max_length=20, choices=VariableType.choices, default=VariableType.SHORT_TEXT)
    required = models.BooleanField(_("必填"), default=True)
    choices = models.TextField(_("选项"), blank=True, help_text=_("仅选项类变量：每行一个选项。"))
    help = models.CharField(_("填写提示"), max_length=200, blank=True)
    example = models.TextField(_("示例值"), blank=True, help_text=_("用于预览。"))

    objects = VariableQuerySet.as_manager()

    class Meta:
        verbose_name = _("模板变量")
        verbose_name_plural = _("模板变量")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["template", "name"], name="promptvariable_unique_name")]

    def __str__(self) -> str:
        return self.name

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "choices": [c.strip() for c in self.choices.splitlines() if c.strip()],
            "help": self.help,
            "example": self.example,
        }
