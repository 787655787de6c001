"""Agents ("digital employees"), their immutable published versions, and who may use them."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.query import ModelIterable
from django.utils.translation import gettext_lazy as _

from tenants.models import Department
from tenants.roles import Action, Role
from tenants.scoping import ALL, ScopedQuerySet, department_ids

from ..catalog.areas import Area
from .endpoints import ModelEndpoint
from .knowledge import KnowledgeBase
from .prompts import PromptTemplate
from .safety import SensitiveWordList
from .tools import Tool


class _UsableAgents(ModelIterable):
    """Agents read through ``usable_by``: each remembers whom it was found usable for (``usable_for``)."""

    def __iter__(self):
        principal = self.queryset._hints.get("usable_by")
        for agent in super().__iter__():
            agent.usable_for = principal
            yield agent


class AgentQuerySet(ScopedQuerySet):
    def available_to(self, department_ids) -> AgentQuerySet:
        """Agents these departments may use at all: their own, and those granted to them explicitly."""
        ids = list(department_ids)
        return self.filter(Q(department__in=ids) | Q(granted_departments__in=ids)).distinct()

    def by_identifier(self, identifier: str | None) -> AgentQuerySet:
        """The agent an identifier ("<department code>.<slug>", as the APIs name agents) names, if any."""
        code, _dot, slug = (identifier or "").partition(".")
        if not code or not slug or "\x00" in identifier:  # PostgreSQL text cannot hold NUL: no agent is named so
            return self.none()
        return self.filter(department__code=code, slug=slug)

    def usable_by(self, user) -> AgentQuerySet:
        """Published, active agents the user may use: assigned in their department, or granted to it.

        An API key may use the agents listed on it that its department may use (its own or granted to
        it), and only while it holds the "run" scope and works.
        """
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        published = self.filter(is_active=True, current_version__isnull=False)
        # The agents read remember the principal (see _UsableAgents): a run started for that very
        # principal in the same request need not ask the database again.
        published._iterable_class = _UsableAgents
        published._hints = {**published._hints, "usable_by": user}
        if getattr(user, "is_api_key", False):
            if not user.has_scope(user.Scope.RUN):
                return self.none()
            return published.available_to([user.department_id]).filter(api_keys=user)
        if user.is_superuser:
            return published
        ids = department_ids(user, Action.USE)
        if ids is ALL:
            return published
        roles = list(user.memberships.filter(department__in=ids).values_list("role", flat=True).distinct())
        by_role = Q()
        for role in roles:
            by_role |= Q(assigned_roles__contains=[role])
        own = Q(department__in=ids) & (Q(assign_all_members=True) | Q(assigned_users=user) | by_role)
        granted = Q(granted_departments__in=ids)
        return published.filter(own | granted).distinct()


class Agent(models.Model):
    """The editable draft of an agent. Staff and the API use ``current_version``, never the draft."""

    class OutputMode(models.TextChoices):
        CHAT = "chat", _("对话")
        STRUCTURED = "structured", _("结构化结果（JSON）")

    department = models.ForeignKey(Department, verbose_name=_("部门"), on_delete=models.CASCADE)
    name = models.CharField(_("名称"), max_length=100)
    slug = models.SlugField(_("标识"), max_length=60, help_text=_("部门内唯一，API 调用时使用。"))
    icon = models.CharField(_("图标"), max_length=8, default="🤖")
    description = models.CharField(_("简介"), max_length=300, blank=True)
    area = models.CharField(_("场景分类"), max_length=20, choices=Area.choices, default=Area.OTHER, db_index=True)
    template = models.ForeignKey(
        PromptTemplate, verbose_name=_("提示词模板"), on_delete=models.PROTECT, related_name="agents"
    )
    endpoint = models.ForeignKey(
        ModelEndpoint,
        verbose_name=_("对话模型服务"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agents",
        help_text=_("留空：不调用大模型，只根据知识库检索结果作答并注明出处。"),
    )
    model_name = models.CharField(_("模型名称"), max_length=100, blank=True)
    fallback_endpoint = models.ForeignKey(
        ModelEndpoint,
        verbose_name=_("备用模型服务"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fallback_agents",
        help_text=_("主模型服务不可用（超时、限流、5xx）时改用此服务。"),
    )
    fallback_model_name = models.CharField(_("备用模型名称"), max_length=100, blank=True)
    temperature = models.DecimalField(
        _("温度"),
        max_digits=3,
        decimal_places=2,
        default=0.3,
        validators=[MinValueValidator(0), MaxValueValidator(2)],
    )
    max_tokens = models.PositiveIntegerField(
        _("最大输出 token 数"), default=2000, validators=[MinValueValidator(16), MaxValueValidator(32000)]
    )
    knowledge_bases = models.ManyToManyField(KnowledgeBase, verbose_name=_("知识库"), blank=True)
    tools = models.ManyToManyField(Tool, verbose_name=_("工具"), blank=True)
    max_tool_steps = models.PositiveSmallIntegerField(
        _("最多工具调用轮数"), default=4, validators=[MaxValueValidator(20)]
    )
    mask_personal_data = models.BooleanField(_("个人信息脱敏"), default=True)
    sensitive_word_lists = models.ManyToManyField(SensitiveWordList, verbose_name=_("敏感词表"), blank=True)
    requires_review = models.BooleanField(_("需要人工审核"), default=False)
    ai_label = models.BooleanField(_("标注“AI 生成”"), default=True)
    output_mode = models.CharField(_("输出方式"), max_length=20, choices=OutputMode.choices, default=OutputMode.CHAT)
    output_schema = models.JSONField(_("输出 JSON Schema"), null=True, blank=True)
    minutes_saved = models.PositiveIntegerField(
        _("每次节省工时（分钟）"), default=10, help_text=_("用于报表估算节省的工时。")
    )
    # Who may use it.
    assign_all_members = models.BooleanField(_("本部门全体成员可用"), default=False)
    assigned_roles = models.JSONField(_("按角色分配"), default=list, blank=True)
    assigned_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("指定成员"), blank=True, related_name="assigned_agents"
    )
    granted_departments = models.ManyToManyField(
        Department,
        verbose_name=_("授权其他部门使用"),
        blank=True,
        related_name="granted_agents",
        help_text=_("被授权部门的全体成员可以使用（跨部门使用必须明确授权）。"),
    )
    # The test set's gate and judge (not versioned: they say how a draft is tested before publishing).
    eval_max_drop = models.PositiveSmallIntegerField(
        _("允许的通过率下降（百分点）"),
        default=0,
        validators=[MaxValueValidator(100)],
        help_text=_("发布前运行测试集，通过率比正在使用的版本下降超过此值时阻止发布。"),
    )
    eval_judge_endpoint = models.ForeignKey(
        ModelEndpoint,
        verbose_name=_("评分模型服务"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    eval_judge_model = models.CharField(_("评分模型"), max_length=100, blank=True)
    scenario_key = models.CharField(_("来源场景"), max_length=80, blank=True, editable=False)
    is_active = models.BooleanField(_("启用"), default=True)
    current_version = models.ForeignKey(
        "AgentVersion",
        verbose_name=_("当前发布版本"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revision = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    objects = AgentQuerySet.as_manager()

    class Meta:
        verbose_name = _("智能体")
        verbose_name_plural = _("智能体")
        ordering = ["department__path", "name"]
        constraints = [models.UniqueConstraint(fields=["department", "slug"], name="agent_unique_slug")]
        indexes = [models.Index(fields=["department", "area"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.endpoint_id:
            if self.endpoint.kind != ModelEndpoint.Kind.CHAT:
                errors["endpoint"] = _("请选择对话模型服务。")
            elif self.model_name not in self.endpoint.models_list():
                errors["model_name"] = _("模型名称必须是该模型服务提供的模型之一：%(names)s。") % {
                    "names": "、".join(self.endpoint.models_list())
                }
        elif self.model_name:
            errors["model_name"] = _("未选择模型服务时不能填写模型名称。")
        if self.fallback_endpoint_id:
            if not self.endpoint_id:
                errors["fallback_endpoint"] = _("先选择主模型服务，再设置备用模型服务。")
            elif self.fallback_endpoint.kind != ModelEndpoint.Kind.CHAT:
                errors["fallback_endpoint"] = _("请选择对话模型服务。")
            elif self.fallback_model_name not in self.fallback_endpoint.models_list():
                errors["fallback_model_name"] = _("模型名称必须是该模型服务提供的模型之一：%(names)s。") % {
                    "names": "、".join(self.fallback_endpoint.models_list())
                }
        elif self.fallback_model_name:
            errors["fallback_model_name"] = _("未选择备用模型服务时不能填写备用模型名称。")
        if self.output_mode == self.OutputMode.STRUCTURED:
            from ..builder.schemas import schema_problems

            problems = schema_problems(self.output_schema)
            if problems:
                errors["output_schema"] = problems
        elif self.output_schema:
            errors["output_schema"] = _("只有结构化输出需要 JSON Schema。")
        unknown_roles = set(self.assigned_roles or []) - set(Role.values)
        if unknown_roles:
            errors["assigned_roles"] = _("未知角色：%(roles)s。") % {"roles": "、".join(sorted(unknown_roles))}
        if errors:
            raise ValidationError(errors)

    @property
    def identifier(self) -> str:
        """The public name of the agent for the API (``model`` in OpenAI terms)."""
        return f"{self.department.code}.{self.slug}"


class VersionQuerySet(ScopedQuerySet):
    scope_field = "agent__department"


class AgentVersion(models.Model):
    """An immutable snapshot of everything that defines an agent, as canonical JSON text.

    The text and its digest never change once written: the model refuses updates and a database
    trigger (migration) refuses them for any client.
    """

    agent = models.ForeignKey(Agent, verbose_name=_("智能体"), on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("版本号"))
    snapshot_text = models.TextField(_("快照"))
    digest = models.CharField(_("摘要"), max_length=64)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    restored_from = models.PositiveIntegerField(_("恢复自版本"), null=True, blank=True)
    # No database constraint: a version outlives the account that published it, unchanged.
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发布人"),
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    published_at = models.DateTimeField(_("发布时间"), auto_now_add=True)

    objects = VersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("智能体版本")
        verbose_name_plural = _("智能体版本")
        ordering = ["agent", "-number"]
        constraints = [models.UniqueConstraint(fields=["agent", "number"], name="agentversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.agent} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError(_("已发布的版本不可修改。"))
        self.digest = hashlib.sha256(self.snapshot_text.encode()).hexdigest()
        super().save(*args, **kwargs)

    @cached_property
    def snapshot(self) -> dict:
        """The snapshot, parsed once per instance (a version never changes); treat it as read-only."""
        return json.loads(self.snapshot_text)

    @staticmethod
    def canonical(snapshot: dict) -> str:
        return json.dumps(snapshot, ensure_ascii=False, sort_keys=True, indent=1, default=str)
