"""Async API views outside DRF: the endpoints that run agents (REST and OpenAI-compatible).

They are plain async Django views so that a run streams from its own thread through the event loop
(``agents.runtime.detached``) and goes on when the client disconnects; DRF (whose views are
synchronous) still provides what it is good at: the API-key authentication, the serializers that
validate bodies, the one error format (``agents.api.errors.exception_handler``) and, through a
documentation class, the OpenAPI schema (drf-spectacular reads ``view.cls`` like any DRF view).
"""

from __future__ import annotations

import functools
import json

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers
from rest_framework.views import APIView

from tenants.models import ApiKey

from ..authentication import ApiKeyAuthentication
from ..errors import exception_handler


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "request_too_large"


class ModelFailed(exceptions.APIException):
    """The run ended without an answer because the model failed (502, with the run's id)."""

    status_code = 502
    default_code = "model_unavailable"

    def __init__(self, *, message: str, run_id: int):
        super().__init__(message)
        self.run_id = run_id


def error_from(exc: Exception) -> JsonResponse:
    """``exc`` answered in the error format, as DRF's views answer it (re-raised when it is a bug)."""
    response = exception_handler(exc, {})
    if response is None:
        raise exc
    body = response.data
    if isinstance(exc, ModelFailed):
        body["error"]["run_id"] = exc.run_id
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        response["WWW-Authenticate"] = ApiKeyAuthentication.keyword
    answer = JsonResponse(body, status=response.status_code, json_dumps_params={"ensure_ascii": False})
    for name, value in response.items():
        if name.lower() not in ("content-type", "content-length"):
            answer[name] = value
    return answer


def _authenticate(request, scope: str) -> ApiKey:
    found = ApiKeyAuthentication().authenticate(request)
    if found is None:
        raise exceptions.NotAuthenticated(_("缺少 API 密钥：请在 Authorization 请求头中提供“Bearer <API 密钥>”。"))
    key = found[0]
    if not key.has_scope(scope):
        raise exceptions.PermissionDenied(_("该 API 密钥没有“%(scope)s”权限。") % {"scope": ApiKey.Scope(scope).label})
    return key


def api_endpoint(*, methods: tuple[str, ...], scope: str = ApiKey.Scope.RUN, docs: type[APIView] | None = None):
    """Make ``view(request, key, **kwargs)`` an API endpoint: the method checked, the key authenticated
    (401) and holding ``scope`` (403), CSRF not applied (no cookies), and every failure raised inside
    (DRF exceptions, validation errors, the runtime's refusals) answered in the error format.

    ``docs``: a DRF view class carrying the endpoint's OpenAPI description (never instantiated to serve).
    """

    def decorate(view):
        @functools.wraps(view)
        async def endpoint(request, *args, **kwargs):
            try:
                if request.method not in methods:
                    response = error_from(exceptions.MethodNotAllowed(request.method))
                    response["Allow"] = ", ".join(methods)
                    return response
                key = await sync_to_async(_authenticate)(request, scope)
                return await view(request, key, *args, **kwargs)
            except Exception as exc:  # answered in the error format; a bug is re-raised by error_from
                return error_from(exc)

        endpoint.csrf_exempt = True
        if docs is not None:
            endpoint.cls = docs
            endpoint.initkwargs = {}
        return endpoint

    return decorate


def json_object(request) -> dict:
    """The request body as a JSON object (415, 413 or 400 in the error format otherwise)."""
    content_type = (request.content_type or "").lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise exceptions.UnsupportedMediaType(
            request.content_type, _("请求体须为 JSON（Content-Type: application/json）。")
        )
    try:
        raw = request.body
    except RequestDataTooBig:
        raw = None
    if raw is None or len(raw) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise RequestTooLarge(
            _("请求内容过大，上限为 %(mb)s MB。") % {"mb": round(settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024, 1)}
        )
    try:
        data = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise exceptions.ParseError(_("请求体不是有效的 JSON：%(reason)s") % {"reason": exc}) from None
    if not isinstance(data, dict):
        raise exceptions.ParseError(_("请求体须为一个 JSON 对象。"))
    try:  # escapes of lone surrogates ("\ud800") parse, but are no text that could be stored
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise exceptions.ParseError(_("请求体含有无效的 Unicode 字符。")) from None
    return data


def validated(serializer_class: type[serializers.Serializer], data: dict) -> dict:
    """``data`` validated by ``serializer_class`` (400 with every field at fault otherwise)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
