"""The scenario catalog: browse, search, filter, and clone a scenario into a department."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from tenants.admin_site import may_enter_admin
from tenants.models import Department
from tenants.roles import Action

from ..builder.services import scenario_clone
from ..models import Agent, Scenario


class CloneForm(forms.Form):
    department = forms.ModelChoiceField(label=_("克隆到部门"), queryset=Department.objects.none(), empty_label=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.restrict(user, Action.MANAGE).filter(is_active=True)


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ["icon_name", "area", "minutes_saved", "summary"]
    list_filter = ["area"]
    search_fields = ["name", "description", "key"]
    list_per_page = 50
    show_full_result_count = False  # one COUNT less on filtered pages with thousands of rows
    fields = ["icon", "name", "area", "description", "minutes_saved", "prompt", "variables", "examples", "extras"]
    readonly_fields = fields
    change_form_template = "admin/agents/scenario/change_form.html"

    @admin.display(description=_("场景"), ordering="name")
    def icon_name(self, obj):
        return f"{obj.icon} {obj.name}"

    @admin.display(description=_("简介"))
    def summary(self, obj):
        return obj.description[:60]

    @admin.display(description=_("提示词模板"))
    def prompt(self, obj):
        return format_html('<pre class="shuzhi-preview">{}</pre>', obj.definition.get("system_prompt", "").strip())

    @admin.display(description=_("表单变量"))
    def variables(self, obj):
        return "；".join(f"{v['label']}（{v['name']}）" for v in obj.definition.get("variables", []))

    @admin.display(description=_("示例输入"))
    def examples(self, obj):
        return "；".join(e.get("title", "") for e in obj.definition.get("examples", []))

    @admin.display(description=_("建议工具与护栏"))
    def extras(self, obj):
        d = obj.definition
        flags = [
            gettext("人工审核") if d.get("requires_review") else "",
            gettext("个人信息脱敏") if d.get("mask_personal_data", True) else "",
        ]
        return "、".join([*d.get("tools", []), *[f for f in flags if f]])

    def has_module_permission(self, request):
        return may_enter_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return may_enter_admin(request.user)

    def has_add_permission(self, request):
        return False  # the catalog comes from files in the repository

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        scenario = self.get_object(request, object_id)
        existing = (
            Agent.objects.restrict(request.user).filter(scenario_key=scenario.key).select_related("department")
            if scenario
            else Agent.objects.none()
        )
        extra_context = {
            **(extra_context or {}),
            "clone_form": CloneForm(user=request.user),
            "existing_clones": list(existing[:5]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/clone/",
                self.admin_site.admin_view(require_POST(self.clone_view)),
                name="agents_scenario_clone",
            ),
            *super().get_urls(),
        ]

    def clone_view(self, request, object_id):
        scenario = self.get_object(request, str(object_id))
        if scenario is None or not may_enter_admin(request.user):
            raise PermissionDenied
        form = CloneForm(request.POST, user=request.user)
        if not form.is_valid():
            self.message_user(request, gettext("请选择你管理的部门。"), messages.ERROR)
            return redirect(reverse("admin:agents_scenario_change", args=[scenario.pk]))
        department = form.cleaned_data["department"]
        try:
            agent = scenario_clone(
                scenario=scenario,
                department=department,
                user=request.user,
                allow_duplicate=request.POST.get("duplicate") == "1",
            )
        except ValidationError:
            existing = Agent.objects.restrict(request.user).filter(department=department, scenario_key=scenario.key)
            first = existing.first()
            self.message_user(
                request,
                format_html(
                    gettext(
                        '未克隆：{department}已有从此场景克隆的智能体<a href="{url}">“{name}”</a>，可以打开它继续修改。'
                    ),
                    department=department.name,
                    url=reverse("admin:agents_agent_change", args=[first.pk]),
                    name=first.name,
                ),
                messages.WARNING,
            )
            return redirect(reverse("admin:agents_scenario_change", args=[scenario.pk]))
        self.message_user(
            request,
            gettext(
                "已克隆为草稿智能体“%(name)s”。请按页面上的发布前检查补齐模型、知识库和使用范围，再点击“保存并发布”。"
            )
            % {"name": agent.name},
            messages.SUCCESS,
        )
        return redirect(reverse("admin:agents_agent_change", args=[agent.pk]))
