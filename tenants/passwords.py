"""The password policy: length, character classes, no reuse of the last passwords, expiry, first-login change.

Each part is a setting (see config/settings.py, ``SHUZHI_PASSWORD_*``). The validators run wherever
Django validates a password (the change page, the admin's forms, ``changepassword``).
"""

from __future__ import annotations

import string
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

CLASSES = {
    "lower": set(string.ascii_lowercase),
    "upper": set(string.ascii_uppercase),
    "digit": set(string.digits),
}


def _classes_in(password: str) -> int:
    found = {name for name, chars in CLASSES.items() if set(password) & chars}
    if any(not c.isalnum() for c in password):
        found.add("symbol")
    return len(found)


class CharacterClassesValidator:
    """At least ``min_classes`` of: lower-case letters, capitals, digits, other characters."""

    def __init__(self, min_classes: int | None = None):
        self.min_classes = min_classes

    def _needed(self) -> int:
        return self.min_classes if self.min_classes is not None else settings.SHUZHI_PASSWORD_CLASSES

    def validate(self, password, user=None):
        needed = self._needed()
        if _classes_in(password) < needed:
            raise ValidationError(
                _("密码至少要包含以下 %(count)d 类字符：小写字母、大写字母、数字、其他符号。") % {"count": needed},
                code="password_too_few_classes",
            )

    def get_help_text(self):
        return _("至少包含以下 %(count)d 类字符：小写字母、大写字母、数字、其他符号。") % {"count": self._needed()}


class PasswordHistoryValidator:
    """Not one of the person's last ``SHUZHI_PASSWORD_HISTORY`` passwords (their current one included)."""

    def validate(self, password, user=None):
        count = settings.SHUZHI_PASSWORD_HISTORY
        if user is None or user.pk is None or count <= 0:
            return
        from .models import PasswordHistory

        hashes = PasswordHistory.objects.filter(user=user).values_list("password", flat=True)[:count]
        if any(check_password(password, h) for h in [user.password, *hashes] if h):
            raise ValidationError(
                ngettext(
                    "不能使用最近 %(count)d 次用过的密码。",
                    "不能使用最近 %(count)d 次用过的密码。",
                    count,
                )
                % {"count": count},
                code="password_reused",
            )

    def get_help_text(self):
        count = settings.SHUZHI_PASSWORD_HISTORY
        return _("不能与最近 %(count)d 次用过的密码相同。") % {"count": count} if count > 0 else ""


def password_expires_at(*, user):
    days = settings.SHUZHI_PASSWORD_MAX_DAYS
    if days <= 0 or not user.has_usable_password():
        return None
    return user.password_changed_at + timedelta(days=days)


def password_change_reason(*, user) -> str:
    """Why the user must change their password before going on ("" if they need not)."""
    if settings.SHUZHI_PASSWORD_CHANGE_FIRST_LOGIN and user.must_change_password:
        return _("这是管理员为您设置的密码，请先修改为只有您自己知道的密码。")
    expires = password_expires_at(user=user)
    if expires is not None and expires <= timezone.now():
        return _("您的密码已超过 %(days)d 天未修改，请先修改密码。") % {"days": settings.SHUZHI_PASSWORD_MAX_DAYS}
    return ""


def password_expiry_notice(*, user) -> str:
    """A reminder in the last days before the password expires ("" otherwise)."""
    expires = password_expires_at(user=user)
    if expires is None:
        return ""
    left = (expires - timezone.now()).days
    if 0 <= left < settings.SHUZHI_PASSWORD_WARN_DAYS:
        return ngettext(
            "您的密码将在 %(days)d 天内过期，请及时修改。", "您的密码将在 %(days)d 天内过期，请及时修改。", left + 1
        ) % {"days": left + 1}
    return ""


def password_set_by_admin(*, user, by) -> None:
    """An admin set ``user``'s password: the person changes it at their next sign-in (not when it is their own)."""
    if by is not None and by.pk != user.pk and not user.must_change_password:
        type(user).objects.filter(pk=user.pk).update(must_change_password=True)
        user.must_change_password = True
