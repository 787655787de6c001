"""What happens around signing in and out: the record of each sign-in, the audit log, one session per person.

Connected to Django's auth signals when the tenants app is ready, so every way in (the login page,
the admin's login page) is covered.
"""

from __future__ import annotations

import time
from importlib import import_module

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from . import audit

SIGNED_IN_AT = "shuzhi_signed_in_at"  # session keys: when the session began, when it was last used
SEEN_AT = "shuzhi_seen_at"


def client_address(request) -> str | None:
    """The client's address as the ASGI server saw it (behind a proxy, from its forwarded headers)."""
    return (request.META.get("REMOTE_ADDR") or None) if request is not None else None


def _signed_in(sender, request, user, **kwargs):
    from .models import AuditEntry, SignIn
    from .passwords import password_expiry_notice

    if request is None or not hasattr(request, "session"):
        return
    now = time.time()
    request.session[SIGNED_IN_AT] = now
    request.session[SEEN_AT] = now
    if request.session.session_key is None:
        request.session.save()
    previous = SignIn.objects.filter(user=user).first()
    record = SignIn.objects.create(
        user=user,
        address=client_address(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        session_key=request.session.session_key or "",
    )
    audit.event(kind=AuditEntry.Kind.SIGN_IN, user=user, details={"address": record.address})
    if settings.SHUZHI_SINGLE_SESSION:
        _end_other_sessions(user=user, keep=record)
    _tell(request, _last_sign_in_text(user=user, previous=previous))
    _tell(request, password_expiry_notice(user=user))


def _tell(request, text: str) -> None:
    if text:
        # The test client's force_login() has no message storage: nothing to tell there.
        messages.info(request, text, fail_silently=True)


def _last_sign_in_text(*, user, previous) -> str:
    from .models import AuditEntry

    if previous is None:
        return _("欢迎！这是您第一次登录。")
    text = _("上次登录：%(at)s，地址 %(address)s。") % {
        "at": formats.date_format(timezone.localtime(previous.at), "Y-m-d H:i"),
        "address": previous.address or _("未知"),
    }
    failed = AuditEntry.objects.filter(
        kind=AuditEntry.Kind.SIGN_IN_FAILED, object_repr=user.get_username(), at__gt=previous.at
    ).count()
    if failed:
        text += " " + _("此后有 %(count)d 次失败的登录尝试，如非本人操作请联系管理员。") % {"count": failed}
    return text


def _end_other_sessions(*, user, keep) -> None:
    from .models import AuditEntry, SignIn

    store = import_module(settings.SESSION_ENGINE).SessionStore
    others = (
        SignIn.objects.filter(user=user)
        .exclude(pk=keep.pk)
        .exclude(session_key="")
        .exclude(session_key=keep.session_key)
    )
    ended = 0
    for key in set(others.values_list("session_key", flat=True)):
        session = store(session_key=key)
        if session.exists(key):
            session.delete(key)
            ended += 1
    others.update(session_key="")
    if ended:
        audit.event(kind=AuditEntry.Kind.SESSION_ENDED, user=user, details={"reason": "new_sign_in", "count": ended})


def _failed(sender, credentials, request=None, **kwargs):
    from .models import AuditEntry, User

    username = str((credentials or {}).get("username") or "")[:150]
    user = User.objects.filter(username=username).first() if username else None
    audit.event(
        kind=AuditEntry.Kind.SIGN_IN_FAILED, user=user, username=username, details={"address": client_address(request)}
    )


def _signed_out(sender, request, user, **kwargs):
    from .models import AuditEntry

    if user is None or not user.is_authenticated:
        return
    reason = getattr(request, "sign_out_reason", "user") if request is not None else "user"
    audit.event(kind=AuditEntry.Kind.SIGN_OUT, user=user, details={"reason": reason})


def connect() -> None:
    user_logged_in.connect(_signed_in, dispatch_uid="shuzhi_signed_in")
    user_login_failed.connect(_failed, dispatch_uid="shuzhi_sign_in_failed")
    user_logged_out.connect(_signed_out, dispatch_uid="shuzhi_signed_out")
