"""Test sets in the admin: cases (by hand, imported, from a run), running a set, its results beside the
version in use, and a blocked publish's override."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from tenants.admin import DepartmentScopedAdmin
from tenants.roles import Action

from ..batch.parsing import BatchInputInvalid, max_bytes
from ..evaluation.selectors import eval_comparison, eval_failures
from ..evaluation.services import (
    EvalRefused,
    agent_eval_configure,
    eval_case_from_run,
    eval_cases_import,
    eval_run_override,
    eval_run_start,
)
from ..models import Agent, EvalCase, EvalResult, EvalRun, ModelEndpoint, Run


class EvalImportForm(forms.Form):
    file = forms.FileField(
        label=_("文件"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt"}),
        help_text=_(
            "CSV 或 Excel（.xlsx）；第一行为列名：名称、问题、应引用、必须出现、不得出现、字段值、JSON Schema、"
            "格式检查（无错误/有错误）、参考答案；与智能体表单字段同名的列填入表单。多项用换行或“；”分隔。"
        ),
    )

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > max_bytes():
            raise forms.ValidationError(gettext("文件太大。"))
        return uploaded


class EvalSettingsForm(forms.Form):
    max_drop = forms.IntegerField(
        label=_("允许的通过率下降（百分点）"),
        min_value=0,
        max_value=100,
        help_text=_("发布前运行测试集，通过率比正在使用的版本下降超过此值时阻止发布。"),
    )
    judge_endpoint = forms.ModelChoiceField(
        label=_("评分模型服务"), queryset=ModelEndpoint.objects.none(), required=False
    )
    judge_model = forms.CharField(label=_("评分模型"), max_length=100, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["judge_endpoint"].queryset = ModelEndpoint.objects.restrict(user).filter(
            kind=ModelEndpoint.Kind.CHAT, is_active=True
        )


@admin.register(EvalCase)
class EvalCaseAdmin(DepartmentScopedAdmin):
    list_display = ["name", "agent", "checks", "is_active", "source", "updated_at"]
    list_filter = ["agent", "is_active"]
    search_fields = ["name", "message", "agent__name"]
    list_select_related = ["agent"]
    list_per_page = 50
    change_list_template = "admin/agents/evalcase/change_list.html"
    fields = [
        "agent",
        "name",
        "message",
        "form_values",
        "expected_sources",
        "must_include",
        "must_exclude",
        "expected_schema",
        "expected_fields",
        "format_verdict",
        "reference_answer",
        "is_active",
    ]

    @admin.display(description=_("检查项"))
    def checks(self, obj):
        labels = [
            label
            for label, on in (
                (gettext("引用"), obj.expected_sources),
                (gettext("必须出现"), obj.must_include),
                (gettext("不得出现"), obj.must_exclude),
                ("Schema", obj.expected_schema),
                (gettext("字段值"), obj.expected_fields),
                (gettext("格式"), obj.format_verdict),
                (gettext("评分"), obj.reference_answer),
            )
            if on
        ]
        return "、".join(labels) or "—"

    @admin.display(description=_("来源运行记录"))
    def source(self, obj):
        if not obj.source_run_id:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:agents_run_change", args=[obj.source_run_id]), obj.source_run_id
        )

    def changelist_view(self, request, extra_context=None):
        agents = Agent.objects.restrict(request.user, Action.MANAGE).filter(eval_cases__isnull=False).distinct()
        extra = {"eval_agents": agents.order_by("name")[:10]}
        return super().changelist_view(request, extra_context={**(extra_context or {}), **extra})

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if (request.GET.get("agent") or "").isdigit():
            initial["agent"] = int(request.GET["agent"])
        return initial

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("agent/<int:agent_id>/", view(self.agent_view), name="agents_evalcase_agent"),
            path("agent/<int:agent_id>/import/", view(self.import_view), name="agents_evalcase_import"),
            path("from-run/<int:run_id>/", view(require_POST(self.from_run_view)), name="agents_evalcase_from_run"),
            *super().get_urls(),
        ]

    def _agent(self, request, agent_id) -> Agent:
        agent = Agent.objects.restrict(request.user, Action.MANAGE).filter(pk=agent_id).first()
        if agent is None:
            raise Http404
        return agent

    def agent_view(self, request, agent_id):
        """An agent's test set: its cases, the gate's settings, its runs, and starting one."""
        agent = self._agent(request, agent_id)
        initial = {
            "max_drop": agent.eval_max_drop,
            "judge_endpoint": agent.eval_judge_endpoint_id,
            "judge_model": agent.eval_judge_model,
        }
        form = EvalSettingsForm(request.POST or None, initial=initial, user=request.user)
        if request.method == "POST" and "_settings" in request.POST and form.is_valid():
            data = form.cleaned_data
            try:
                agent_eval_configure(
                    agent=agent,
                    user=request.user,
                    max_drop=data["max_drop"],
                    judge_endpoint=data["judge_endpoint"],
                    judge_model=data["judge_model"].strip(),
                )
            except EvalRefused as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, gettext("测试集设置已保存。"), messages.SUCCESS)
                return redirect(reverse("admin:agents_evalcase_agent", args=[agent.pk]))
        if request.method == "POST" and "_run" in request.POST:
            version = None
            if request.POST.get("target") == "published":
                version = agent.current_version
                if version is None:
                    self.message_user(request, gettext("此智能体还没有发布版本。"), messages.ERROR)
                    return redirect(reverse("admin:agents_evalcase_agent", args=[agent.pk]))
            try:
                eval_run = eval_run_start(agent=agent, user=request.user, version=version)
            except EvalRefused as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return redirect(reverse("admin:agents_evalcase_agent", args=[agent.pk]))
            self.message_user(request, gettext("测试集已开始在后台运行。"), messages.SUCCESS)
            return redirect(reverse("admin:agents_evalrun_change", args=[eval_run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "agent": agent,
            "title": gettext("测试集：%(name)s") % {"name": agent.name},
            "cases": agent.eval_cases.order_by("pk"),
            "runs": agent.eval_runs.select_related("version").order_by("-created_at")[:20],
            "form": form,
        }
        return TemplateResponse(request, "admin/agents/evalcase/agent.html", context)

    def import_view(self, request, agent_id):
        agent = self._agent(request, agent_id)
        form = EvalImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                cases = eval_cases_import(agent=agent, data=form.cleaned_data["file"].read(), user=request.user)
            except BatchInputInvalid as exc:
                for problems in exc.fields.values():
                    for problem in problems:
                        form.add_error(None, problem)
            except EvalRefused as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, gettext("已导入 %(n)s 个用例。") % {"n": len(cases)}, messages.SUCCESS)
                return redirect(reverse("admin:agents_evalcase_agent", args=[agent.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "agent": agent,
            "form": form,
            "title": gettext("导入测试用例：%(name)s") % {"name": agent.name},
        }
        return TemplateResponse(request, "admin/agents/evalcase/import.html", context)

    def from_run_view(self, request, run_id):
        """One click on a trace or a review item: the run becomes a case of its agent."""
        run = Run.objects.restrict(request.user, Action.MANAGE).select_related("agent").filter(pk=run_id).first()
        if run is None:
            raise Http404
        try:
            case = eval_case_from_run(run=run, user=request.user)
        except EvalRefused as exc:
            raise Http404 from exc
        self.message_user(
            request,
            gettext("已加入“%(agent)s”的测试集，请补充检查项。") % {"agent": run.agent.name},
            messages.SUCCESS,
        )
        return redirect(reverse("admin:agents_evalcase_change", args=[case.pk]))


@admin.register(EvalRun)
class EvalRunAdmin(DepartmentScopedAdmin):
    list_display = ["__str__", "purpose", "status", "progress", "pass_rate_shown", "gate", "created_at"]
    list_filter = ["status", "purpose", "gate", "agent"]
    search_fields = ["agent__name"]
    list_select_related = ["agent", "version"]
    list_per_page = 50
    change_form_template = "admin/agents/evalrun/change_form.html"

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status in (EvalRun.Status.QUEUED, EvalRun.Status.RUNNING):
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=_("进度"))
    def progress(self, obj):
        return format_html('<progress value="{}" max="100">{}%</progress> {}%', obj.percent, obj.percent, obj.percent)

    @admin.display(description=_("通过率"))
    def pass_rate_shown(self, obj):
        return "—" if obj.pass_rate is None else f"{obj.pass_rate:g}%"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/progress/", view(self.progress_view), name="agents_evalrun_progress"),
            path("<int:object_id>/override/", view(require_POST(self.override_view)), name="agents_evalrun_override"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        eval_run = self.get_object(request, object_id)
        results = EvalResult.objects.filter(eval_run=eval_run).select_related("case").order_by("case_id")
        extra = {
            "eval_run": eval_run,
            "comparison": eval_comparison(eval_run=eval_run),
            "failures": eval_failures(eval_run=eval_run),
            "results": results,
            "may_override": eval_run.gate == EvalRun.Gate.BLOCKED and self._may(request, eval_run),
            "passed_label": pgettext("evaluation", "通过"),
            "failed_label": pgettext("evaluation", "未通过"),
        }
        return super().change_view(request, object_id, form_url, extra_context={**(extra_context or {}), **extra})

    def progress_view(self, request, object_id):
        eval_run = self.get_object(request, str(object_id))
        return JsonResponse(
            {"status": eval_run.status, "gate": eval_run.gate, "done": eval_run.done, "total": eval_run.total}
        )

    def override_view(self, request, object_id):
        eval_run = self.get_object(request, str(object_id))
        if not self._may(request, eval_run):
            raise PermissionDenied
        try:
            version = eval_run_override(eval_run=eval_run, user=request.user, reason=request.POST.get("reason", ""))
        except EvalRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("已说明理由并发布版本 v%(n)s。") % {"n": version.number},
                messages.SUCCESS,
            )
        return redirect(reverse("admin:agents_evalrun_change", args=[eval_run.pk]))
