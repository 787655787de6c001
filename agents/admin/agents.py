"""The agent builder: drafts, publishing, versions, diffs, rollback and who may use an agent."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from tenants.admin import DepartmentScopedAdmin
from tenants.models import Department
from tenants.roles import BUSINESS_ROLES, Role

from ..builder.diff import VERSIONED_FIELDS, draft_changes
from ..builder.model_choices import endpoint_model_choices
from ..builder.readiness import agent_checklist
from ..builder.services import (
    agent_claim_revision,
    agent_version_restore,
    version_diff,
)
from ..builder.snapshot import agent_snapshot
from ..evaluation.services import agent_publish_gated
from ..models import Agent, AgentVersion, EvalRun, ModelEndpoint


class AgentForm(forms.ModelForm):
    seen_revision = forms.IntegerField(widget=forms.HiddenInput, required=False)
    assigned_roles = forms.MultipleChoiceField(
        label=_("按角色分配"),
        # The separated duties (security, audit) never use agents.
        choices=[(role.value, role.label) for role in Role if role in BUSINESS_ROLES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Agent
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["seen_revision"].initial = self.instance.revision
        # Say on every field whether it waits for the next publish or takes effect on save.
        for name, formfield in self.fields.items():
            if name in ("seen_revision", "department"):
                continue
            versioned = name in VERSIONED_FIELDS
            badge = format_html(
                '<span class="shuzhi-badge {}">{}</span>',
                "versioned" if versioned else "live",
                gettext("发布后生效") if versioned else gettext("保存即生效"),
            )
            formfield.help_text = format_html("{} {}", badge, formfield.help_text or "")
        # The builder's script offers the chosen service's models (agent_builder.js, models_view).
        for name, endpoint in (("model_name", "endpoint"), ("fallback_model_name", "fallback_endpoint")):
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {"data-models-for": f"id_{endpoint}", "data-models-url": reverse("admin:agents_agent_models")}
                )

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and not self.errors:
            # Inside the admin's transaction: the row stays locked until this save commits.
            seen = cleaned.get("seen_revision")
            agent_claim_revision(agent=self.instance, seen_revision=self.instance.revision if seen is None else seen)
        return cleaned


@admin.register(Agent)
class AgentAdmin(DepartmentScopedAdmin):
    form = AgentForm
    list_display = ["icon_name", "department", "area", "published", "requires_review", "is_active", "updated_at"]
    list_filter = ["area", "is_active", "requires_review", "department"]
    search_fields = ["name", "slug", "description"]
    list_per_page = 50
    show_full_result_count = False  # one COUNT less on filtered pages with thousands of rows
    list_select_related = ["department", "current_version"]
    filter_horizontal = ["tools", "knowledge_bases", "sensitive_word_lists", "assigned_users", "granted_departments"]
    readonly_fields = ["publication"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "publication",
                    "department",
                    "name",
                    "slug",
                    "icon",
                    "description",
                    "area",
                    "is_active",
                    "seen_revision",
                ]
            },
        ),
        (_("提示词"), {"fields": ["template"]}),
        (
            _("模型"),
            {
                "fields": [
                    "endpoint",
                    "model_name",
                    "fallback_endpoint",
                    "fallback_model_name",
                    "temperature",
                    "max_tokens",
                ]
            },
        ),
        (_("知识与工具"), {"fields": ["knowledge_bases", "tools", "max_tool_steps"]}),
        (_("安全护栏"), {"fields": ["mask_personal_data", "sensitive_word_lists", "requires_review", "ai_label"]}),
        (_("输出"), {"fields": ["output_mode", "output_schema"]}),
        (_("使用范围"), {"fields": ["assign_all_members", "assigned_roles", "assigned_users", "granted_departments"]}),
        (_("成效"), {"fields": ["minutes_saved"]}),
    ]

    @admin.display(description=_("智能体"), ordering="name")
    def icon_name(self, obj):
        return f"{obj.icon} {obj.name}"

    @admin.display(description=_("已发布"))
    def published(self, obj):
        return f"v{obj.current_version.number}" if obj.current_version_id else "—"

    @admin.display(description=_("发布状态"))
    def publication(self, obj):
        if obj.pk is None or obj.current_version_id is None:
            return _("草稿，尚未发布：工作人员和 API 还不能使用。")
        live = obj.current_version
        differs = AgentVersion.canonical(agent_snapshot(agent=obj)) != live.snapshot_text
        state = _("草稿有未发布的修改。") if differs else _("草稿与发布版本一致。")
        return _("正在使用版本 v%(n)s（%(when)s 发布）。%(state)s") % {
            "n": live.number,
            "when": live.published_at.strftime("%Y-%m-%d %H:%M"),
            "state": state,
        }

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "granted_departments":
            # Granting use to another department is the one place other departments are listed.
            kwargs["queryset"] = Department.objects.filter(is_active=True)
            return admin.ModelAdmin.formfield_for_manytomany(self, db_field, request, **kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path("models/", self.admin_site.admin_view(self.models_view), name="{}_{}_models".format(*info)),
            path(
                "<int:object_id>/publish/",
                self.admin_site.admin_view(self.publish_view),
                name="{}_{}_publish".format(*info),
            ),
            path(
                "<int:object_id>/playground/",
                self.admin_site.admin_view(self.playground_view),
                name="{}_{}_playground".format(*info),
            ),
            path(
                "<int:object_id>/versions/",
                self.admin_site.admin_view(self.versions_view),
                name="{}_{}_versions".format(*info),
            ),
            path(
                "<int:object_id>/versions/diff/",
                self.admin_site.admin_view(self.diff_view),
                name="{}_{}_diff".format(*info),
            ),
            path(
                "<int:object_id>/versions/<int:number>/restore/",
                self.admin_site.admin_view(self.restore_view),
                name="{}_{}_restore".format(*info),
            ),
        ]
        return own + super().get_urls()

    def _editable(self, request, object_id) -> Agent:
        agent = self.get_object(request, str(object_id))  # 404 outside the user's departments
        if not self.has_change_permission(request, agent):
            raise PermissionDenied
        return agent

    def change_view(self, request, object_id, form_url="", extra_context=None):
        agent = self.get_object(request, object_id) if object_id else None
        if agent is not None:
            extra_context = {
                **(extra_context or {}),
                "pending_changes": draft_changes(agent=agent),
                "checklist": agent_checklist(agent=agent),
                "eval_cases": agent.eval_cases.filter(is_active=True).count(),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def response_change(self, request, obj):
        # "保存并发布" submits the whole form: the admin has validated and saved it by now (errors
        # are shown beside their fields and nothing is published), so what is published is what was on screen.
        if "_publish" in request.POST:
            return redirect(self._publish_saved(request, obj, note=request.POST.get("publish_note", "")))
        return super().response_change(request, obj)

    def publish_view(self, request, object_id):
        return require_POST(self._publish)(request, object_id)

    def _publish(self, request, object_id):
        agent = self._editable(request, object_id)
        return redirect(self._publish_saved(request, agent, note=request.POST.get("note", "")))

    def _publish_saved(self, request, agent, *, note: str) -> str:
        """Publish through the test set's gate; the address to go to next (the test set's run, if one started)."""
        back = reverse("admin:agents_agent_change", args=[agent.pk])
        changes = draft_changes(agent=agent)
        try:
            outcome = agent_publish_gated(agent=agent, user=request.user, note=note[:200])
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.WARNING)
            return back
        if isinstance(outcome, EvalRun):
            self.message_user(
                request,
                gettext("正在运行测试集，通过后自动发布；通过率下降超过允许值时不发布。"),
                messages.INFO,
            )
            return reverse("admin:agents_evalrun_change", args=[outcome.pk])
        version = outcome
        first = agent.current_version_id is None
        what = gettext("首次发布") if first else "、".join(dict.fromkeys(c.label for c in changes))
        self.message_user(
            request,
            gettext("已发布版本 v%(n)s（%(what)s）。工作人员和 API 现在使用此版本。")
            % {"n": version.number, "what": what},
            messages.SUCCESS,
        )
        return back

    def models_view(self, request):
        """The model names to offer for a chat model service the user may choose (JSON)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        endpoint = get_object_or_404(
            ModelEndpoint.objects.restrict(request.user).filter(kind=ModelEndpoint.Kind.CHAT),
            pk=request.GET.get("endpoint") if (request.GET.get("endpoint") or "").isdigit() else 0,
        )
        choices = endpoint_model_choices(endpoint=endpoint)
        return JsonResponse({"names": choices.names, "note": choices.note})

    def playground_view(self, request, object_id):
        """Try the agent out: the draft (or the published version) runs through the one runtime."""
        from ..runtime.access import AgentNotAvailable
        from ..runtime.pipeline import QuotaExceeded, RunInputInvalid, run_execute

        agent = self._editable(request, object_id)
        draft = request.POST.get("target", "draft") != "published"
        variables = agent_snapshot(agent=agent)["template"]["variables"]
        values = {v["name"]: request.POST.get(f"var_{v['name']}", "") for v in variables}
        error = ""
        if request.method == "POST":
            try:
                run = run_execute(
                    principal=request.user,
                    agent=agent,
                    message=request.POST.get("message", ""),
                    form_values={k: v for k, v in values.items() if v.strip()} if variables else {},
                    via="playground",
                    draft=draft,
                )
            except AgentNotAvailable:
                error = gettext("此智能体还没有发布版本，请选择“草稿”试运行或先发布。")
            except (RunInputInvalid, QuotaExceeded) as exc:
                error = str(exc)
            else:
                return redirect(reverse("admin:agents_run_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": agent,
            "title": gettext("试运行：%(name)s") % {"name": agent.name},
            "variables": [{**v, "value": values.get(v["name"], "")} for v in variables],
            "message": request.POST.get("message", ""),
            "draft": draft,
            "error": error,
            "recent": agent.runs.filter(via="playground").order_by("-started_at")[:10],
        }
        return TemplateResponse(request, "admin/agents/agent/playground.html", context)

    def restore_view(self, request, object_id, number):
        return require_POST(self._restore)(request, object_id, number)

    def _restore(self, request, object_id, number):
        agent = self._editable(request, object_id)
        version = get_object_or_404(AgentVersion, agent=agent, number=number)
        restored = agent_version_restore(version=version, user=request.user)
        self.message_user(
            request,
            gettext("已恢复版本 v%(old)s，发布为 v%(new)s。") % {"old": number, "new": restored.number},
            messages.SUCCESS,
        )
        return redirect(reverse("admin:agents_agent_versions", args=[agent.pk]))

    def versions_view(self, request, object_id):
        agent = self.get_object(request, str(object_id))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": agent,
            "title": gettext("%(name)s 的版本") % {"name": agent.name},
            "versions": agent.versions.all(),
            "can_change": self.has_change_permission(request, agent),
        }
        return TemplateResponse(request, "admin/agents/agent/versions.html", context)

    def diff_view(self, request, object_id):
        agent = self.get_object(request, str(object_id))
        older = get_object_or_404(AgentVersion, agent=agent, number=request.GET.get("a") or 0)
        newer = get_object_or_404(AgentVersion, agent=agent, number=request.GET.get("b") or 0)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": agent,
            "older": older,
            "newer": newer,
            "title": gettext("版本对比：v%(a)s → v%(b)s") % {"a": older.number, "b": newer.number},
            "changes": version_diff(older=older, newer=newer),
        }
        return TemplateResponse(request, "admin/agents/agent/diff.html", context)
