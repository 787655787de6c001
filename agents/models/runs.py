"""Conversations, runs (one execution of an agent, with its full trace) and usage counters."""

from __future__ import annotations

import bisect
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedTextField

from tenants.models import ApiKey, Department
from tenants.scoping import ScopedQuerySet

from .agents import Agent, AgentVersion
from .endpoints import ModelEndpoint


class ConversationQuerySet(ScopedQuerySet):
    def owned_by(self, user) -> ConversationQuerySet:
        """The user's (or API key's) own conversations (nobody else's, whatever their role)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if getattr(user, "is_api_key", False):
            return self.filter(api_key=user, is_deleted=False)
        return self.filter(user=user, is_deleted=False)


class Conversation(models.Model):
    """A thread of runs between one user (or one API key) and one agent. ``department`` is the caller's."""

    audit_log = False

    department = models.ForeignKey(Department, verbose_name=_("部门"), on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="conversations",
    )
    api_key = models.ForeignKey(
        ApiKey, verbose_name=_("API 密钥"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    agent = models.ForeignKey(Agent, verbose_name=_("智能体"), on_delete=models.PROTECT, related_name="conversations")
    title = models.CharField(_("标题"), max_length=200, blank=True)
    # The placeholder → value mapping of every personal datum seen in this conversation, so that one
    # value keeps one placeholder across turns. Encrypted at rest.
    mask_mapping = EncryptedTextField(_("脱敏映射"), null=True, blank=True, default="")
    is_deleted = models.BooleanField(_("已删除"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        verbose_name = _("会话")
        verbose_name_plural = _("会话")
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["user", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or str(self.pk)


class RunQuerySet(ScopedQuerySet):
    """Runs belong to the agent's department: its admins and reviewers see their traces."""

    def owned_by(self, principal) -> RunQuerySet:
        """The runs a person or an API key made themselves (nobody else's, whatever their role)."""
        if not getattr(principal, "is_authenticated", False):
            return self.none()
        if getattr(principal, "is_api_key", False):
            return self.filter(api_key=principal)
        return self.filter(user_id=principal.pk, api_key__isnull=True)

    def used_in(self, department_ids) -> RunQuerySet:
        """Runs made from these departments (the caller's department; the agent's when none was recorded),
        which is how usage reports count them. A test set's runs are the admins testing, never usage."""
        ids = list(department_ids)
        return self.filter(
            models.Q(caller_department__in=ids) | models.Q(caller_department__isnull=True, department__in=ids)
        ).exclude(via=Run.Via.EVAL)


class Run(models.Model):
    """One execution of an agent version, whatever the entry point, with everything needed to trace it.

    Texts are stored masked (placeholders such as 【手机号1】); ``mask_mapping`` (encrypted) restores
    them for viewers entitled to see personal data. ``metered_at`` is set exactly once, in the same
    transaction that adds the run to the usage counters.
    """

    audit_log = False

    class Via(models.TextChoices):
        CHAT = "chat", _("工作台")
        API = "api", _("REST API")
        OPENAI = "openai", _("OpenAI 兼容接口")
        MCP = "mcp", _("MCP 接口")
        BATCH = "batch", _("批量任务")
        PLAYGROUND = "playground", _("后台试运行")
        EVAL = "eval", _("测试集")

    class Status(models.TextChoices):
        RUNNING = "running", _("运行中")
        SUCCEEDED = "succeeded", _("完成")
        INCOMPLETE = "incomplete", _("未完成")
        FAILED = "failed", _("失败")
        BLOCKED = "blocked", _("已拦截")

    class Review(models.TextChoices):
        NONE = "", _("无需审核")
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("已通过")
        EDITED = "edited", _("修改后通过")
        REJECTED = "rejected", _("已驳回")

    # The run's public name where the sequential pk should not show (an OpenAI completion's id).
    uuid = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    department = models.ForeignKey(Department, verbose_name=_("部门"), on_delete=models.CASCADE, related_name="+")
    caller_department = models.ForeignKey(
        Department,
        verbose_name=_("使用部门"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    agent = models.ForeignKey(Agent, verbose_name=_("智能体"), on_delete=models.PROTECT, related_name="runs")
    version = models.ForeignKey(
        AgentVersion,
        verbose_name=_("版本"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
        help_text=_("后台试运行草稿时为空。"),
    )
    conversation = models.ForeignKey(
        Conversation, verbose_name=_("会话"), null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    # A run outlives the account that made it, unchanged.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("使用人"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Set when another system made the run with a department API key (``user`` is then empty).
    api_key = models.ForeignKey(
        ApiKey,
        verbose_name=_("API 密钥"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    via = models.CharField(_("入口"), max_length=20, choices=Via.choices, default=Via.CHAT)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.RUNNING, db_index=True)
    error = models.TextField(_("错误"), blank=True)

    # What went in (masked).
    input_text = models.TextField(_("输入"), blank=True)
    form_values = models.JSONField(_("表单"), default=dict, blank=True)
    attachments = models.JSONField(_("附件"), default=list, blank=True)
    prompt_messages = models.JSONField(_("发送给模型的提示词"), default=list, blank=True)
    retrieved = models.JSONField(_("检索到的段落"), default=list, blank=True)
    steps = models.JSONField(_("工具调用"), default=list, blank=True)

    # What came out (masked).
    answer = models.TextField(_("回答"), blank=True)
    reasoning = models.TextField(_("推理过程"), blank=True)
    output_data = models.JSONField(_("结构化结果"), null=True, blank=True)
    guardrails = models.JSONField(_("安全检查"), default=dict, blank=True)
    retrieval_only = models.BooleanField(_("仅检索模式"), default=False)
    ai_label = models.BooleanField(_("AI 生成标识"), default=True)
    mask_mapping = EncryptedTextField(_("脱敏映射"), null=True, blank=True, default="")

    # The model.
    endpoint = models.ForeignKey(
        ModelEndpoint, verbose_name=_("模型服务"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    endpoint_name = models.CharField(_("模型服务名称"), max_length=100, blank=True)
    model_name = models.CharField(_("模型"), max_length=100, blank=True)
    model_calls = models.PositiveIntegerField(_("模型调用次数"), default=0)
    input_tokens = models.PositiveIntegerField(_("输入 token"), default=0)
    output_tokens = models.PositiveIntegerField(_("输出 token"), default=0)
    tokens_estimated = models.BooleanField(_("token 为估算"), default=False)
    cost = models.DecimalField(_("估算费用（元）"), max_digits=12, decimal_places=6, default=0)
    ttft_ms = models.PositiveIntegerField(_("首字延迟（毫秒）"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("总耗时（毫秒）"), null=True, blank=True)
    started_at = models.DateTimeField(_("开始时间"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    metered_at = models.DateTimeField(_("计量时间"), null=True, blank=True, editable=False)

    # Human review. ``review_required``: the run's answer may not be delivered before a reviewer
    # approves it (set when it starts; ``runtime.visibility`` withholds it until then).
    review_required = models.BooleanField(_("需要审核"), default=False)
    review_status = models.CharField(
        _("审核"), max_length=20, choices=Review.choices, default=Review.NONE, blank=True, db_index=True
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    review_reason = models.TextField(_("审核意见"), blank=True)
    final_text = models.TextField(_("最终文本"), blank=True)

    # The requester's own controls: stop, regenerate, edit the delivered document in place.
    cancel_requested = models.BooleanField(_("已请求停止"), default=False)
    regenerated_from = models.ForeignKey(
        "self",
        verbose_name=_("重新生成自"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="regenerations",
    )
    edited_text = models.TextField(_("编辑后的文本"), blank=True)

    # Feedback from the requester.
    rating = models.SmallIntegerField(_("评价"), null=True, blank=True, choices=[(1, "👍"), (-1, "👎")])
    rating_comment = models.CharField(_("评价意见"), max_length=500, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        verbose_name = _("运行记录")
        verbose_name_plural = _("运行记录")
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["department", "-started_at"]),
            models.Index(fields=["agent", "-started_at"]),
            models.Index(fields=["conversation", "started_at"]),
            models.Index(fields=["department", "review_status"], name="run_review_queue"),
            # Reconciliation finds the days whose runs were rated or reviewed since it last ran.
            models.Index(fields=["rated_at"], name="run_rated_at", condition=models.Q(rated_at__isnull=False)),
            models.Index(fields=["reviewed_at"], name="run_reviewed_at", condition=models.Q(reviewed_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.agent} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status != self.Status.RUNNING


# Lower bounds (milliseconds) of the fixed latency buckets: 0, then 25 ms × √2ᵏ up to 819.2 s, so any
# percentile estimated from summed buckets is off by at most one bucket's width (≈ 41 % of its value).
LATENCY_BUCKETS_MS: tuple[int, ...] = (0, *(round(25 * 2 ** (k / 2)) for k in range(31)))


def latency_bucket(ms: int) -> int:
    """The index (0-based) of the bucket holding ``ms``; the same as PostgreSQL's ``width_bucket(ms, bounds) - 1``."""
    return bisect.bisect_right(LATENCY_BUCKETS_MS, max(ms, 0)) - 1


def _empty_buckets() -> list[int]:
    return [0] * len(LATENCY_BUCKETS_MS)


class UsageFigures(models.Model):
    """The figures both usage rollups hold, each the sum over the runs the row covers:

    - ``runs``/``failed_runs``: runs, and those that did not succeed (failed, incomplete, blocked);
    - ``conversations_started``: runs that opened a workspace conversation; ``messages``: runs made in one;
    - ``*_sum``/``*_count``: time to first token and total latency of the runs that have them, and
      ``*_buckets`` their histograms over ``LATENCY_BUCKETS_MS`` (for p50/p95 estimates);
    - ``rated_up``/``rated_down``: ratings; ``reviewed``/``approved``: review decisions (approved or
      edited count as approved);
    - ``minutes_saved``: the agent version's minutes saved per run, for succeeded runs of a published
      version that review did not reject.
    """

    runs = models.PositiveIntegerField(_("运行次数"), default=0)
    failed_runs = models.PositiveIntegerField(_("失败次数"), default=0)
    input_tokens = models.PositiveBigIntegerField(_("输入 token"), default=0)
    output_tokens = models.PositiveBigIntegerField(_("输出 token"), default=0)
    cost = models.DecimalField(_("估算费用（元）"), max_digits=14, decimal_places=6, default=0)
    conversations_started = models.PositiveIntegerField(_("新会话数"), default=0)
    messages = models.PositiveIntegerField(_("会话消息数"), default=0)
    ttft_ms_sum = models.PositiveBigIntegerField(_("首字延迟合计（毫秒）"), default=0)
    ttft_count = models.PositiveIntegerField(_("首字延迟样本数"), default=0)
    ttft_buckets = ArrayField(models.IntegerField(), verbose_name=_("首字延迟分布"), default=_empty_buckets)
    latency_ms_sum = models.PositiveBigIntegerField(_("总耗时合计（毫秒）"), default=0)
    latency_count = models.PositiveIntegerField(_("总耗时样本数"), default=0)
    latency_buckets = ArrayField(models.IntegerField(), verbose_name=_("总耗时分布"), default=_empty_buckets)
    rated_up = models.PositiveIntegerField(_("好评"), default=0)
    rated_down = models.PositiveIntegerField(_("差评"), default=0)
    reviewed = models.PositiveIntegerField(_("已审核"), default=0)
    approved = models.PositiveIntegerField(_("审核通过"), default=0)
    minutes_saved = models.PositiveBigIntegerField(_("节省工时（分钟）"), default=0)

    class Meta:
        abstract = True


# The figures' columns, in declaration order (the rollup SQL lists them from here).
USAGE_FIGURES: tuple[str, ...] = tuple(f.name for f in UsageFigures._meta.local_fields)


class UsageCounter(UsageFigures):
    """Usage per day, caller department, agent and user: the rollup the leaders' reports read per agent,
    scenario and person (``DepartmentUsage`` sums it per day and department).

    ``department`` is the caller's department (what its people used, whichever department owns the
    agent). ``run_meter`` adds each finished run exactly once as it finishes; the reconciliation in
    ``agents.reports.rollups`` recomputes a day's rows from the raw runs (ratings and review decisions
    arrive later), so every row always equals the aggregate of the day's metered runs (the figures are
    ``UsageFigures``').
    """

    audit_log = False

    day = models.DateField(_("日期"))
    # Indexed by the reports' index, which leads with it.
    department = models.ForeignKey(
        Department, verbose_name=_("部门"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    agent = models.ForeignKey(Agent, verbose_name=_("智能体"), on_delete=models.CASCADE, related_name="+")
    user_id = models.IntegerField(_("用户"), null=True, blank=True)
    # When reconciliation last recomputed the row (null: only run_meter has added to it since).
    reconciled_at = models.DateTimeField(_("核对时间"), null=True, blank=True, editable=False)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("用量")
        verbose_name_plural = _("用量")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "department", "agent", "user_id"],
                name="usage_counter_unique",
                nulls_distinct=False,
            )
        ]
        indexes = [
            # What the reports rank agents, scenarios and people by and count people from, so that they read
            # it alone (index-only), not the wider rows with the histograms.
            models.Index(
                fields=["department", "day"],
                include=[
                    "agent",
                    "user_id",
                    *(name for name in USAGE_FIGURES if not name.endswith(("_buckets", "_sum"))),
                ],
                name="usage_counter_reports",
            ),
            models.Index(fields=["reconciled_at"], name="usage_counter_reconciled_at"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.department_id} {self.agent_id}"


class DepartmentUsage(UsageFigures):
    """Usage per day and caller department: the sum of the day's ``UsageCounter`` rows of the department,
    which the overview, trends and department rankings read (a row per department and day, however
    many agents and people).

    ``run_meter`` adds each run to both rollups in the one transaction that marks it metered, and
    reconciliation rebuilds a day's rows from the day's counters in the transaction that rebuilds those,
    so each row always equals the aggregate of the department's metered runs of the day.
    """

    audit_log = False

    day = models.DateField(_("日期"))
    # Indexed by the unique constraint, which leads with it.
    department = models.ForeignKey(
        Department, verbose_name=_("部门"), on_delete=models.CASCADE, related_name="+", db_index=False
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("部门日用量")
        verbose_name_plural = _("部门日用量")
        constraints = [models.UniqueConstraint(fields=["department", "day"], name="department_usage_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.department_id}"
