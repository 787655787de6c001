"""The one error format of both APIs (the OpenAI-compatible one uses it too, since it is OpenAI's shape)::

    {"error": {"type": "invalid_request_error", "code": "invalid_field", "message": "…",
               "param": "message", "fields": {"message": ["…"]}}}

``type`` says which kind of failure it is (and fixes the HTTP status), ``code`` names the case,
``message`` is a sentence in the caller's language (Accept-Language), ``param`` is the first field at
fault and ``fields`` every field at fault with its messages (both only for invalid input).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from tenants.quotas import QuotaExceeded

from ..runtime.access import AgentNotAvailable
from ..runtime.prompting import RunInputInvalid

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
            status_code=429, code="quota_exceeded", message=str(exc), headers={"Retry-After": str(exc.retry_after)}
        )
    if isinstance(exc, (Http404, AgentNotAvailable)):
        message = str(exc) if isinstance(exc, AgentNotAvailable) else _("找不到该对象，或您没有访问权限。")
        return error_response(status_code=404, code="not_found", message=message)
    if isinstance(exc, RunInputInvalid):
        return error_response(status_code=400, code="invalid_input", message=str(exc))
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
