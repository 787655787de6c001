"""Admin pages for what agents are built from: model endpoints, templates, tools, word lists, knowledge."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.admin import DepartmentScopedAdmin

from ..builder.schemas import schema_problems, value_problems
from ..egress import EgressError, check_url
from ..llm.gateway import endpoint_test_connection
from ..models import AllowedHost, ModelEndpoint, PromptTemplate, PromptVariable, SensitiveWordList, Tool
from ..prompts.templates import check_template, example_values, placeholders, render


class SecretInput(forms.PasswordInput):
    """Write-only: a saved secret is never sent back to the browser."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False)


class KeepSecretMixin:
    """A blank secret field on an existing object keeps the stored secret."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            field = self.fields.get(name)
            if field is None:
                continue
            field.widget = SecretInput()
            field.required = False
            if self.instance.pk and getattr(self.instance, name):
                field.help_text = _("已设置（不再显示）。留空表示不修改，填写新值将替换。")

    def clean(self):
        cleaned = super().clean()
        for name in self.secret_fields:
            if name in cleaned and not cleaned[name] and self.instance.pk:
                cleaned[name] = getattr(type(self.instance).objects.get(pk=self.instance.pk), name)
        return cleaned


class EndpointForm(KeepSecretMixin, forms.ModelForm):
    secret_fields = ("api_key",)

    class Meta:
        model = ModelEndpoint
        fields = "__all__"


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(DepartmentScopedAdmin):
    form = EndpointForm
    list_display = ["name", "department", "kind", "base_url", "model_names", "is_active", "check_status"]
    list_filter = ["kind", "is_active", "department"]
    search_fields = ["name", "base_url", "model_names"]
    actions = ["test_connection"]
    fields = [
        "department",
        "name",
        "kind",
        "base_url",
        "api_key",
        "model_names",
        "timeout_seconds",
        "max_concurrency",
        "price_input_per_1k",
        "price_output_per_1k",
        "is_active",
        "check_status",
    ]
    readonly_fields = ["check_status"]

    @admin.display(description=_("连接测试"))
    def check_status(self, obj):
        if obj.last_checked_at is None:
            return _("未测试")
        return f"{'✅' if obj.last_check_ok else '❌'} {obj.last_check_message}"

    @admin.action(description=_("测试连接"))
    def test_connection(self, request, queryset):
        for endpoint in queryset:
            result = endpoint_test_connection(endpoint=endpoint)
            ModelEndpoint.objects.filter(pk=endpoint.pk).update(
                last_checked_at=timezone.now(), last_check_ok=result.ok, last_check_message=result.message[:300]
            )
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, f"{endpoint.name}：{result.message}", level)


class VariableFormSet(BaseInlineFormSet):
    """Checks the template body against the variables being saved with it."""

    def clean(self):
        super().clean()
        variables = [
            {
                **f.cleaned_data,
                "choices": [c.strip() for c in (f.cleaned_data.get("choices") or "").splitlines() if c.strip()],
            }
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        problems = check_template(self.instance.body, variables)
        if problems:
            raise ValidationError(problems)


class VariableInline(admin.TabularInline):
    model = PromptVariable
    formset = VariableFormSet
    extra = 0
    fields = ["position", "name", "label", "type", "required", "choices", "help", "example"]

    def _may(self, request, obj=None):
        return True  # the parent template's admin has decided already

    has_view_permission = has_add_permission = has_change_permission = has_delete_permission = _may


@admin.register(PromptTemplate)
class PromptTemplateAdmin(DepartmentScopedAdmin):
    inlines = [VariableInline]
    list_display = ["name", "department", "variable_names", "updated_at"]
    list_filter = ["department"]
    search_fields = ["name", "description", "body"]
    fields = ["department", "name", "description", "body", "preview"]
    readonly_fields = ["preview"]

    @admin.display(description=_("变量"))
    def variable_names(self, obj):
        return "、".join(placeholders(obj.body))

    @admin.display(description=_("预览（示例值）"))
    def preview(self, obj):
        if obj.pk is None:
            return _("保存后显示预览。")
        variables = obj.variable_dicts()
        try:
            text = render(obj.body, variables, example_values(variables))
        except ValueError as exc:
            return format_html('<span class="errornote">{}</span>', str(exc))
        return format_html('<pre class="shuzhi-preview">{}</pre>', text)


class ToolForm(KeepSecretMixin, forms.ModelForm):
    secret_fields = ("secret_header_value",)

    class Meta:
        model = Tool
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if self.instance.builtin:
            return cleaned
        if self.instance.mcp_server_id is not None:
            return self._clean_fixed(cleaned)
        url = cleaned.get("url_template") or ""
        if not url:
            self.add_error("url_template", gettext("HTTP 工具需要填写地址模板。"))
            return cleaned
        if not cleaned.get("http_method"):
            self.add_error("http_method", gettext("请选择请求方法。"))
        schema = cleaned.get("parameters_schema") or {"type": "object", "properties": {}}
        problems = schema_problems(schema)
        if problems:
            self.add_error("parameters_schema", problems)
            return cleaned
        authority = urlsplit(url).netloc
        if "{" in authority or "}" in authority:
            self.add_error("url_template", gettext("占位符只能出现在路径或查询参数中，主机和端口必须固定。"))
            return cleaned
        try:
            check_url(url.replace("{", "").replace("}", ""), purpose="tool")
        except EgressError as exc:
            self.add_error("url_template", str(exc))
        fields_in_url = {p.strip() for p in _braces(url)}
        unknown = fields_in_url - set(schema.get("properties", {}))
        if unknown:
            self.add_error(
                "url_template",
                gettext("地址模板中的 {%(names)s} 没有在参数中定义。") % {"names": "}、{".join(sorted(unknown))},
            )
        if cleaned.get("secret_header_value") and not cleaned.get("secret_header_name"):
            self.add_error("secret_header_name", gettext("填写了密钥值时需要填写请求头名称。"))
        return self._clean_fixed(cleaned)

    def _clean_fixed(self, cleaned):
        """Fixed arguments must be arguments the tool takes, with values its schema accepts."""
        fixed = cleaned.get("fixed_arguments")
        if not fixed:
            cleaned["fixed_arguments"] = {}
            return cleaned
        if not isinstance(fixed, dict):
            self.add_error("fixed_arguments", gettext('固定参数须为 JSON 对象，例如 {"region": "示范区"}。'))
            return cleaned
        schema = cleaned.get("parameters_schema") or self.instance.parameters_schema or {}
        properties = schema.get("properties") or {}
        unknown = sorted(set(fixed) - set(properties))
        if unknown:
            self.add_error("fixed_arguments", gettext("工具没有这些参数：%(names)s。") % {"names": "、".join(unknown)})
            return cleaned
        problems = [
            f"{name}：{problem}" for name, value in fixed.items() for problem in value_problems(properties[name], value)
        ]
        if problems:
            self.add_error("fixed_arguments", problems)
        return cleaned


def _braces(text: str) -> list[str]:
    import re

    return re.findall(r"\{([^{}]+)\}", text)


@admin.register(Tool)
class ToolAdmin(DepartmentScopedAdmin):
    form = ToolForm
    list_display = ["name", "department", "function_name", "kind_label", "is_active"]
    list_filter = ["is_active", "department"]
    search_fields = ["name", "function_name", "description"]
    fields = [
        "department",
        "name",
        "function_name",
        "description",
        "http_method",
        "url_template",
        "parameters_schema",
        "secret_header_name",
        "secret_header_value",
        "timeout_seconds",
        "fixed_arguments",
        "is_active",
    ]
    mcp_fields = ["department", "mcp_server", "name", "function_name", "description", "parameters_schema"]

    @admin.display(description=_("类型"))
    def kind_label(self, obj):
        return _("内置") if obj.builtin else "MCP" if obj.mcp_server_id else "HTTP"

    def get_fields(self, request, obj=None):
        if obj is not None and obj.mcp_server_id:
            # Synced from the server: what the admin decides is which arguments are fixed, and on/off.
            return [*self.mcp_fields, "fixed_arguments", "is_active"]
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.builtin:
            return self.fields
        if obj is not None and obj.mcp_server_id:
            return self.mcp_fields
        return super().get_readonly_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.builtin:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(SensitiveWordList)
class SensitiveWordListAdmin(DepartmentScopedAdmin):
    list_display = ["name", "department", "action"]
    list_filter = ["action", "department"]
    search_fields = ["name", "words"]


@admin.register(AllowedHost)
class AllowedHostAdmin(admin.ModelAdmin):
    """The egress allow-list: platform admins only."""

    list_display = ["pattern", "note"]
    search_fields = ["pattern", "note"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    has_view_permission = has_add_permission = has_change_permission = has_delete_permission = (
        lambda self, request, obj=None: request.user.is_superuser
    )
