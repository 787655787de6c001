"""Session limits and the password prompts, as middleware, and the endpoint the idle warning talks to.

- An idle session (``SHUZHI_IDLE_MINUTES`` without a request) and a session older than
  ``SESSION_COOKIE_AGE`` (``SHUZHI_SESSION_HOURS``) are signed out at their next request, with a
  message on the login page. The page warns ``SHUZHI_IDLE_WARNING_SECONDS`` before (static/js/idle.js),
  asking :func:`session_status`, which does not count as activity unless the person chose to stay.
- A person whose password an admin set, or whose password has expired, changes it before going on.
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from .middleware import API_PATHS
from .passwords import password_change_reason
from .sign_ins import SEEN_AT, SIGNED_IN_AT


def idle_seconds() -> float:
    return float(settings.SHUZHI_IDLE_MINUTES) * 60


def _open_paths(*extra: str) -> tuple[str, ...]:
    return (
        reverse("login"),
        reverse("logout"),
        reverse("admin:logout"),
        "/i18n/",
        "/" + settings.STATIC_URL.lstrip("/"),
        "/healthz",
        "/favicon.ico",
        *API_PATHS,
        *extra,
    )


def _go(request, url: str):
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url  # an htmx swap would put the page inside the page
        return response
    return redirect(url)


def _seconds_left(request, now: float) -> tuple[float, float]:
    """(seconds until idle sign-out, seconds until the absolute end) of this request's session."""
    session = request.session
    idle = idle_seconds()
    idle_left = (session.get(SEEN_AT, now) + idle - now) if idle > 0 else float("inf")
    absolute_left = session.get(SIGNED_IN_AT, now) + settings.SESSION_COOKIE_AGE - now
    return idle_left, absolute_left


class SessionLimitsMiddleware:
    """Sign out idle and over-age sessions; note each request as activity (the status check excepted)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path.startswith(API_PATHS):
            return self.get_response(request)
        now = time.time()
        session = request.session
        session.setdefault(SIGNED_IN_AT, now)
        idle_left, absolute_left = _seconds_left(request, now)
        reason = ""
        if absolute_left <= 0:
            reason, request.sign_out_reason = (
                _("登录已超过 %(hours)d 小时，请重新登录。") % {"hours": settings.SESSION_COOKIE_AGE // 3600},
                "lifetime",
            )
        elif idle_left <= 0:
            reason, request.sign_out_reason = _("您已长时间未操作，为了安全已自动退出，请重新登录。"), "idle"
        if reason:
            next_path = request.get_full_path() if request.method == "GET" else "/"
            logout(request)
            # Kept for the next page, also when the idle warning's check is what found the session over.
            messages.warning(request, reason)
            if request.path == reverse("session_status"):
                return JsonResponse({"signed_in": False})
            return _go(request, f"{reverse('login')}?{urlencode({'next': next_path})}")
        # Activity, written at most every few seconds (not on every request); the status check is not activity.
        if request.path != reverse("session_status") and now - session.get(SEEN_AT, 0) > min(15.0, idle_seconds() / 10):
            session[SEEN_AT] = now
        return self.get_response(request)


class PasswordChangeRequiredMiddleware:
    """Until a required password change is done, only the change page (and signing out) opens."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(
                _open_paths(reverse("password_change"), "/accounts/2fa/", "/accounts/session/")
            )
            and password_change_reason(user=user)
        ):
            return _go(request, f"{reverse('password_change')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


@require_http_methods(["GET", "POST"])
def session_status(request):
    """How long this session has before it is signed out (GET); POST: the person chose to stay."""
    if not request.user.is_authenticated:
        # An answer, not an error: being signed out is what the page asks about.
        return JsonResponse({"signed_in": False})
    now = time.time()
    if request.method == "POST":
        request.session[SEEN_AT] = now
    idle_left, absolute_left = _seconds_left(request, now)
    return JsonResponse(
        {
            "signed_in": True,
            # Rounded up: the page never reloads before the server has signed the session out.
            "idle_left": max(0, math.ceil(min(idle_left, absolute_left))),
            "absolute_left": max(0, math.ceil(absolute_left)),
        }
    )
