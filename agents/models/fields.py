"""Model fields shared by the agent models."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedCharField


class SecretField(EncryptedCharField):
    """A secret (API key, header value) encrypted at rest; the audit log records only that it changed."""

    audit_secret = True

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("null", True)  # the library stores an empty secret as NULL
        super().__init__(*args, **kwargs)


def platform_or_department():
    """The department of a row that may instead be platform-wide (no department)."""
    return models.ForeignKey(
        "tenants.Department",
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text=_("留空表示全平台共享（仅平台管理员可设置）。"),
    )
