"""Admin page for MCP servers: register one, sync its tools (which then appear among the tools)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.admin import DepartmentScopedAdmin

from ..egress import EgressError, check_url
from ..mcp.services import mcp_server_sync
from ..models import McpServer
from .resources import KeepSecretMixin


class McpServerForm(KeepSecretMixin, forms.ModelForm):
    secret_fields = ("auth_header_value",)

    class Meta:
        model = McpServer
        fields = "__all__"

    def __init__(self, *args, platform_admin: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.platform_admin = platform_admin

    def clean(self):
        cleaned = super().clean()
        transport = cleaned.get("transport")
        if transport == McpServer.Transport.STDIO:
            if not self.platform_admin:
                self.add_error("transport", gettext("只有平台管理员可以注册本地命令（stdio）方式的 MCP 服务器。"))
            return cleaned
        if not self.platform_admin and cleaned.get("command"):
            cleaned["command"] = self.instance.command if self.instance.pk else ""
        url = cleaned.get("url") or ""
        if url:
            try:
                check_url(url, purpose="tool")
            except EgressError as exc:
                self.add_error("url", str(exc))
        return cleaned


@admin.register(McpServer)
class McpServerAdmin(DepartmentScopedAdmin):
    form = McpServerForm
    list_display = ["name", "department", "transport", "address", "is_active", "sync_status"]
    list_filter = ["transport", "is_active", "department"]
    search_fields = ["name", "url"]
    actions = ["sync_tools"]
    readonly_fields = ["sync_status", "tool_links"]

    def get_fields(self, request, obj=None):
        fields = ["department", "name", "transport", "url", "auth_header_name", "auth_header_value"]
        if request.user.is_superuser:
            fields.append("command")
        fields += ["timeout_seconds", "is_active", "sync_status", "tool_links"]
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        platform_admin = request.user.is_superuser

        class Form(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, platform_admin=platform_admin, **kw)

        return Form

    @admin.display(description=_("地址或命令"))
    def address(self, obj):
        return obj.command if obj.transport == McpServer.Transport.STDIO else obj.url

    @admin.display(description=_("工具同步"))
    def sync_status(self, obj):
        if obj.synced_at is None:
            return gettext("未同步：请在列表中选中它并执行“同步工具”。")
        return obj.sync_message

    @admin.display(description=_("工具"))
    def tool_links(self, obj):
        tools = list(obj.tools.order_by("name")) if obj.pk else []
        if not tools:
            return "—"
        return format_html_join(
            format_html("<br>"),
            '<a href="{}">{}</a>{}',
            (
                (
                    reverse("admin:agents_tool_change", args=[t.pk]),
                    t.name,
                    "" if t.is_active else gettext("（已停用）"),
                )
                for t in tools
            ),
        )

    @admin.action(description=_("同步工具"))
    def sync_tools(self, request, queryset):
        for server in queryset:
            ok, message = mcp_server_sync(server=server)
            self.message_user(request, f"{server.name}：{message}", messages.SUCCESS if ok else messages.ERROR)
