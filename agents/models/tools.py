"""Tools agents may call: the built-in ones (platform-wide) and departments' HTTP tools."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.scoping import SharedScopedQuerySet

from .fields import SecretField, platform_or_department


class Tool(models.Model):
    """A tool. Built-in tools have no department and a ``builtin`` key; HTTP tools are configured here."""

    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"

    department = platform_or_department()
    builtin = models.CharField(_("内置工具"), max_length=40, blank=True, editable=False, db_index=True)
    name = models.CharField(_("名称"), max_length=100)
    function_name = models.SlugField(
        _("函数名"), max_length=64, help_text=_("模型调用时使用的名称：英文字母、数字、下划线或连字符。")
    )
    description = models.TextField(_("用途说明"), help_text=_("告诉模型何时、如何使用此工具。"))
    http_method = models.CharField(_("请求方法"), max_length=8, choices=Method.choices, default=Method.GET, blank=True)
    url_template = models.CharField(
        _("地址模板"),
        max_length=500,
        blank=True,
        help_text=_("例如 https://api.example.gov.cn/weather?city={city}；主机必须在出网白名单中。"),
    )
    parameters_schema = models.JSONField(_("参数（JSON Schema）"), default=dict, blank=True)
    secret_header_name = models.CharField(_("密钥请求头名称"), max_length=100, blank=True)
    secret_header_value = SecretField(_("密钥请求头的值"), max_length=1000, blank=True)
    timeout_seconds = models.PositiveIntegerField(_("超时（秒）"), default=15)
    is_active = models.BooleanField(_("启用"), default=True)
    # A tool of an MCP server: synced from the server's tool list, called through the MCP client.
    mcp_server = models.ForeignKey(
        "agents.McpServer",
        verbose_name=_("MCP 服务器"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.CASCADE,
        related_name="tools",
    )
    mcp_tool_name = models.CharField(_("MCP 工具名"), max_length=200, blank=True, editable=False)
    fixed_arguments = models.JSONField(
        _("固定参数"),
        default=dict,
        blank=True,
        help_text=_('每次调用都使用的参数值（JSON 对象，例如 {"region": "示范区"}）；模型看不到也不能更改这些参数。'),
    )

    objects = SharedScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("工具")
        verbose_name_plural = _("工具")
        ordering = ["department__path", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_http(self) -> bool:
        return not self.builtin and self.mcp_server_id is None

    @property
    def is_mcp(self) -> bool:
        return self.mcp_server_id is not None


class AllowedHost(models.Model):
    """A destination outbound calls may reach, by host name (``*.`` allows subdomains) or address range;
    managed by platform admins."""

    pattern = models.CharField(
        _("主机"),
        max_length=200,
        unique=True,
        help_text=_("主机名（api.example.gov.cn）、通配主机名（*.gov.cn）、IP 地址或地址段（10.20.0.0/16）。"),
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("出网白名单")
        verbose_name_plural = _("出网白名单")
        ordering = ["pattern"]

    def __str__(self) -> str:
        return self.pattern

    def clean(self) -> None:
        # Read the entry exactly as the egress guard will read it, and store it in its normal form.
        from django.core.exceptions import ValidationError

        from ..egress import pattern_parse

        try:
            self.pattern = pattern_parse(self.pattern or "").text
        except ValueError as exc:
            raise ValidationError({"pattern": str(exc)}) from None
