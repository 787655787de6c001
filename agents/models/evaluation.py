"""Test sets: each agent's cases, the evaluation runs of a version (or the draft), and a result per case."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tenants.audit import BY_PEOPLE
from tenants.scoping import ScopedQuerySet

from .agents import Agent, AgentVersion


class EvalCaseQuerySet(ScopedQuerySet):
    scope_field = "agent__department"


class EvalCase(models.Model):
    """One example input of an agent's test set and what a good answer to it must satisfy.

    Every check is optional; a case passes when all the checks it sets pass:

    - ``expected_sources``: passages or articles that must be among those retrieved, one a line, each
      matched against a passage's citation, document title and 文号 (e.g. "第三十九条" or a title);
    - ``must_include`` / ``must_exclude``: phrases the answer must (not) contain, one a line;
    - ``expected_schema`` (a JSON Schema) and ``expected_fields`` (field values) for structured agents;
    - ``format_verdict``: what the GB/T 9704 format checker must say of the answer;
    - ``reference_answer``: graded by the agent's judge model, when one is chosen.

    Texts are stored as the runtime will see them; a case made from a run keeps its masked texts.
    """

    class Verdict(models.TextChoices):
        ANY = "", _("不检查")
        CLEAN = "clean", _("无格式错误")
        PROBLEMS = "problems", _("有格式错误")

    agent = models.ForeignKey(Agent, verbose_name=_("智能体"), on_delete=models.CASCADE, related_name="eval_cases")
    name = models.CharField(_("名称"), max_length=200)
    message = models.TextField(_("问题"), blank=True)
    form_values = models.JSONField(
        _("表单值"), default=dict, blank=True, help_text=_('JSON 对象，如 {"ticket": "…"}。')
    )
    expected_sources = models.TextField(
        _("应引用的段落或条文"), blank=True, help_text=_("每行一个，如“第三十九条”或文件标题；须在检索到的段落中。")
    )
    must_include = models.TextField(_("必须出现的词句"), blank=True, help_text=_("每行一个。"))
    must_exclude = models.TextField(_("不得出现的词句"), blank=True, help_text=_("每行一个。"))
    expected_schema = models.JSONField(_("结构化结果须符合的 JSON Schema"), null=True, blank=True)
    expected_fields = models.JSONField(
        _("结构化结果的字段值"), null=True, blank=True, help_text=_('JSON 对象，如 {"category": "市政设施"}。')
    )
    format_verdict = models.CharField(
        _("公文格式检查结论"), max_length=20, choices=Verdict.choices, default=Verdict.ANY, blank=True
    )
    reference_answer = models.TextField(
        _("参考答案"), blank=True, help_text=_("智能体设置了评分模型时，由评分模型对照参考答案打分。")
    )
    is_active = models.BooleanField(_("启用"), default=True)
    source_run = models.ForeignKey(
        "agents.Run",
        verbose_name=_("来源运行记录"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    objects = EvalCaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("测试用例")
        verbose_name_plural = _("测试用例")
        ordering = ["agent", "pk"]

    def __str__(self) -> str:
        return self.name


class EvalRunQuerySet(ScopedQuerySet):
    scope_field = "agent__department"


class EvalRun(models.Model):
    """One run of an agent's test set against a published version, or the draft (``version`` empty).

    Counters are updated as each case finishes, so progress is one read. A run started by publishing
    (``purpose`` "publish") compares itself with ``baseline`` (the run of the version in use) and then
    publishes the draft it tested, or is blocked (``gate``) until an admin overrides it with a reason.
    ``draft_text`` is the canonical draft it tested: a draft changed meanwhile is not published.
    """

    # Starting, overriding and publishing are recorded; the worker's progress is not.
    audit_log = BY_PEOPLE

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("运行中")
        FINISHED = "finished", _("已完成")
        FAILED = "failed", _("失败")

    class Purpose(models.TextChoices):
        MANUAL = "manual", _("手动运行")
        PUBLISH = "publish", _("发布前检查")
        BASELINE = "baseline", _("对照版本")

    class Gate(models.TextChoices):
        NONE = "", _("—")
        PUBLISHED = "published", _("通过，已发布")
        BLOCKED = "blocked", _("未通过，已阻止发布")
        OVERRIDDEN = "overridden", _("管理员说明理由后发布")
        STALE = "stale", _("草稿已变动，未发布")

    agent = models.ForeignKey(Agent, verbose_name=_("智能体"), on_delete=models.CASCADE, related_name="eval_runs")
    version = models.ForeignKey(
        AgentVersion,
        verbose_name=_("版本"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="eval_runs",
        help_text=_("为空表示草稿。"),
    )
    purpose = models.CharField(_("用途"), max_length=20, choices=Purpose.choices, default=Purpose.MANUAL)
    baseline = models.ForeignKey(
        "self", verbose_name=_("对照"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    draft_text = models.TextField(_("所测草稿"), blank=True, editable=False)
    publish_note = models.CharField(_("发布说明"), max_length=200, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error = models.CharField(_("错误"), max_length=500, blank=True)
    gate = models.CharField(_("发布检查"), max_length=20, choices=Gate.choices, default=Gate.NONE, blank=True)
    gate_reason = models.CharField(_("检查结论"), max_length=500, blank=True)
    override_reason = models.TextField(_("强制发布理由"), blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("强制发布人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    published_version = models.ForeignKey(
        AgentVersion, verbose_name=_("发布的版本"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    total = models.PositiveIntegerField(_("用例数"), default=0)
    done = models.PositiveIntegerField(_("已完成"), default=0)
    passed = models.PositiveIntegerField(pgettext_lazy("evaluation", "通过"), default=0)
    sources_expected = models.PositiveIntegerField(_("应检索段落数"), default=0)
    sources_found = models.PositiveIntegerField(_("检索命中数"), default=0)
    latency_ms_sum = models.PositiveBigIntegerField(_("总耗时合计（毫秒）"), default=0)
    input_tokens = models.PositiveBigIntegerField(_("输入 token"), default=0)
    output_tokens = models.PositiveBigIntegerField(_("输出 token"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发起人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("发起时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    objects = EvalRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("测试集运行")
        verbose_name_plural = _("测试集运行")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.agent} · {self.target_label}"

    @property
    def target_label(self) -> str:
        return f"v{self.version.number}" if self.version_id else str(_("草稿"))

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100

    @property
    def pass_rate(self) -> float | None:
        """Passed cases over finished ones, in percent (None before any finished)."""
        return round(100 * self.passed / self.done, 1) if self.done else None

    @property
    def hit_rate(self) -> float | None:
        return round(100 * self.sources_found / self.sources_expected, 1) if self.sources_expected else None

    @property
    def mean_latency_ms(self) -> int | None:
        return round(self.latency_ms_sum / self.done) if self.done else None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class EvalResultQuerySet(ScopedQuerySet):
    scope_field = "eval_run__agent__department"


class EvalResult(models.Model):
    """The outcome of one case in one evaluation run: the run it made and each check's verdict.

    ``checks`` is a list of ``{"check", "passed", "detail"}``; the case passes when every one does.
    """

    audit_log = False

    eval_run = models.ForeignKey(
        EvalRun, verbose_name=_("测试集运行"), on_delete=models.CASCADE, related_name="results"
    )
    case = models.ForeignKey(EvalCase, verbose_name=_("测试用例"), on_delete=models.CASCADE, related_name="results")
    run = models.ForeignKey(
        "agents.Run", verbose_name=_("运行记录"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    passed = models.BooleanField(pgettext_lazy("evaluation", "通过"), default=False)
    checks = models.JSONField(_("检查项"), default=list)
    sources_expected = models.PositiveIntegerField(_("应检索段落数"), default=0)
    sources_found = models.PositiveIntegerField(_("检索命中数"), default=0)
    latency_ms = models.PositiveIntegerField(_("耗时（毫秒）"), default=0)
    tokens = models.PositiveIntegerField(_("token"), default=0)
    error = models.CharField(_("错误"), max_length=500, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), auto_now_add=True)

    objects = EvalResultQuerySet.as_manager()

    class Meta:
        verbose_name = _("测试结果")
        verbose_name_plural = _("测试结果")
        ordering = ["eval_run", "case"]
        constraints = [models.UniqueConstraint(fields=["eval_run", "case"], name="eval_result_unique_case")]

    def __str__(self) -> str:
        return f"{self.eval_run_id} · {self.case}"
