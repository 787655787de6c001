"""Batch jobs: one agent run per row of an uploaded CSV or Excel file, resumable, each row run once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedJSONField

from tenants.audit import BY_PEOPLE
from tenants.models import ApiKey, Department
from tenants.scoping import ScopedQuerySet

from .agents import Agent


class BatchJob(models.Model):
    """A file of inputs for one agent. ``department`` is the department that submitted it (the caller's).

    Counters (``done``, ``failed``) are updated with each finished row, so progress is one read.
    ``heartbeat_at`` is touched while a worker processes the job; a job that is "running" with an
    old heartbeat has lost its worker and is resumed.
    """

    # Submitting, pausing, resuming, cancelling and deleting a job are recorded; a worker's progress is not.
    audit_log = BY_PEOPLE

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("运行中")
        PAUSED = "paused", _("已暂停")
        CANCELLED = "cancelled", _("已取消")
        FINISHED = "finished", _("已完成")

    department = models.ForeignKey(Department, verbose_name=_("部门"), on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, verbose_name=_("智能体"), on_delete=models.PROTECT, related_name="batch_jobs")
    api_key = models.ForeignKey(
        ApiKey, verbose_name=_("API 密钥"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提交人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    name = models.CharField(_("名称"), max_length=200, blank=True)
    file_name = models.CharField(_("文件名"), max_length=255)
    columns = models.JSONField(_("列名"), default=list)
    # Which column holds the message, and which columns fill which form fields of the agent.
    message_column = models.CharField(_("问题所在列"), max_length=200, blank=True)
    form_columns = models.JSONField(_("表单字段对应的列"), default=dict, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    status_reason = models.CharField(_("状态说明"), max_length=300, blank=True)
    total = models.PositiveIntegerField(_("总行数"), default=0)
    done = models.PositiveIntegerField(_("已完成"), default=0)
    failed = models.PositiveIntegerField(_("失败"), default=0)
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("批量任务")
        verbose_name_plural = _("批量任务")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name or self.file_name

    @property
    def processed(self) -> int:
        return self.done + self.failed

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 100


class BatchRowQuerySet(ScopedQuerySet):
    scope_field = "job__department"


class BatchRow(models.Model):
    """One input row. ``values`` (the row as uploaded, with personal data) is encrypted at rest.

    A row is claimed (``running``) before its run starts and points at the run as soon as the run is
    stored, so a resumed job takes the result of a run that finished after its worker died instead of
    running the row again.
    """

    audit_log = False

    class Status(models.TextChoices):
        PENDING = "pending", _("待处理")
        RUNNING = "running", _("处理中")
        SUCCEEDED = "succeeded", _("完成")
        FAILED = "failed", _("失败")

    job = models.ForeignKey(BatchJob, verbose_name=_("批量任务"), on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField(_("行号"))
    values = EncryptedJSONField(_("输入"), default=dict)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.PENDING)
    run = models.ForeignKey(
        "agents.Run",
        verbose_name=_("运行记录"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    error = models.CharField(_("错误"), max_length=500, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = BatchRowQuerySet.as_manager()

    class Meta:
        verbose_name = _("批量任务行")
        verbose_name_plural = _("批量任务行")
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="batch_row_unique_number")]
        indexes = [models.Index(fields=["job", "status", "number"])]

    def __str__(self) -> str:
        return f"{self.job} #{self.number}"
