"""MCP servers an admin registered: their tools become tools agents can be given."""

from __future__ import annotations

import shlex

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.scoping import SharedScopedQuerySet

from .fields import SecretField, platform_or_department


class McpServer(models.Model):
    """An MCP server reached over streamable HTTP (its URL passes the egress guard) or, for platform admins
    only, started as a local command speaking MCP on stdio. ``McpServer`` rows without a department are
    platform-wide; a department's server and the tools synced from it belong to that department."""

    class Transport(models.TextChoices):
        HTTP = "http", _("可流式 HTTP（Streamable HTTP）")
        STDIO = "stdio", _("本地命令（stdio，仅平台管理员）")

    department = platform_or_department()
    name = models.CharField(_("名称"), max_length=100)
    transport = models.CharField(_("连接方式"), max_length=10, choices=Transport.choices, default=Transport.HTTP)
    url = models.CharField(
        _("地址"),
        max_length=500,
        blank=True,
        help_text=_("例如 https://mcp.example.gov.cn/mcp；主机必须在出网白名单中。"),
    )
    command = models.CharField(
        _("启动命令"),
        max_length=1000,
        blank=True,
        help_text=_("仅 stdio：在平台服务器上启动 MCP 服务器的命令行，例如 /opt/mcp/bin/policy-server --readonly。"),
    )
    auth_header_name = models.CharField(_("认证请求头名称"), max_length=100, blank=True, default="Authorization")
    auth_header_value = SecretField(
        _("认证请求头的值"), max_length=1000, blank=True, help_text=_("例如 Bearer xxx；加密保存，不再显示。")
    )
    timeout_seconds = models.PositiveIntegerField(_("超时（秒）"), default=30)
    is_active = models.BooleanField(_("启用"), default=True)
    synced_at = models.DateTimeField(_("上次同步工具"), null=True, blank=True, editable=False)
    sync_message = models.CharField(_("同步结果"), max_length=300, blank=True, editable=False)

    objects = SharedScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("MCP 服务器")
        verbose_name_plural = _("MCP 服务器")
        ordering = ["department__path", "name"]

    def __str__(self) -> str:
        return self.name

    def argv(self) -> list[str]:
        return shlex.split(self.command or "")

    def clean(self) -> None:
        if self.transport == self.Transport.STDIO:
            if self.department_id is not None:
                raise ValidationError(
                    {"transport": gettext("本地命令（stdio）只能由平台管理员注册为全平台共享的服务器。")}
                )
            try:
                argv = self.argv()
            except ValueError as exc:
                raise ValidationError({"command": gettext("命令行无法解析：%(reason)s") % {"reason": exc}}) from None
            if not argv:
                raise ValidationError({"command": gettext("stdio 方式需要填写启动命令。")})
        elif not (self.url or "").startswith(("http://", "https://")):
            raise ValidationError({"url": gettext("请填写以 http:// 或 https:// 开头的地址。")})
        if self.auth_header_value and not self.auth_header_name:
            raise ValidationError({"auth_header_name": gettext("填写了认证值时需要填写请求头名称。")})
