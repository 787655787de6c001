"""The one error format of both APIs (the OpenAI-compatible one uses it too, since it is OpenAI's shape)::

    {"error": {"type": "invalid_request_error", "code": "invalid_field", "message": "…",
               "param": "message", "fields": {"message": ["…"]}}}

``type`` says which kind of failure it is (and fixes the HTTP status), ``code`` names the case,
``message`` is a sentence in the caller's language (Accept-Language), ``param`` is the first field at
fault and ``fields`` every field at fault with its messages (both only for invalid input).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, JsonResponse
from django.urls import is_valid_path
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from tenants.middleware import API_PATHS
from tenants.quotas import QuotaExceeded

from ..runtime.access import AgentNotAvailable
from ..runtime.prompting import RunInputInvalid
from .openai.errors import with_openai_code

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    406: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "model_error",
    503: "service_unavailable_error",
}


def error_body(*, status_code: int, code: str, message: str, fields: dict | None = None) -> dict:
    error = {
        "type": ERROR_TYPES.get(status_code, "invalid_request_error"),
        "code": code,
        "message": message,
        "param": next(iter(fields), None) if fields else None,
    }
    if fields:
        error["fields"] = fields
    return {"error": error}


def error_response(*, status_code: int, code: str, message: str, fields: dict | None = None, headers=None):
    """A DRF response in the error format."""
    return Response(
        error_body(status_code=status_code, code=code, message=message, fields=fields),
        status=status_code,
        headers=headers,
    )


def error_json(*, status_code: int, code: str, message: str, fields: dict | None = None, headers=None):
    """A plain Django response in the error format (for views outside DRF)."""
    response = JsonResponse(
        error_body(status_code=status_code, code=code, message=message, fields=fields),
        status=status_code,
        json_dumps_params={"ensure_ascii": False},
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flatten(detail) -> dict[str, list[str]]:
    """DRF's nested validation detail as {"field" or "field.sub": [messages]}."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
            for index, sub in enumerate(value):
                walk(f"{prefix}.{index}" if prefix else str(index), sub)
        else:
            messages = value if isinstance(value, list) else [value]
            flat.setdefault(prefix or "non_field_errors", []).extend(str(m) for m in messages)

    walk("", detail)
    return flat


def exception_handler(exc, context):
    """DRF's exception handler, answering every failure in the error format."""
    if isinstance(exc, QuotaExceeded):
        return error_response(
            status_code=429,
            code="token_quota_exceeded" if exc.tokens else "quota_exceeded",
            message=str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, (Http404, AgentNotAvailable)):
        message = str(exc) if isinstance(exc, AgentNotAvailable) else _("找不到该对象，或您没有访问权限。")
        return error_response(status_code=404, code="not_found", message=message)
    if isinstance(exc, RunInputInvalid):
        return error_response(status_code=400, code="invalid_input", message=str(exc))
    if isinstance(exc, RequestDataTooBig):
        return error_response(status_code=413, code="request_too_large", message=_too_large_message())
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return error_response(status_code=400, code="too_many_fields", message=_("请求中的字段或文件过多。"))
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.values()))[0] if fields else _("请求内容不正确。")
        return error_response(status_code=400, code="invalid_field", message=first, fields=fields)
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        detail = exc.detail
        message = str(detail if not isinstance(detail, (list, dict)) else next(iter(_flatten(detail).values()))[0])
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        status_code = exc.status_code
        if status_code == status.HTTP_403_FORBIDDEN and code == "not_authenticated":
            status_code = 401
        return error_response(status_code=status_code, code=code, message=message, headers=headers)
    return None


# --------------------------------------------------------------------------- outside DRF's views

# The largest multipart body: the largest upload and room for the form fields beside it.
MULTIPART_MARGIN_BYTES = 1024 * 1024


def body_limit_bytes(content_type: str) -> int:
    """The largest request body the APIs accept: an upload's limit for multipart bodies (documents,
    batch files), ``DATA_UPLOAD_MAX_MEMORY_SIZE`` for everything else (JSON)."""
    if content_type.lower().startswith("multipart/"):
        return settings.SHUZHI_UPLOAD_MAX_MB * 1024 * 1024 + MULTIPART_MARGIN_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _too_large_message(limit: int | None = None) -> str:
    limit = limit or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _("请求内容过大，上限为 %(mb)s MB。") % {"mb": round(limit / 1024 / 1024, 1)}


class ApiErrorMiddleware:
    """Every failure under /api/ and /v1/ answers in the error format, even where no API view ran.

    - a body larger than :func:`body_limit_bytes` (by its Content-Length) is refused with 413 before
      anything reads it;
    - an address missing its final slash is a 404 saying so, not a redirect (which would lose a POST's body);
    - Django's own error pages (an unknown URL's 404, a 405 from a plain view, the 400 of a
      suspicious request, a CSRF 403, the 500 of an unhandled exception) are replaced by the error
      format, with no traceback or HTML; headers such as ``Allow`` are kept.

    Responses that are already JSON (the APIs' own errors) pass through unchanged.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PATHS):
            return self.get_response(request)
        too_large = self._too_large(request)
        if too_large is not None:
            return too_large
        if not request.path.endswith("/") and not is_valid_path(request.path) and is_valid_path(request.path + "/"):
            # No redirect to the address with the slash (CommonMiddleware's): a redirected POST loses its body.
            return error_json(
                status_code=404,
                code="unknown_url",
                message=_("没有这个接口地址：%(path)s。请使用 %(path)s/。") % {"path": request.path},
            )
        response = self.get_response(request)
        if response.status_code < 400 or getattr(response, "streaming", False):
            return response
        if response.get("Content-Type", "").split(";")[0].strip() != "application/json":
            response = self._as_error(request, response)
        if request.path.startswith("/v1/"):
            response = with_openai_code(response)
        return response

    @staticmethod
    def _too_large(request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_json(status_code=400, code="invalid_content_length", message=_("Content-Length 不正确。"))
        limit = body_limit_bytes(request.META.get("CONTENT_TYPE", ""))
        if length > limit:
            return error_json(status_code=413, code="request_too_large", message=_too_large_message(limit))
        return None

    @staticmethod
    def _as_error(request, response):
        status_code = response.status_code
        if status_code == 404:
            code, message = "unknown_url", _("没有这个接口地址：%(path)s。") % {"path": request.path}
        elif status_code == 405:
            code, message = "method_not_allowed", _("该地址不支持 %(method)s 请求。") % {"method": request.method}
        elif status_code == 413:
            code, message = "request_too_large", _too_large_message()
        elif status_code == 403:
            code, message = "forbidden", _("拒绝访问。")
        elif status_code >= 500:
            code = "server_error"
            message = _("服务器内部错误，请稍后重试；如果反复出现，请联系管理员并提供请求编号 %(id)s。") % {
                "id": getattr(request, "request_id", "")
            }
        else:
            code, message = "bad_request", _("请求无法处理。")
        replacement = error_json(status_code=status_code, code=code, message=message)
        for header in ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-ID"):
            if header in response:
                replacement[header] = response[header]
        return replacement
