"""What /v1/chat/completions accepts (OpenAI's request, minus what an agent decides itself) and answers."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..resources.serializers import AiLabelSerializer, SourceSerializer
from ..serializers import StrictSerializer

# Parameters asking for what an agent does not offer to its callers: refused with a sentence saying so,
# unless their value asks for nothing (null, an empty list, "none"/"auto", text only), which clients send by default.
UNSUPPORTED = ("tools", "tool_choice", "functions", "function_call", "audio", "modalities", "prediction")
ASKS_NOTHING = (None, [], {}, "none", "auto", ["text"])
ROLES = ("system", "developer", "user", "assistant")


class ChatTextPartSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["text"], help_text=_("只支持 text。"))
    text = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text=_("文本。"))


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
                    "required": ["type", "text"],
                },
            },
        ],
        "nullable": True,
    }
)
class ContentField(serializers.Field):
    """A message's content: a string, or a list of text parts (joined); other parts are refused."""

    default_error_messages = {
        "invalid": _("content 须为字符串或 text 片段的列表。"),
        "part": _("只支持文本内容（type 为 text 的片段）；图片、音频和文件无法交给智能体。"),
        "null_characters": _("内容不能包含空字符（\\x00）。"),
    }

    def to_internal_value(self, data):
        if data is None:
            return ""
        if isinstance(data, str):
            if "\x00" in data:
                self.fail("null_characters")
            return data
        if not isinstance(data, list):
            self.fail("invalid")
        texts = []
        for part in data:
            if isinstance(part, dict) and part.get("type") not in (None, "text"):
                self.fail("part")
            serializer = ChatTextPartSerializer(data=part)
            if not serializer.is_valid():
                raise serializers.ValidationError(serializer.errors)
            texts.append(serializer.validated_data["text"])
        return "\n".join(texts)

    def to_representation(self, value):
        return value


class ChatMessageSerializer(StrictSerializer):
    role = serializers.ChoiceField(
        choices=ROLES,
        help_text=_("system、developer（忽略：智能体使用自己发布的提示词）、user、assistant。"),
    )
    content = ContentField(required=False, allow_null=True, default="", help_text=_("消息内容。"))
    name = serializers.CharField(required=False, allow_blank=True, allow_null=True, help_text=_("忽略。"))
    # What OpenAI's own answers carry, which clients send back as history: nothing an agent uses.
    tool_calls = serializers.JSONField(required=False, allow_null=True, help_text=_("忽略。"))
    function_call = serializers.JSONField(required=False, allow_null=True, help_text=_("忽略。"))
    refusal = serializers.CharField(required=False, allow_null=True, allow_blank=True, help_text=_("忽略。"))
    audio = serializers.JSONField(required=False, allow_null=True, help_text=_("忽略。"))
    annotations = serializers.JSONField(required=False, allow_null=True, help_text=_("忽略。"))
    reasoning_content = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False, help_text=_("忽略。")
    )

    def validate(self, attrs: dict) -> dict:
        # OpenAI allows null content (an assistant turn that only called tools): it says nothing here.
        if attrs.get("content") is None:
            attrs["content"] = ""
        return attrs


class ChatStreamOptionsSerializer(StrictSerializer):
    include_usage = serializers.BooleanField(
        required=False, default=False, help_text=_("为 true 时，在 [DONE] 之前多发一个只含 usage 的片段。")
    )
    include_obfuscation = serializers.BooleanField(required=False, help_text=_("忽略。"))


class ChatCompletionCreateSerializer(StrictSerializer):
    """OpenAI's chat completion request, as far as an agent can honour it."""

    model = serializers.CharField(help_text=_("智能体标识（部门编码.智能体标识），见 /v1/models。"))
    messages = ChatMessageSerializer(
        many=True,
        allow_empty=False,
        help_text=_(
            "对话消息。最后一条 user 消息是本次的问题，此前的 user/assistant 消息作为上下文；"
            "system 和 developer 消息被忽略（智能体使用自己发布的提示词、知识库和安全设置）。"
        ),
    )
    form = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        default=dict,
        help_text=_(
            "平台扩展：智能体表单字段的值（字段名见 /api/v1/agents/ 的 form_fields），有必填表单字段的智能体需要提供；"
            '官方 openai 客户端用 extra_body={"form": {...}} 传入。'
        ),
    )
    stream = serializers.BooleanField(
        required=False, default=False, help_text=_("为 true 时以 chat.completion.chunk 服务器发送事件流式返回。")
    )
    stream_options = ChatStreamOptionsSerializer(required=False, allow_null=True, help_text=_("流式返回的选项。"))
    n = serializers.IntegerField(required=False, allow_null=True, help_text=_("只支持 1。"))
    logprobs = serializers.BooleanField(required=False, allow_null=True, help_text=_("不支持，只能为 false。"))
    top_logprobs = serializers.IntegerField(required=False, allow_null=True, help_text=_("不支持。"))
    response_format = serializers.DictField(
        required=False, allow_null=True, help_text=_('只接受 {"type": "text"}：输出格式由智能体的配置决定。')
    )
    # The ranges OpenAI validates: a value outside them is refused as OpenAI would, though it is then ignored.
    temperature = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=2, help_text=_("0 到 2；忽略（由智能体配置决定）。")
    )
    top_p = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=1, help_text=_("0 到 1；忽略。")
    )
    max_tokens = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text=_("至少为 1；回答的最大 token 数，不超过智能体配置的上限；达到时 finish_reason 为 length。"),
    )
    max_completion_tokens = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text=_("同 max_tokens（两者都提供时以此为准）。")
    )
    presence_penalty = serializers.FloatField(
        required=False, allow_null=True, min_value=-2, max_value=2, help_text=_("-2 到 2；忽略。")
    )
    frequency_penalty = serializers.FloatField(
        required=False, allow_null=True, min_value=-2, max_value=2, help_text=_("-2 到 2；忽略。")
    )
    seed = serializers.IntegerField(required=False, allow_null=True, help_text=_("忽略。"))
    stop = serializers.JSONField(required=False, allow_null=True, help_text=_("忽略。"))
    user = serializers.CharField(required=False, allow_blank=True, allow_null=True, help_text=_("忽略。"))
    metadata = serializers.DictField(required=False, allow_null=True, help_text=_("忽略。"))
    logit_bias = serializers.DictField(required=False, allow_null=True, help_text=_("忽略。"))
    store = serializers.BooleanField(required=False, allow_null=True, help_text=_("忽略（平台总是保存运行记录）。"))
    service_tier = serializers.CharField(required=False, allow_null=True, help_text=_("忽略。"))
    reasoning_effort = serializers.CharField(required=False, allow_null=True, help_text=_("忽略。"))
    verbosity = serializers.CharField(required=False, allow_null=True, help_text=_("忽略。"))
    prompt_cache_key = serializers.CharField(required=False, allow_null=True, help_text=_("忽略。"))
    safety_identifier = serializers.CharField(required=False, allow_null=True, help_text=_("忽略。"))
    parallel_tool_calls = serializers.BooleanField(required=False, allow_null=True, help_text=_("忽略。"))
    tools = serializers.JSONField(
        required=False, allow_null=True, help_text=_("只接受空列表：工具由智能体的配置决定。")
    )
    tool_choice = serializers.JSONField(required=False, allow_null=True, help_text=_("只接受 none 或 auto。"))
    functions = serializers.JSONField(required=False, allow_null=True, help_text=_("只接受空列表。"))
    function_call = serializers.JSONField(required=False, allow_null=True, help_text=_("只接受 none 或 auto。"))
    audio = serializers.JSONField(required=False, allow_null=True, help_text=_("不支持，只能为 null。"))
    modalities = serializers.JSONField(required=False, allow_null=True, help_text=_('只接受 ["text"]。'))
    prediction = serializers.JSONField(required=False, allow_null=True, help_text=_("不支持，只能为 null。"))
    web_search_options = serializers.JSONField(required=False, allow_null=True, help_text=_("忽略。"))

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unsupported = [name for name in UNSUPPORTED if name in data and data[name] not in ASKS_NOTHING]
            if unsupported:
                raise serializers.ValidationError(
                    {
                        name: [
                            gettext("智能体的工具由其配置决定，不能在请求中提供工具或函数；此参数不受支持：%(name)s。")
                            % {"name": name}
                        ]
                        for name in unsupported
                    }
                )
        return super().to_internal_value(data)

    def validate(self, attrs: dict) -> dict:
        errors = {}
        if attrs.get("n") not in (None, 1):
            errors["n"] = [gettext("只支持 n = 1：每次请求返回一个回答。")]
        if attrs.get("logprobs"):
            errors["logprobs"] = [gettext("不提供 logprobs。")]
        if attrs.get("top_logprobs"):
            errors["top_logprobs"] = [gettext("不提供 logprobs。")]
        response_format = attrs.get("response_format")
        if response_format and response_format.get("type") != "text":
            errors["response_format"] = [
                gettext('输出格式由智能体的配置决定，response_format 只能为 {"type": "text"}。')
            ]
        speaking = [m for m in attrs["messages"] if m["role"] in ("user", "assistant")]
        if not speaking or speaking[-1]["role"] != "user":
            errors["messages"] = [gettext("最后一条 user/assistant 消息须是 user 的问题。")]
        elif not speaking[-1]["content"].strip():
            errors["messages"] = [gettext("最后一条 user 消息不能为空。")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def conversation_of(messages: list[dict]) -> tuple[str, list[tuple[str, str]]]:
    """The question and the earlier (question, answer) pairs of validated ``messages``.

    System and developer messages are left out (the agent's own prompt applies). Consecutive messages
    of one role are joined, so the user's last messages together are the question; an answer with no
    question before it is kept with an empty question.
    """
    turns: list[list] = []  # [role, text], consecutive roles joined
    for message in messages:
        if message["role"] not in ("user", "assistant"):
            continue
        if turns and turns[-1][0] == message["role"]:
            turns[-1][1] += "\n\n" + message["content"]
        else:
            turns.append([message["role"], message["content"]])
    question = turns.pop()[1]
    history: list[tuple[str, str]] = []
    asked = ""
    for role, text in turns:
        if role == "user":
            asked = text
        else:
            history.append((asked, text))
            asked = ""
    return question, history


# --------------------------------------------------------------------------- answers (documentation)


class OpenAiModelSerializer(serializers.Serializer):
    id = serializers.CharField(help_text=_("智能体标识，作为 model 使用。"))
    object = serializers.CharField(help_text=_("固定为 model。"))
    created = serializers.IntegerField(help_text=_("当前版本的发布时间（Unix 秒）。"))
    owned_by = serializers.CharField(help_text=_("智能体所属部门。"))
    name = serializers.CharField(help_text=_("智能体名称。"))
    description = serializers.CharField(allow_blank=True, help_text=_("智能体简介。"))


class OpenAiModelListSerializer(serializers.Serializer):
    object = serializers.CharField(help_text=_("固定为 list。"))
    data = OpenAiModelSerializer(many=True, help_text=_("该 API 密钥可以调用的智能体。"))


class ShuzhiRunSerializer(serializers.Serializer):
    run_id = serializers.IntegerField(help_text=_("运行记录编号（可通过 /api/v1/runs/ 查询）。"))
    status = serializers.CharField(help_text=_("运行状态：succeeded、incomplete、failed、blocked。"))
    review_status = serializers.CharField(
        allow_blank=True, help_text=_("审核状态：空表示无需审核；pending 表示待审核，回答在审核通过后才提供。")
    )
    notice = serializers.CharField(allow_blank=True, help_text=_("给调用方的提示（例如等待人工审核）；否则为空。"))
    error = serializers.CharField(allow_blank=True, help_text=_("未完成、失败或被拦截的原因。"))
    retrieval_only = serializers.BooleanField(help_text=_("是否为仅检索模式（未调用大模型，依据知识库作答）。"))
    ai_generated = serializers.BooleanField(help_text=_("输出是否须标注“AI 生成”。"))
    ai_label = AiLabelSerializer(
        help_text=_(
            "AI 生成内容标识：显式标识的文字和隐式标识（GB 45438-2025 的元数据）；"
            "响应头 X-AI-Generated、X-AI-Content-Producer、X-AI-Produce-ID 同样携带隐式标识。"
        )
    )
    sources = SourceSerializer(many=True, help_text=_("回答引用的知识库出处。"))
    content = serializers.CharField(
        required=False,
        help_text=_("仅流式返回：回答在流出后被整体替换（例如命中敏感词被拦截）时，这是最终的回答。"),
    )


class ChatCompletionUsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class ChatCompletionMessageSerializer(serializers.Serializer):
    role = serializers.CharField(help_text=_("固定为 assistant。"))
    content = serializers.CharField(help_text=_("回答（等待人工审核时为提示语）。"))
    reasoning_content = serializers.CharField(required=False, help_text=_("模型的推理过程（如有）。"))


class ChatCompletionChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = ChatCompletionMessageSerializer()
    finish_reason = serializers.ChoiceField(
        choices=["stop", "length", "content_filter"],
        help_text=_("stop：完成；length：未完成（如达到最大长度）；content_filter：命中敏感词被拦截。"),
    )
    logprobs = serializers.JSONField(allow_null=True)


class ChatCompletionSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(help_text=_("固定为 chat.completion。"))
    created = serializers.IntegerField()
    model = serializers.CharField(help_text=_("智能体标识。"))
    choices = ChatCompletionChoiceSerializer(many=True)
    usage = ChatCompletionUsageSerializer(
        help_text=_("本次运行的 token 用量（含工具调用和结构化修复等全部模型调用）。")
    )
    shuzhi = ShuzhiRunSerializer(help_text=_("平台的附加信息：运行编号、审核状态、引用出处等。"))
