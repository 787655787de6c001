"""Knowledge bases (documents, passages and retrieval arrive with the knowledge-base feature)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Department
from tenants.scoping import ScopedQuerySet


class KnowledgeBase(models.Model):
    department = models.ForeignKey(Department, verbose_name=_("部门"), on_delete=models.CASCADE)
    name = models.CharField(_("名称"), max_length=100)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("知识库")
        verbose_name_plural = _("知识库")
        ordering = ["department__path", "name"]

    def __str__(self) -> str:
        return self.name
