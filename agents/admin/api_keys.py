"""API keys and department quotas in the admin.

Department admins create keys for the systems that call their agents: the secret is shown once,
on the page that follows the save, and only its hash is kept. Keys are revoked, not deleted, so
the runs they made stay traceable to them. Quotas are set by platform admins.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.admin import DepartmentScopedAdmin
from tenants.api_keys import api_key_revoke, api_key_secret_assign
from tenants.models import ApiKey, DepartmentQuota
from tenants.origins import origin_normalize
from tenants.roles import Action
from tenants.scoping import ALL, department_ids

from ..models import Agent


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("权限范围"),
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("运行智能体：调用下面选中的智能体；管理知识库：上传文档、查看入库状态；读取用量：读取本部门用量。"),
    )
    cors_origins = forms.CharField(
        label=_("允许的浏览器来源"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=ApiKey._meta.get_field("cors_origins").help_text,
    )

    class Meta:
        model = ApiKey
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["cors_origins"] = "\n".join(self.instance.cors_origins or [])

    def clean_cors_origins(self) -> list[str]:
        origins, errors = [], []
        for line in self.cleaned_data.get("cors_origins", "").splitlines():
            if not line.strip():
                continue
            try:
                origin = origin_normalize(line)
            except forms.ValidationError as exc:
                errors.extend(exc.messages)
                continue
            if origin not in origins:
                origins.append(origin)
        if errors:
            raise forms.ValidationError(errors)
        return origins

    def clean(self):
        cleaned = super().clean()
        department = cleaned.get("department") or getattr(self.instance, "department", None)
        agents = cleaned.get("agents")
        if department is not None and agents:
            usable = Agent.objects.available_to([department.pk])
            outside = [a.name for a in agents if not usable.filter(pk=a.pk).exists()]
            if outside:
                self.add_error(
                    "agents",
                    _("这些智能体既不属于该部门，也未授权给该部门：%(names)s。") % {"names": "、".join(outside)},
                )
        if ApiKey.Scope.RUN in (cleaned.get("scopes") or []) and not agents:
            self.add_error("agents", _("选择了“运行智能体”权限时，至少选择一个智能体。"))
        return cleaned


@admin.register(ApiKey)
class ApiKeyAdmin(DepartmentScopedAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix_shown", "department", "scope_list", "state", "expires_at", "last_used_at"]
    list_filter = ["department"]
    search_fields = ["name", "prefix"]
    list_select_related = ["department", "created_by"]
    filter_horizontal = ["agents"]
    actions = ["revoke_selected"]
    readonly_fields = ["prefix_shown", "created_by", "created_at", "last_used_at", "revoked_at", "revoked_by"]
    fieldsets = [
        (None, {"fields": ["department", "name", "scopes", "agents", "expires_at", "cors_origins"]}),
        (
            _("限额（留空表示不限；部门和个人的配额另行生效）"),
            {"fields": ["requests_per_minute", "tokens_per_day", "tokens_per_month"]},
        ),
        (
            _("状态"),
            {"fields": ["prefix_shown", "created_by", "created_at", "last_used_at", "revoked_at", "revoked_by"]},
        ),
    ]

    @admin.display(description=_("密钥"), ordering="prefix")
    def prefix_shown(self, obj):
        return f"{obj.prefix}…" if obj and obj.prefix else "—"

    @admin.display(description=_("权限范围"))
    def scope_list(self, obj):
        labels = dict(ApiKey.Scope.choices)
        return "、".join(str(labels.get(s, s)) for s in obj.scopes or []) or "—"

    @admin.display(description=_("状态"))
    def state(self, obj):
        if obj.revoked_at:
            return _("已吊销")
        if obj.expires_at and obj.expires_at <= timezone.now():
            return _("已过期")
        if not obj.department.is_active or not obj.created_by.is_active:
            return _("已停用（部门或创建人已停用）")
        return _("有效")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("department")  # a key stays in the department it was made for
        return fields

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, not deleted: its runs stay traceable to it

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "agents":
            ids = department_ids(request.user, Action.MANAGE)
            agents = Agent.objects.filter(is_active=True).select_related("department")
            if ids is not ALL:
                # The department's own agents and those granted to it (an explicit cross-department grant).
                agents = agents.available_to(ids)
            kwargs["queryset"] = agents
            return admin.ModelAdmin.formfield_for_manytomany(self, db_field, request, **kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
            request._api_key_secret = api_key_secret_assign(key=obj)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_api_key_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        # Rendered, not redirected: the secret never goes into a message, session or log.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "key": obj,
            "secret": secret,
            "title": _("API 密钥已创建"),
            "change_url": reverse("admin:tenants_apikey_change", args=[obj.pk]),
        }
        response = TemplateResponse(request, "admin/tenants/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("吊销所选 API 密钥"))
    def revoke_selected(self, request, queryset):
        count = 0
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key, by=request.user)
            count += 1
        self.message_user(request, _("已吊销 %(count)d 个 API 密钥，它们立即停止工作。") % {"count": count})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST" and "_revoke" in request.POST:
            key = self.get_object(request, object_id)
            if not self.has_change_permission(request, key):
                return super().change_view(request, object_id, form_url, extra_context)
            api_key_revoke(key=key, by=request.user)
            self.message_user(request, _("API 密钥已吊销，立即停止工作。"), messages.SUCCESS)
            return HttpResponseRedirect(request.path)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(DepartmentQuota)
class DepartmentQuotaAdmin(DepartmentScopedAdmin):
    """Quotas are set by platform admins; a department admin sees their department's."""

    list_display = [
        "department",
        "requests_per_minute",
        "tokens_per_day",
        "tokens_per_month",
        "user_requests_per_minute",
        "user_tokens_per_day",
        "user_tokens_per_month",
    ]
    list_select_related = ["department"]
    search_fields = ["department__name"]
    fieldsets = [
        (None, {"fields": ["department"]}),
        (_("部门合计"), {"fields": ["requests_per_minute", "tokens_per_day", "tokens_per_month"]}),
        (_("每位成员"), {"fields": ["user_requests_per_minute", "user_tokens_per_day", "user_tokens_per_month"]}),
    ]

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
