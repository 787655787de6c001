"""Pages of the second factor: its status, setting it up, passing it after the password, recovery codes."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import second_factor as sf


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return ""


def _wait_message(seconds: int) -> str:
    return _("错误次数较多，请在 %(seconds)d 秒后再输入。") % {"seconds": seconds}


def _verified(request) -> bool:
    return bool(getattr(request.user, "is_verified", lambda: False)())


@login_required
def status(request):
    """The person's own second factor: set up or not, recovery codes left, and what they can do."""
    user = request.user
    return render(
        request,
        "tenants/second_factor/status.html",
        {
            "enabled": sf.has_second_factor(user=user),
            "required": sf.role_requires_second_factor(user=user),
            "verified": _verified(request),
            "codes_left": sf.recovery_codes_left(user=user),
        },
    )


@login_required
def setup(request):
    """Set up (or replace) the authenticator: a QR code and the key as text, confirmed by one code from it.

    Someone who already has one must pass it this session first: a password alone never replaces a factor.
    """
    user = request.user
    if sf.has_second_factor(user=user) and not _verified(request):
        return redirect(f"{reverse('second_factor:verify')}?{urlencode({'next': request.path})}")
    device = sf.totp_device_pending(user=user)
    error = ""
    if request.method == "POST":
        wait = sf.wait_seconds(device=device)
        codes = (
            None if wait else sf.totp_enrol_confirm(request=request, device=device, token=request.POST.get("token", ""))
        )
        if codes is not None:
            return render(
                request, "tenants/second_factor/recovery_codes.html", {"codes": codes, "next": _next(request)}
            )
        error = _wait_message(wait) if wait else _("验证码不正确，请检查手机时间后输入验证器中当前显示的 6 位数字。")
    return render(
        request,
        "tenants/second_factor/setup.html",
        {
            "qr_svg": sf.totp_qr_svg(device=device),
            "secret": sf.totp_secret_text(device=device),
            "error": error,
            "next": _next(request),
            "required": sf.role_requires_second_factor(user=user),
        },
        status=400 if error else 200,
    )


@login_required
def verify(request):
    """After the password: a code from the authenticator, or one recovery code."""
    user = request.user
    if not sf.has_second_factor(user=user):
        return redirect("second_factor:setup")
    error = ""
    if request.method == "POST":
        check = sf.second_factor_verify(request=request, token=request.POST.get("token", ""))
        if check.passed:
            return redirect(_next(request) or "home")
        error = _wait_message(check.wait) if check.wait else _("验证码或恢复码不正确，请重试。")
    return render(
        request,
        "tenants/second_factor/verify.html",
        {"error": error, "next": _next(request)},
        status=400 if error else 200,
    )


@require_POST
@login_required
def recovery_codes(request):
    """New recovery codes (the old ones stop working), for a person who has passed the second factor."""
    if not _verified(request):
        return redirect("second_factor:verify")
    codes = sf.recovery_codes_issue(user=request.user)
    return render(request, "tenants/second_factor/recovery_codes.html", {"codes": codes, "next": ""})
