"""Approved question-and-answer pairs: reviewers' corrections kept as knowledge."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

from tenants.scoping import ScopedQuerySet

from .knowledge import KnowledgeBase


class ApprovedAnswerQuerySet(ScopedQuerySet):
    scope_field = "knowledge_base__department"

    def in_force(self, on=None) -> ApprovedAnswerQuerySet:
        """Pairs not retired and within their validity dates on a day (today by default), like documents."""
        day = on or timezone.localdate()
        return self.filter(
            Q(effective_date__isnull=True) | Q(effective_date__lte=day),
            Q(expiry_date__isnull=True) | Q(expiry_date__gte=day),
            is_active=True,
        )


class ApprovedAnswer(models.Model):
    """A question with the answer a reviewer approved for it, searched with its knowledge base's passages.

    Texts are stored masked: personal data of the run it came from stays a placeholder, and any
    other personal data found in them is masked when saved. The vectors are by the model named in
    ``embedded_with`` (the knowledge base's live embedder when it was saved); retrieval compares them
    only with a query embedded by that same model.
    """

    knowledge_base = models.ForeignKey(
        KnowledgeBase, verbose_name=_("知识库"), on_delete=models.CASCADE, related_name="approved_answers"
    )
    question = models.TextField(_("问题"))
    answer = models.TextField(_("经审核的回答"))
    effective_date = models.DateField(_("生效日期"), null=True, blank=True)
    expiry_date = models.DateField(_("失效日期"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True, help_text=_("取消勾选即停用：不再用于回答。"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("审核时间"), default=timezone.now)
    source_run = models.ForeignKey(
        "agents.Run",
        verbose_name=_("来源运行"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="approved_answers",
    )
    dimension = models.PositiveIntegerField(default=0, editable=False)
    # The question and answer embedded as a passage is (competing with passages on their scale), and
    # the question embedded as a query is (compared with the asker's question to decide a close match).
    embedding = VectorField(null=True, blank=True, editable=False)
    question_embedding = VectorField(null=True, blank=True, editable=False)
    embedded_with = models.CharField(max_length=200, blank=True, editable=False)
    tokens = models.TextField(blank=True, editable=False, help_text="jieba tokens of the question and answer")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ApprovedAnswerQuerySet.as_manager()

    class Meta:
        verbose_name = _("经审核的问答")
        verbose_name_plural = _("经审核的问答")
        ordering = ["-approved_at", "-pk"]
        indexes = [models.Index(fields=["knowledge_base", "is_active"]), models.Index(fields=["expiry_date"])]

    def __str__(self) -> str:
        question = " ".join(self.question.split())
        return question if len(question) <= 60 else question[:59] + "…"

    @property
    def text(self) -> str:
        """What retrieval hands on, like a passage's text: the question and its approved answer."""
        return f"{_('问')}：{self.question}\n{_('答')}：{self.answer}"
