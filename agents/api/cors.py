"""Browser integrations: CORS on /api/ and /v1/, allowed per API key (``ApiKey.cors_origins``).

A browser asks first (a preflight ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
and sends no key with that question, so the preflight is allowed when the origin is listed on any
working key. The real request carries its key: its answer allows the origin only when that key lists
it, so a page can never use a key that was not given to it. No cookies are ever allowed
(no ``Access-Control-Allow-Credentials``): a browser page calls the APIs with a key, never as the
signed-in person.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.translation import gettext as _

from tenants.api_keys import api_key_authenticate
from tenants.middleware import API_PATHS
from tenants.models import ApiKey
from tenants.origins import api_key_origin_listed

from .errors import error_json

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
EXPOSED_HEADERS = "Retry-After, X-Request-ID, Content-Disposition"
PREFLIGHT_MAX_AGE = "600"


def _key_of(request) -> ApiKey | None:
    secret = request.headers.get("X-API-Key", "").strip()
    if not secret:
        scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
        secret = value.strip() if scheme.lower() == "bearer" else ""
    return api_key_authenticate(secret=secret) if secret else None


def _vary_origin(response) -> None:
    vary = [v.strip() for v in response.get("Vary", "").split(",") if v.strip()]
    if "origin" not in (v.lower() for v in vary):
        response["Vary"] = ", ".join([*vary, "Origin"])


class ApiCorsMiddleware:
    """Answers CORS preflights under /api/ and /v1/ and marks the answers a key's listed origins may read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        origin = request.headers.get("Origin", "")
        if not origin or not request.path.startswith(API_PATHS):
            return self.get_response(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return self._preflight(request, origin)
        response = self.get_response(request)
        key = _key_of(request)
        if key is not None and origin.lower() in key.cors_origins:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        _vary_origin(response)
        return response

    @staticmethod
    def _preflight(request, origin: str):
        if not api_key_origin_listed(origin=origin):
            response = error_json(
                status_code=403,
                code="origin_not_allowed",
                message=_(
                    "来源 %(origin)s 未被允许在浏览器中调用接口：请管理员在 API 密钥的“允许的浏览器来源”中加入它。"
                )
                % {"origin": origin},
            )
            _vary_origin(response)
            return response
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        # Whatever headers the page's client sends (the openai client adds its own x-stainless-*): the key
        # in the real request decides, not the preflight.
        asked = request.headers.get("Access-Control-Request-Headers", "")
        response["Access-Control-Allow-Headers"] = asked or "Authorization, Content-Type, X-API-Key"
        response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        _vary_origin(response)
        return response
