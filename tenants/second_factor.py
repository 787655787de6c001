"""The second factor: TOTP (an authenticator app) with one-time recovery codes, on django-otp.

Every local account may set one up; members of the roles in ``SHUZHI_2FA_ROLES`` must
(``SHUZHI_2FA_REQUIRED``), and so must anyone who has set one up. Until the current session has
passed it (``request.user.is_verified()``, kept in the session by django-otp), such a person reaches
only the pages in :data:`OPEN_PATHS` (see ``SecondFactorRequiredMiddleware``). Setting up, issuing
recovery codes, using one and resetting another person's factor are security events in the audit log.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

import django_otp
import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit
from .models import AuditEntry
from .selectors import user_roles

PLATFORM_ADMIN = "platform_admin"  # a name in SHUZHI_2FA_ROLES: the platform admins (superusers)
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery"
# Recovery codes: 10 characters of an alphabet with no look-alikes, shown as two groups of five.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def roles_requiring_it() -> set[str]:
    return {r for r in getattr(settings, "SHUZHI_2FA_ROLES", []) if r}


def role_requires_second_factor(*, user) -> bool:
    """Whether one of the user's roles makes the second factor compulsory (when it is enforced)."""
    if not getattr(settings, "SHUZHI_2FA_REQUIRED", True) or not user.is_authenticated:
        return False
    required = roles_requiring_it()
    if user.is_superuser and PLATFORM_ADMIN in required:
        return True
    return bool(user_roles(user=user) & (required - {PLATFORM_ADMIN}))


def has_second_factor(*, user) -> bool:
    """Whether the user has a confirmed authenticator (recovery codes alone do not count)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def needs_verification(*, user) -> bool:
    """Whether this user, signed in but not verified this session, must pass the second factor first."""
    return role_requires_second_factor(user=user) or has_second_factor(user=user)


def totp_device_pending(*, user) -> TOTPDevice:
    """The user's authenticator being set up (unconfirmed), made once and kept until confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=TOTP_NAME).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def totp_qr_svg(*, device: TOTPDevice) -> str:
    """The device's otpauth:// address as an inline SVG QR code (drawn here: no script, no external image)."""
    qr = segno.make(device.config_url, error="m")
    return qr.svg_inline(scale=4, dark="#1f2933", light="#ffffff", title="TOTP", omitsize=False)


def totp_secret_text(*, device: TOTPDevice) -> str:
    """The secret in base32, grouped by four, for typing into an app or a tool such as ``oathtool``."""
    from base64 import b32encode

    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _clean(token: str) -> str:
    return "".join((token or "").split()).replace("-", "").lower()


def totp_enrol_confirm(*, request, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the authenticator with a code from it; return fresh recovery codes, or None if refused.

    On success the session counts as verified, any earlier authenticator of the user is replaced,
    and the event is audited.
    """
    user = device.user
    if not device.verify_token(_clean(token)):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit.event(kind=AuditEntry.Kind.FACTOR_ENROLLED, user=user)
        codes = recovery_codes_issue(user=user)
    django_otp.login(request, device)
    return codes


def recovery_codes_issue(*, user) -> list[str]:
    """New recovery codes for the user (the old ones stop working); shown once, audited."""
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10)) for _ in range(settings.SHUZHI_RECOVERY_CODES)
    ]
    with transaction.atomic():
        device, _created = StaticDevice.objects.get_or_create(
            user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
        audit.event(kind=AuditEntry.Kind.RECOVERY_CODES_ISSUED, user=user, details={"count": len(codes)})
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def recovery_codes_left(*, user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def wait_seconds(*, device) -> int:
    """How long the device refuses codes after failed attempts (django-otp doubles it each time), 0 if not."""
    allowed, data = device.verify_is_allowed()
    if allowed or not data or "locked_until" not in data:
        return 0
    return max(1, math.ceil((data["locked_until"] - timezone.now()).total_seconds()))


@dataclass(frozen=True)
class Check:
    """The outcome of a code typed in: passed, or refused (``wait``: seconds before another try is heard)."""

    passed: bool
    wait: int = 0


def second_factor_verify(*, request, token: str) -> Check:
    """Check a code from the authenticator, or a recovery code, for the signed-in user of ``request``.

    On success this session counts as verified (until sign-out). Using a recovery code is audited
    (it means the authenticator was not at hand), with how many remain. After a wrong code the
    device refuses any code for a while (1, 2, 4... seconds), which the outcome says.
    """
    user = request.user
    token = _clean(token)
    if len(token) == 6 and token.isdigit():  # recovery codes are 10 characters
        model = TOTPDevice
    elif token:
        model = StaticDevice
    else:
        return Check(False)
    with transaction.atomic():
        devices = list(model.objects.select_for_update().filter(user=user, confirmed=True))
        waits = [wait_seconds(device=d) for d in devices]
        if devices and all(waits):
            return Check(False, min(waits))
        for device in devices:
            if device.verify_token(token):
                if model is StaticDevice:
                    audit.event(
                        kind=AuditEntry.Kind.RECOVERY_CODE_USED, user=user, details={"left": device.token_set.count()}
                    )
                django_otp.login(request, device)
                return Check(True)
    # A wrong code after the right password: a failed sign-in too.
    audit.event(kind=AuditEntry.Kind.SIGN_IN_FAILED, user=user, details={"step": "second_factor"})
    return Check(False)


def second_factor_reset(*, user) -> bool:
    """Remove the user's authenticator and recovery codes (they set up a new one at the next sign-in).

    Audited with the actor of the current audit context. Returns whether there was anything to remove.
    """
    with transaction.atomic():
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        removed_codes, _ = StaticDevice.objects.filter(user=user).delete()
        if removed or removed_codes:
            audit.event(kind=AuditEntry.Kind.FACTOR_RESET, user=user)
    return bool(removed or removed_codes)
