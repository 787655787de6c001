"""Model endpoints: OpenAI-compatible servers the agents' models run on."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.scoping import SharedScopedQuerySet

from .fields import SecretField, platform_or_department


class ModelEndpoint(models.Model):
    """An OpenAI-compatible endpoint (DeepSeek, vLLM, Ollama, Qwen…). No department: shared by all."""

    class Kind(models.TextChoices):
        CHAT = "chat", _("对话模型")
        EMBEDDING = "embedding", _("向量模型")
        RERANK = "rerank", _("重排序模型")

    department = platform_or_department()
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.CHAT)
    base_url = models.CharField(
        _("接口地址"),
        max_length=300,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("OpenAI 兼容接口的地址，例如 http://10.0.0.8:8000/v1"),
    )
    api_key = SecretField(_("API 密钥"), max_length=500, blank=True)
    model_names = models.CharField(
        _("模型名称"), max_length=500, help_text=_("一个或多个，用逗号分隔，例如 deepseek-chat,deepseek-reasoner")
    )
    timeout_seconds = models.PositiveIntegerField(
        _("超时（秒）"), default=60, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )
    max_concurrency = models.PositiveIntegerField(
        _("最大并发调用数"), default=8, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    price_input_per_1k = models.DecimalField(_("输入单价（元/千 token）"), max_digits=10, decimal_places=6, default=0)
    price_output_per_1k = models.DecimalField(_("输出单价（元/千 token）"), max_digits=10, decimal_places=6, default=0)
    is_active = models.BooleanField(_("启用"), default=True)
    last_checked_at = models.DateTimeField(_("上次测试时间"), null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(_("上次测试结果"), null=True, editable=False)
    last_check_message = models.CharField(_("上次测试说明"), max_length=300, blank=True, editable=False)

    objects = SharedScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("模型服务")
        verbose_name_plural = _("模型服务")
        ordering = ["department__path", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        parts = urlsplit(self.base_url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError({"base_url": _("接口地址必须以 http:// 或 https:// 开头并包含主机名。")})
        if not self.models_list():
            raise ValidationError({"model_names": _("至少填写一个模型名称。")})

    def models_list(self) -> list[str]:
        return [m.strip() for m in (self.model_names or "").split(",") if m.strip()]
