"""The body of "run an agent" and what it answers (blocking: the run; streamed: server-sent events)."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ... import labels
from ...models import Run
from ...runtime.visibility import review_notice
from ..resources.serializers import RunSerializer, run_representation
from ..serializers import StrictSerializer
from .services import NEW_CONVERSATION


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "enum": [NEW_CONVERSATION]}, {"type": "integer", "minimum": 1}],
        "nullable": True,
    }
)
class ConversationField(serializers.Field):
    """null, "new" or the id of one of the key's conversations with the agent."""

    default_error_messages = {"invalid": _('须为 null、"new" 或该 API 密钥的一个会话编号。')}

    def to_internal_value(self, data):
        if data == NEW_CONVERSATION:
            return data
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        try:
            number = int(data)
        except ValueError:
            self.fail("invalid")
        if number < 1 or number > 2**63 - 1:
            self.fail("invalid")
        return number

    def to_representation(self, value):
        return value


class AgentRunSerializer(StrictSerializer):
    """What to run: a message, the agent's form, or both."""

    message = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text=_("问题或要处理的文本。与 form 至少提供一项。"),
    )
    form = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        default=dict,
        help_text=_("智能体表单字段的值（字段名见智能体列表的 form_fields）；未定义的字段会被拒绝。"),
    )
    conversation = ConversationField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_(
            '会话：null（默认）表示单次运行，不保留上下文；"new" 新建一个会话；'
            "或该 API 密钥与同一智能体的已有会话编号，在其中继续（此前的问答作为上下文）。"
        ),
    )
    stream = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("true：以服务器发送事件（text/event-stream）流式返回；false（默认）：运行结束后一次返回。"),
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("message", "").strip() and not any(str(v).strip() for v in attrs.get("form", {}).values()):
            raise serializers.ValidationError({"message": [gettext("请提供 message 或 form。")]})
        return attrs


class RunResultSerializer(RunSerializer):
    """The run, finished (the same object as reading the run later), with a notice for the caller."""

    notice = serializers.CharField(
        allow_blank=True,
        help_text=_("给调用方的提示：回答需要人工审核（审核通过前 text 为空）或未通过审核时说明原因；否则为空。"),
    )

    def to_representation(self, run: Run) -> dict:
        data = {**run_representation(run=run, key=self.context["key"]), "notice": review_notice(run)}
        return serializers.Serializer.to_representation(self, data)


def run_result(*, run: Run, key) -> dict:
    """The finished run as the key that made it sees it (see :class:`RunResultSerializer`), as it is
    delivered: the delivery is logged (``labels.api_delivery_logged``)."""
    data = RunResultSerializer(run, context={"key": key}).data
    labels.api_delivery_logged(run=run, key=key)
    return data
