"""How the APIs describe themselves in OpenAPI (drf-spectacular); the pages serving it are in ``docs``.

- :class:`ApiAutoSchema` (the default schema class) documents the error responses of every operation with
  the one error format (component ``ApiError``): 400 and 500 always, 401 for operations that need a key,
  403 for those that need a scope (``required_scope``), 404 for paths naming an object and for operations
  with a request body (which may name one), 413 and 415 for operations with a request body, plus whatever a view lists in ``error_statuses`` (for example
  ``(429,)`` for views that run agents, documented with ``Retry-After``).
- Operations are grouped (tagged) by resource: ``TAGS`` by the first part of the path, every /v1/ operation
  under the OpenAI-compatible API.
- :class:`ApiKeyScheme` documents the key: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from .authentication import ApiKeyAuthentication
from .errors import ERROR_TYPES

ERROR_TYPE_CHOICES = sorted(set(ERROR_TYPES.values()))


class ApiErrorDetailSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ERROR_TYPE_CHOICES, help_text=_("错误类别，与 HTTP 状态码对应。"))
    code = serializers.CharField(help_text=_("具体情形，例如 invalid_field、not_found、quota_exceeded。"))
    message = serializers.CharField(help_text=_("说明，使用请求的语言（Accept-Language）。"))
    param = serializers.CharField(allow_null=True, help_text=_("输入有误时，第一个有问题的字段；否则为空。"))
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=_("输入有误时，每个有问题的字段及其说明（嵌套字段以“.”连接）。"),
    )


class ApiErrorSerializer(serializers.Serializer):
    """The one error format of both APIs."""

    error = ApiErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: _("请求有误：JSON 格式错误、字段不正确、未知字段或只读字段；不写入任何内容。"),
    401: _("缺少 API 密钥，或密钥无效、已过期、已被吊销，或其部门、创建人已停用。"),
    403: _("API 密钥没有该操作所需的权限范围。"),
    404: _("对象不存在，或不属于该 API 密钥可以访问的范围。"),
    409: _("与对象的当前状态冲突。"),
    413: _("请求内容过大。"),
    415: _("不支持的请求内容类型（Content-Type）。"),
    429: _("超过请求频率或 token 配额；Retry-After 头给出可以重试的秒数。"),
    500: _("服务器内部错误；请稍后重试，并在反复出现时把 X-Request-ID 提供给管理员。"),
    502: _("模型服务出错或不可用。"),
    503: _("服务暂时不可用，请稍后重试。"),
}
# Operations are grouped by resource (the first part of their path after /api/v1/ or /v1/), in the caller's
# language; a view's own ``extend_schema(tags=...)`` still wins.
TAGS = {
    "agents": _("智能体"),
    "runs": _("运行记录"),
    "conversations": _("会话"),
    "knowledge-bases": _("知识库"),
    "documents": _("知识库"),
    "batches": _("批量任务"),
    "usage": _("用量"),
}
OPENAI_TAG = _("OpenAI 兼容接口")

RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": _("多少秒后可以重试。"),
    }
}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the error responses of every operation (see the module docstring)."""

    def get_tags(self) -> list:
        if not self.path.startswith("/api/"):
            return [OPENAI_TAG]
        tags = super().get_tags()
        return [TAGS.get(tag, tag) for tag in tags]

    def error_statuses(self) -> list[int]:
        view = self.view
        codes = {400, 500, *getattr(view, "error_statuses", ())}
        if any(issubclass(cls, ApiKeyAuthentication) for cls in getattr(view, "authentication_classes", ())):
            codes.add(401)
        if getattr(view, "required_scope", None):
            codes.add(403)
        if "{" in self.path:
            codes.add(404)
        if self.method in ("POST", "PUT", "PATCH"):
            # A body may name an object too (the agent of a batch, say): another department's is a 404.
            codes.update({404, 413, 415})
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status_code, response in responses.items():
            # An error a view documents itself still gets the common description when it gave none.
            if status_code[:1] in "45" and not response.get("description"):
                response["description"] = ERROR_DESCRIPTIONS.get(int(status_code), "") if status_code.isdigit() else ""
        for code in self.error_statuses():
            if str(code) in responses:
                continue
            response = self._get_response_for_code(
                OpenApiResponse(response=ApiErrorSerializer, description=ERROR_DESCRIPTIONS.get(code, "")),
                str(code),
                direction=direction,
            )
            if code == 429:
                response["headers"] = {**response.get("headers", {}), **RETRY_AFTER}
            responses[str(code)] = response
        return responses


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = ["bearerAuth", "apiKeyHeader"]

    def get_security_requirement(self, auto_schema):
        # Either header will do.
        return [{"bearerAuth": []}, {"apiKeyHeader": []}]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": _("部门的 API 密钥：Authorization: Bearer <API 密钥>。"),
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "description": _("也可以用 X-API-Key 请求头携带 API 密钥。"),
            },
        ]


def sse_event_schema(*, events: list[str] | None = None) -> dict:
    """One server-sent event as clients parse it (``event`` named where the stream names them, ``data``
    its JSON text, or ``[DONE]`` at the end of an OpenAI-compatible stream): what an event stream answers."""
    event = {"type": "string", "enum": events} if events else {"type": "string"}
    return {
        "type": "object",
        "properties": {
            "event": event,
            "data": {"type": "string"},
            "id": {"type": "string"},
            "retry": {"type": "integer"},
        },
        "required": ["data"],
    }
