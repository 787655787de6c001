"""What the REST resources answer, and the one body they accept (a document upload).

Output serializers declare every field (that is what the OpenAPI schema documents) and take the
model instance; ``to_representation`` first turns it into the dict the caller may see (texts unmasked
only for the key that made the run, the review decision respected), so a view never builds one by hand.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ... import labels
from ...catalog.areas import Area
from ...models import Agent, Conversation, Document, KnowledgeBase, Run
from ...prompts.variables import VariableType
from ...runtime.visibility import sources_of, visible_run
from ..serializers import StrictSerializer

# --------------------------------------------------------------------------- agents


class FormFieldSerializer(serializers.Serializer):
    name = serializers.CharField(help_text=_("字段名：运行时在请求的 form 中使用。"))
    label = serializers.CharField(help_text=_("显示名称。"))
    type = serializers.ChoiceField(choices=VariableType.choices, help_text=_("字段类型。"))
    required = serializers.BooleanField(help_text=_("是否必填。"))
    choices = serializers.ListField(child=serializers.CharField(), help_text=_("选项类字段的可选值。"))
    help = serializers.CharField(allow_blank=True, help_text=_("填写提示。"))
    example = serializers.CharField(allow_blank=True, help_text=_("示例值。"))


class AgentSerializer(serializers.Serializer):
    """An agent the key may call, as its latest published version defines it."""

    id = serializers.CharField(help_text=_("智能体标识（部门编码.智能体标识），调用时使用。"))
    name = serializers.CharField(help_text=_("名称。"))
    description = serializers.CharField(allow_blank=True, help_text=_("简介。"))
    icon = serializers.CharField(help_text=_("图标（一个表情符号）。"))
    department = serializers.CharField(help_text=_("智能体所属部门。"))
    area = serializers.ChoiceField(choices=Area.choices, help_text=_("场景分类。"))
    area_label = serializers.CharField(help_text=_("场景分类的名称。"))
    version = serializers.IntegerField(help_text=_("当前发布版本的版本号。"))
    published_at = serializers.DateTimeField(help_text=_("当前版本的发布时间。"))
    form_fields = FormFieldSerializer(many=True, help_text=_("表单字段（运行时通过请求的 form 填写）。"))
    output_mode = serializers.ChoiceField(choices=Agent.OutputMode.choices, help_text=_("输出方式。"))
    output_schema = serializers.JSONField(
        allow_null=True, help_text=_("结构化输出的 JSON Schema（仅结构化输出的智能体）。")
    )
    requires_review = serializers.BooleanField(help_text=_("输出是否需要人工审核后才交付。"))

    def to_representation(self, agent: Agent) -> dict:
        version = agent.current_version
        snapshot = version.snapshot
        output = snapshot.get("output") or {}
        area = snapshot.get("area") or Area.OTHER
        return super().to_representation(
            {
                "id": agent.identifier,
                "name": snapshot.get("name") or agent.name,
                "description": snapshot.get("description") or "",
                "icon": snapshot.get("icon") or "",
                "department": agent.department.name,
                "area": area,
                "area_label": Area(area).label if area in Area.values else area,
                "version": version.number,
                "published_at": version.published_at,
                "form_fields": (snapshot.get("template") or {}).get("variables") or [],
                "output_mode": output.get("mode") or Agent.OutputMode.CHAT,
                "output_schema": output.get("schema"),
                "requires_review": bool((snapshot.get("guardrails") or {}).get("requires_review")),
            }
        )


# --------------------------------------------------------------------------- runs


class SourceSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text=_("引用编号（回答中的 [n]）。"))
    citation = serializers.CharField(allow_blank=True, help_text=_("出处。"))
    document_title = serializers.CharField(allow_blank=True, help_text=_("文档标题。"))
    document_number = serializers.CharField(allow_blank=True, help_text=_("文号。"))
    page = serializers.IntegerField(allow_null=True, help_text=_("页码。"))


class RunUsageSerializer(serializers.Serializer):
    input_tokens = serializers.IntegerField(help_text=_("输入 token 数。"))
    output_tokens = serializers.IntegerField(help_text=_("输出 token 数。"))
    estimated = serializers.BooleanField(help_text=_("token 数是否为估算值。"))


class AiLabelMetadataSerializer(serializers.Serializer):
    """GB 45438-2025's implicit-label fields, with the standard's names."""

    Label = serializers.CharField(help_text=_("生成合成标签：1 表示人工智能生成合成内容。"))
    ContentProducer = serializers.CharField(help_text=_("服务提供者名称。"))
    ProduceID = serializers.CharField(help_text=_("内容制作编号（运行的公开编号）。"))
    ReservedCode1 = serializers.CharField(allow_blank=True)
    ContentPropagator = serializers.CharField(allow_blank=True)
    PropagateID = serializers.CharField(allow_blank=True)
    ReservedCode2 = serializers.CharField(allow_blank=True)


class AiLabelSerializer(serializers.Serializer):
    """The AI-generated content label of an answer (``agents.labels``)."""

    generated = serializers.BooleanField(help_text=_("是否为人工智能生成的内容（须标注）。"))
    text = serializers.CharField(allow_blank=True, help_text=_("展示回答时须同时展示的显式标识文字。"))
    provider = serializers.CharField(allow_blank=True, help_text=_("服务提供者名称。"))
    content_id = serializers.CharField(allow_blank=True, help_text=_("内容编号：运行的公开编号。"))
    metadata = AiLabelMetadataSerializer(
        allow_null=True, help_text=_("GB 45438-2025 隐式标识元数据；无需标注时为 null。")
    )


class RunSerializer(serializers.Serializer):
    """One run the key made, its texts as the key sent and received them."""

    id = serializers.IntegerField(help_text=_("运行记录编号。"))
    agent = serializers.CharField(help_text=_("智能体标识。"))
    agent_name = serializers.CharField(help_text=_("智能体名称。"))
    version = serializers.IntegerField(allow_null=True, help_text=_("所用的智能体版本号。"))
    conversation = serializers.IntegerField(allow_null=True, help_text=_("所属会话编号。"))
    via = serializers.ChoiceField(choices=Run.Via.choices, help_text=_("入口。"))
    status = serializers.ChoiceField(choices=Run.Status.choices, help_text=_("运行状态。"))
    status_label = serializers.CharField(help_text=_("运行状态的名称。"))
    error = serializers.CharField(allow_blank=True, help_text=_("失败或被拦截的原因。"))
    input = serializers.CharField(allow_blank=True, help_text=_("输入的问题。"))
    form_values = serializers.DictField(child=serializers.CharField(allow_blank=True), help_text=_("填写的表单。"))
    review_status = serializers.ChoiceField(
        choices=Run.Review.choices, allow_blank=True, help_text=_("审核状态；空表示无需审核。")
    )
    review_reason = serializers.CharField(allow_blank=True, help_text=_("审核意见（驳回时的理由）。"))
    text = serializers.CharField(
        allow_blank=True, help_text=_("可以使用的输出：审核通过（或修改后通过）的文本；待审核或被驳回时为空。")
    )
    data = serializers.JSONField(
        allow_null=True, help_text=_("结构化输出的结果（仅结构化输出的智能体，规则同 text）。")
    )
    retrieval_only = serializers.BooleanField(help_text=_("是否为仅检索模式（未调用大模型）。"))
    ai_generated = serializers.BooleanField(help_text=_("输出是否须标注“AI 生成”。"))
    ai_label = AiLabelSerializer(help_text=_("AI 生成内容标识：显式标识的文字和隐式标识（GB 45438-2025 的元数据）。"))
    sources = SourceSerializer(many=True, help_text=_("回答引用的知识库出处。"))
    usage = RunUsageSerializer(help_text=_("token 用量。"))
    started_at = serializers.DateTimeField(help_text=_("开始时间。"))
    finished_at = serializers.DateTimeField(allow_null=True, help_text=_("结束时间。"))
    latency_ms = serializers.IntegerField(allow_null=True, help_text=_("总耗时（毫秒）。"))

    def to_representation(self, run: Run) -> dict:
        return super().to_representation(run_representation(run=run, key=self.context["request"].user))


def run_representation(*, run: Run, key) -> dict:
    """A run as ``key`` may see it (see :class:`RunSerializer` and ``runtime.visibility``): personal
    data restored only for the key that made the run, an answer awaiting review withheld."""
    view = visible_run(run=run, viewer=key)
    show = view.show
    return {
        "id": run.pk,
        "agent": run.agent.identifier,
        "agent_name": run.agent.name,
        "version": run.version.number if run.version_id else None,
        "conversation": run.conversation_id,
        "via": run.via,
        "status": run.status,
        "status_label": run.get_status_display(),
        "error": run.error,
        "input": show(run.input_text),
        "form_values": {name: show(str(value)) for name, value in (run.form_values or {}).items()},
        "review_status": run.review_status,
        "review_reason": run.review_reason if run.review_status == Run.Review.REJECTED else "",
        "text": view.text,
        "data": view.data,
        "retrieval_only": run.retrieval_only,
        "ai_generated": run.ai_label,
        "ai_label": labels.api_label(run),
        "sources": sources_of(run.retrieved),
        "usage": {
            "input_tokens": run.input_tokens,
            "output_tokens": run.output_tokens,
            "estimated": run.tokens_estimated,
        },
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "latency_ms": run.latency_ms,
    }


# --------------------------------------------------------------------------- conversations


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("会话编号。"))
    agent = serializers.CharField(help_text=_("智能体标识。"))
    title = serializers.CharField(allow_blank=True, help_text=_("标题。"))
    run_count = serializers.IntegerField(help_text=_("会话中的运行次数。"))
    created_at = serializers.DateTimeField(help_text=_("创建时间。"))
    updated_at = serializers.DateTimeField(help_text=_("最近活动时间。"))

    def to_representation(self, conversation: Conversation) -> dict:
        return super().to_representation(self.present(conversation))

    def present(self, conversation: Conversation) -> dict:
        return {
            "id": conversation.pk,
            "agent": conversation.agent.identifier,
            "title": conversation.title,
            "run_count": getattr(conversation, "run_count", 0),
            "created_at": conversation.created_at,
            "updated_at": conversation.updated_at,
        }


class ConversationDetailSerializer(ConversationSerializer):
    """A conversation with its runs (the view puts them in the context as ``runs``)."""

    runs = RunSerializer(many=True, help_text=_("会话中的运行记录，按时间先后。"))

    def present(self, conversation: Conversation) -> dict:
        return {**super().present(conversation), "runs": self.context["runs"]}


# --------------------------------------------------------------------------- knowledge


class KnowledgeBaseSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("知识库编号。"))
    name = serializers.CharField(help_text=_("名称。"))
    description = serializers.CharField(allow_blank=True, help_text=_("说明。"))
    document_count = serializers.IntegerField(help_text=_("启用的文档数。"))
    contains_personal_data = serializers.BooleanField(help_text=_("文档中的个人信息是否在入库前脱敏。"))
    created_at = serializers.DateTimeField(help_text=_("创建时间。"))

    def to_representation(self, knowledge_base: KnowledgeBase) -> dict:
        return super().to_representation(
            {
                "id": knowledge_base.pk,
                "name": knowledge_base.name,
                "description": knowledge_base.description,
                "document_count": getattr(knowledge_base, "document_count", 0),
                "contains_personal_data": knowledge_base.contains_personal_data,
                "created_at": knowledge_base.created_at,
            }
        )


class DocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("文档编号。"))
    knowledge_base = serializers.IntegerField(help_text=_("所属知识库编号。"))
    title = serializers.CharField(help_text=_("标题。"))
    number = serializers.CharField(allow_blank=True, help_text=_("文号。"))
    issuer = serializers.CharField(allow_blank=True, help_text=_("发文机关。"))
    effective_date = serializers.DateField(allow_null=True, help_text=_("生效日期。"))
    expiry_date = serializers.DateField(allow_null=True, help_text=_("失效日期。"))
    in_force = serializers.BooleanField(help_text=_("今天是否在有效期内（未生效或已失效的文档不用于回答）。"))
    tags = serializers.ListField(child=serializers.CharField(), help_text=_("标签。"))
    file_name = serializers.CharField(help_text=_("上传时的文件名。"))
    size = serializers.IntegerField(help_text=_("文件大小（字节）。"))
    kind = serializers.CharField(allow_blank=True, help_text=_("文件格式（解析后得知）。"))
    status = serializers.ChoiceField(choices=Document.Status.choices, help_text=_("处理状态。"))
    status_label = serializers.CharField(help_text=_("处理状态的名称。"))
    progress = serializers.IntegerField(help_text=_("处理进度（0–100）。"))
    error = serializers.CharField(allow_blank=True, help_text=_("处理失败的原因。"))
    passage_count = serializers.IntegerField(help_text=_("入库的段落数。"))
    is_active = serializers.BooleanField(help_text=_("是否启用（停用的文档不用于回答）。"))
    created_at = serializers.DateTimeField(help_text=_("上传时间。"))
    updated_at = serializers.DateTimeField(help_text=_("状态更新时间。"))

    def to_representation(self, document: Document) -> dict:
        today = timezone.localdate()
        in_force = (document.effective_date is None or document.effective_date <= today) and (
            document.expiry_date is None or document.expiry_date >= today
        )
        return super().to_representation(
            {
                "id": document.pk,
                "knowledge_base": document.knowledge_base_id,
                "title": document.title,
                "number": document.number,
                "issuer": document.issuer,
                "effective_date": document.effective_date,
                "expiry_date": document.expiry_date,
                "in_force": in_force,
                "tags": document.tags or [],
                "file_name": document.original_name,
                "size": document.size,
                "kind": document.kind,
                "status": document.status,
                "status_label": document.get_status_display(),
                "progress": document.progress,
                "error": document.error,
                "passage_count": document.passage_count,
                "is_active": document.is_active,
                "created_at": document.created_at,
                "updated_at": document.updated_at,
            }
        )


class DocumentUploadSerializer(StrictSerializer):
    """A document to add to a knowledge base (multipart/form-data)."""

    file = serializers.FileField(
        help_text=_("文件：PDF、Word（.docx）、TXT、Markdown 或 HTML；类型按内容判断，须与扩展名一致。")
    )
    title = serializers.CharField(
        required=False, allow_blank=True, max_length=300, help_text=_("标题；留空时使用文件名。")
    )
    number = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text=_("文号。"))
    issuer = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text=_("发文机关。"))
    effective_date = serializers.DateField(
        required=False, allow_null=True, help_text=_("生效日期（YYYY-MM-DD）；生效前不用于回答。")
    )
    expiry_date = serializers.DateField(
        required=False, allow_null=True, help_text=_("失效日期（YYYY-MM-DD）；失效后不再用于回答。")
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50),
        required=False,
        max_length=20,
        help_text=_("标签（可重复此字段给出多个）。"),
    )

    def validate(self, attrs: dict) -> dict:
        start, end = attrs.get("effective_date"), attrs.get("expiry_date")
        if start and end and end < start:
            raise serializers.ValidationError({"expiry_date": [gettext("失效日期不能早于生效日期。")]})
        return attrs
