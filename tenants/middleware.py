"""Request id and audit attribution for every request."""

import re
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from . import audit

# Where other systems call the platform (the REST API and the OpenAI-compatible API).
API_PATHS = ("/api/", "/v1/")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give each request an id (the proxy's ``X-Request-ID`` when well-formed) and echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class AuditActorMiddleware:
    """Attribute changes made while handling a request to its user and request id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/"):
            via = "admin"
        elif request.path.startswith(API_PATHS):
            via = "api"
        else:
            via = "web"
        # Resolved lazily: the user is only looked up if the request changes something.
        with audit.context(
            actor=lambda: getattr(request, "user", None),
            request_id=getattr(request, "request_id", ""),
            via=via,
        ):
            return self.get_response(request)


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    """Simplified Chinese unless the user chose another language (the language cookie).

    The browser's Accept-Language is ignored on purpose: shared office machines often carry an
    English browser, and the platform speaks Chinese first. The APIs follow Accept-Language, since
    a calling system says what it wants.
    """

    def process_request(self, request):
        if request.path.startswith(API_PATHS):
            # Other systems have no cookie: they choose with Accept-Language (Chinese unless they ask).
            translation.activate(translation.get_language_from_request(request))
            request.LANGUAGE_CODE = translation.get_language()
            request.language_chosen = False
            return
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen and translation.check_for_language(chosen) else settings.LANGUAGE_CODE
        language = translation.get_supported_language_variant(language)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        request.language_chosen = bool(chosen) and language == chosen

    def process_response(self, request, response):
        # Remember a language the user chose, for what reaches them outside the site (e-mail).
        user = getattr(request, "user", None)
        if (
            getattr(request, "language_chosen", False)
            and user is not None
            and user.is_authenticated
            and getattr(user, "language", None) != request.LANGUAGE_CODE
        ):
            get_user_model().objects.filter(pk=user.pk).update(language=request.LANGUAGE_CODE)
        return super().process_response(request, response)


class SecondFactorRequiredMiddleware:
    """Until this session has passed the second factor, a person who needs it reaches only the open pages.

    Who needs it: see :func:`tenants.second_factor.needs_verification`. They are sent to set it up
    (no authenticator yet) or to pass it, and come back where they were going. Open: signing in and
    out, the second factor's own pages, the language switch, static files, the health check, and the
    APIs (which take API keys, never a session).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(self._open_paths())
            and not user.is_verified()
        ):
            from django.shortcuts import redirect
            from django.urls import reverse
            from django.utils.http import urlencode

            from . import second_factor

            if second_factor.needs_verification(user=user):
                name = "second_factor:verify" if second_factor.has_second_factor(user=user) else "second_factor:setup"
                target = f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}"
                if request.headers.get("HX-Request") == "true":
                    from django.http import HttpResponse

                    # An htmx swap would put the page inside the page: the browser goes there instead.
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = target
                    return response
                return redirect(target)
        return self.get_response(request)

    @staticmethod
    def _open_paths() -> tuple[str, ...]:
        from django.urls import reverse

        return (
            reverse("login"),
            reverse("logout"),
            reverse("admin:logout"),
            "/accounts/2fa/",
            "/i18n/",
            "/" + settings.STATIC_URL.lstrip("/"),
            "/healthz",
            "/favicon.ico",
            *API_PATHS,
        )
