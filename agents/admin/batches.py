"""Batch jobs in the admin: upload a file for an agent, follow progress, pause, resume, cancel, download results."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from tenants.admin import DepartmentScopedAdmin
from tenants.roles import Action
from tenants.scoping import ALL, department_ids
from tenants.selectors import user_label

from ..batch.parsing import BatchInputInvalid, max_bytes
from ..batch.results import FORMATS, output_fields, results_response
from ..batch.services import (
    BatchStateInvalid,
    agent_form_fields,
    batch_job_cancel,
    batch_job_create,
    batch_job_pause,
    batch_job_resume,
)
from ..models import Agent, BatchJob, BatchRow
from ..runtime.access import AgentNotAvailable

FAILED_ROWS_SHOWN = 20


def batch_agents(*, user):
    """The published agents ``user`` may run a batch of for a department they manage."""
    agents = Agent.objects.usable_by(user).select_related("department", "current_version")
    managed = department_ids(user, Action.MANAGE)
    if managed is not ALL:
        agents = agents.available_to(managed)
    return agents.order_by("department__path", "name")


class BatchUploadForm(forms.Form):
    agent = forms.ModelChoiceField(label=_("智能体"), queryset=Agent.objects.none())
    file = forms.FileField(
        label=_("文件"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt"}),
        help_text=_("CSV（UTF-8 或 GBK）或 Excel（.xlsx，读取第一个工作表）；第一行为列名，每一行运行一次智能体。"),
    )
    message_column = forms.CharField(
        label=_("问题所在的列"), required=False, max_length=200, help_text=_("填写文件中的列名，例如“来电内容”。")
    )
    form_columns = forms.CharField(
        label=_("表单字段对应的列"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("智能体有表单字段时填写，每行一个：字段名=列名，例如 ticket=来电内容。必填字段都要对应到列。"),
    )
    name = forms.CharField(label=_("任务名称"), required=False, max_length=200)

    def __init__(self, *args, agents, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agents

    def clean_form_columns(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for line in (self.cleaned_data.get("form_columns") or "").splitlines():
            if not line.strip():
                continue
            field, sep, column = line.replace("＝", "=").partition("=")
            if not sep or not field.strip() or not column.strip():
                raise forms.ValidationError(
                    gettext("“%(line)s”的格式不对，应为“字段名=列名”。") % {"line": line.strip()}
                )
            mapping[field.strip()] = column.strip()
        return mapping

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > max_bytes():
            raise forms.ValidationError(gettext("文件太大：最大 %(mb)s MB。") % {"mb": settings.SHUZHI_BATCH_MAX_MB})
        return uploaded


@admin.register(BatchJob)
class BatchJobAdmin(DepartmentScopedAdmin):
    list_display = ["__str__", "agent", "status", "progress", "counts", "submitter", "created_at"]
    list_filter = ["status", "department"]
    search_fields = ["name", "file_name", "agent__name"]
    list_select_related = ["agent", "api_key", "created_by"]
    list_per_page = 50
    actions = ["pause_selected", "resume_selected", "cancel_selected"]
    change_form_template = "admin/agents/batchjob/change_form.html"
    change_list_template = "admin/agents/batchjob/change_list.html"

    # Jobs are made by uploading a file and then only steered: no add or change form.
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # A job still queued or running is cancelled first.
        if obj is not None and obj.status in (BatchJob.Status.QUEUED, BatchJob.Status.RUNNING):
            return False
        return super().has_delete_permission(request, obj)

    def may_upload(self, request) -> bool:
        return self._may(request)

    def may_steer(self, request, job) -> bool:
        return self._may(request, job)

    @admin.display(description=_("进度"))
    def progress(self, obj):
        return format_html(
            '<progress value="{}" max="100" title="{}%">{}%</progress> {}%',
            obj.percent,
            obj.percent,
            obj.percent,
            obj.percent,
        )

    @admin.display(description=_("完成 / 失败 / 总数"))
    def counts(self, obj):
        return f"{obj.done} / {obj.failed} / {obj.total}"

    @admin.display(description=_("提交方"))
    def submitter(self, obj):
        if obj.api_key_id:
            return gettext("API 密钥：%(name)s") % {"name": obj.api_key.name}
        if obj.created_by_id:
            return obj.created_by.get_full_name() or obj.created_by.get_username()
        return "—"

    def changelist_view(self, request, extra_context=None):
        extra = {"may_upload": self.may_upload(request)}
        return super().changelist_view(request, extra_context={**(extra_context or {}), **extra})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        failed_rows = BatchRow.objects.filter(job=job, status=BatchRow.Status.FAILED).order_by("number")
        extra = {
            "job": job,
            "may_steer": self.may_steer(request, job),
            "failed_rows": failed_rows[:FAILED_ROWS_SHOWN],
            "more_failed": max(0, job.failed - FAILED_ROWS_SHOWN),
            "pending": BatchRow.objects.filter(job=job, status=BatchRow.Status.PENDING).count(),
            "running": BatchRow.objects.filter(job=job, status=BatchRow.Status.RUNNING).count(),
            "output_fields": output_fields(job=job),
            "submitter": self.submitter(job),
            "formats": FORMATS,
            "created_by_label": user_label(user_id=job.created_by_id) if job.created_by_id else "",
        }
        return super().change_view(request, object_id, form_url, extra_context={**(extra_context or {}), **extra})

    # ------------------------------------------------------------------ own pages

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="agents_batchjob_upload"),
            path("<int:object_id>/results.<str:fmt>", view(self.results_view), name="agents_batchjob_results"),
            *[
                path(
                    f"<int:object_id>/{action}/",
                    view(require_POST(self.steer_view)),
                    {"action": action},
                    name=f"agents_batchjob_{action}",
                )
                for action in self.STEER
            ],
            *super().get_urls(),
        ]

    def upload_view(self, request):
        if not self.may_upload(request):
            raise PermissionDenied
        agents = batch_agents(user=request.user)
        form = BatchUploadForm(request.POST or None, request.FILES or None, agents=agents)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                job = batch_job_create(
                    principal=request.user,
                    agent=data["agent"],
                    file_name=data["file"].name,
                    data=data["file"].read(),
                    message_column=data["message_column"],
                    form_columns=data["form_columns"],
                    name=data["name"],
                )
            except AgentNotAvailable as exc:
                form.add_error("agent", str(exc))
            except BatchInputInvalid as exc:
                for name, problems in exc.fields.items():
                    for problem in problems:
                        form.add_error(name if name in form.fields else None, problem)
            else:
                self.message_user(
                    request,
                    gettext("已提交 %(n)s 行，正在后台处理。") % {"n": job.total},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:agents_batchjob_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "title": gettext("上传批量任务"),
            "agents": [(agent, agent_form_fields(agent=agent)) for agent in agents],
            "limit_mb": settings.SHUZHI_BATCH_MAX_MB,
            "max_rows": settings.SHUZHI_BATCH_MAX_ROWS,
        }
        return TemplateResponse(request, "admin/agents/batchjob/upload.html", context)

    def results_view(self, request, object_id, fmt):
        job = self.get_object(request, str(object_id))
        if fmt not in FORMATS:
            raise Http404
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return results_response(job=job, viewer=request.user, fmt=fmt)

    STEER = {"pause": batch_job_pause, "resume": batch_job_resume, "cancel": batch_job_cancel}
    STEERED = {
        "pause": _("任务已暂停。"),
        "resume": _("任务已重新排队，将从尚未处理的行继续。"),
        "cancel": _("任务已取消。"),
    }

    def steer_view(self, request, object_id, action):
        job = self.get_object(request, str(object_id))
        change = self.STEER.get(action)
        if change is None:
            raise Http404
        if not self.may_steer(request, job):
            raise PermissionDenied
        try:
            change(job=job)
        except BatchStateInvalid as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, self.STEERED[action], messages.SUCCESS)
        return redirect(reverse("admin:agents_batchjob_change", args=[job.pk]))

    # ------------------------------------------------------------------ list actions

    def _steer_selected(self, request, queryset, action: str) -> None:
        changed = 0
        for job in queryset:
            try:
                self.STEER[action](job=job)
                changed += 1
            except BatchStateInvalid:
                continue
        self.message_user(request, gettext("已处理 %(n)s 个任务。") % {"n": changed}, messages.SUCCESS)

    @admin.action(description=_("暂停所选任务"))
    def pause_selected(self, request, queryset):
        self._steer_selected(request, queryset, "pause")

    @admin.action(description=_("继续所选任务"))
    def resume_selected(self, request, queryset):
        self._steer_selected(request, queryset, "resume")

    @admin.action(description=_("取消所选任务"))
    def cancel_selected(self, request, queryset):
        self._steer_selected(request, queryset, "cancel")
