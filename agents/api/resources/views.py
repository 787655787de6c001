"""REST resources: thin views over the selectors (every read narrowed to the calling key)."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.models import ApiKey

from ...models import Agent, Conversation, Document, KnowledgeBase, Run
from ...reports.selectors import MAX_PERIOD_DAYS
from ..errors import error_response
from . import selectors
from .serializers import (
    AgentSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    KnowledgeBaseSerializer,
    RunSerializer,
)
from .usage import UsageQuerySerializer, UsageSerializer


class ApiPagination(LimitOffsetPagination):
    """``limit`` (at most 200, 50 by default) and ``offset``."""

    max_limit = 200


class KeyListView(generics.ListAPIView):
    pagination_class = ApiPagination
    model: type

    @property
    def key(self) -> ApiKey:
        return self.request.user

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no key
            return self.model.objects.none()
        return self.list_queryset()

    def list_queryset(self):
        raise NotImplementedError


# --------------------------------------------------------------------------- agents

IDENTIFIER = OpenApiParameter(
    "identifier", OpenApiTypes.STR, OpenApiParameter.PATH, description=_("智能体标识（部门编码.智能体标识）。")
)


@extend_schema_view(
    get=extend_schema(
        summary=_("可调用的智能体"),
        description=_("该 API 密钥可以调用的已发布智能体（需要“运行智能体”权限）。"),
    )
)
class AgentList(KeyListView):
    required_scope = ApiKey.Scope.RUN
    serializer_class = AgentSerializer
    model = Agent

    def list_queryset(self):
        return selectors.api_agents_list(key=self.key)


@extend_schema_view(
    get=extend_schema(
        summary=_("智能体详情"),
        description=_("智能体的表单字段、输出方式和是否需要审核，以其最新发布版本为准。"),
        parameters=[IDENTIFIER],
    )
)
class AgentDetail(generics.RetrieveAPIView):
    required_scope = ApiKey.Scope.RUN
    serializer_class = AgentSerializer

    def get_object(self) -> Agent:
        return selectors.api_agent_get(key=self.request.user, identifier=self.kwargs["identifier"])


# --------------------------------------------------------------------------- runs


class RunFilterSerializer(serializers.Serializer):
    agent = serializers.CharField(required=False, max_length=120, help_text=_("只列出该智能体（标识）的运行记录。"))
    status = serializers.ChoiceField(
        required=False, choices=Run.Status.choices, help_text=_("只列出该状态的运行记录。")
    )
    since = serializers.DateTimeField(
        required=False, help_text=_("只列出此时刻（ISO 8601，例如 2025-06-01T08:00:00+08:00）之后开始的运行记录。")
    )


@extend_schema_view(
    get=extend_schema(
        summary=_("运行记录"),
        description=_("该 API 密钥自己的运行记录，新的在前。"),
        parameters=[RunFilterSerializer],
    )
)
class RunList(KeyListView):
    required_scope = ApiKey.Scope.RUN
    serializer_class = RunSerializer
    model = Run

    def list_queryset(self):
        filters = RunFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.api_runs_list(key=self.key, **filters.validated_data)


@extend_schema_view(
    get=extend_schema(
        summary=_("运行记录详情"),
        description=_("输入和输出按调用方发送和收到的原样返回（含个人信息）；需要审核时，审核通过后才有输出。"),
    )
)
class RunDetail(generics.RetrieveAPIView):
    required_scope = ApiKey.Scope.RUN
    serializer_class = RunSerializer

    def get_object(self) -> Run:
        return selectors.api_run_get(key=self.request.user, run_id=self.kwargs["pk"])


# --------------------------------------------------------------------------- conversations


@extend_schema_view(get=extend_schema(summary=_("会话"), description=_("该 API 密钥自己的会话。")))
class ConversationList(KeyListView):
    required_scope = ApiKey.Scope.RUN
    serializer_class = ConversationSerializer
    model = Conversation

    def list_queryset(self):
        return selectors.api_conversations_list(key=self.key)


@extend_schema_view(get=extend_schema(summary=_("会话详情"), description=_("会话及其中的运行记录。")))
class ConversationDetail(generics.RetrieveAPIView):
    required_scope = ApiKey.Scope.RUN
    serializer_class = ConversationDetailSerializer

    def get_object(self) -> Conversation:
        return selectors.api_conversation_get(key=self.request.user, conversation_id=self.kwargs["pk"])

    def retrieve(self, request, *args, **kwargs):
        conversation = self.get_object()
        runs = selectors.api_conversation_runs(key=request.user, conversation=conversation)
        context = {**self.get_serializer_context(), "runs": runs}
        return Response(self.get_serializer(conversation, context=context).data)


# --------------------------------------------------------------------------- knowledge


@extend_schema_view(
    get=extend_schema(
        summary=_("知识库"),
        description=_("本部门的知识库（需要“管理知识库”权限）。"),
    )
)
class KnowledgeBaseList(KeyListView):
    required_scope = ApiKey.Scope.KNOWLEDGE
    serializer_class = KnowledgeBaseSerializer
    model = KnowledgeBase

    def list_queryset(self):
        return selectors.api_knowledge_bases_list(key=self.key)


@extend_schema_view(
    get=extend_schema(
        summary=_("知识库中的文档"),
        description=_("知识库中的文档及其处理状态，新上传的在前。"),
    ),
    post=extend_schema(
        summary=_("上传文档"),
        description=_(
            "以 multipart/form-data 上传一个文档。文件类型按内容判断，须与扩展名一致；同一知识库中已有相同内容的文件时拒绝。"
            "上传后文档排队，由后台解析、分段和向量化；用“文档详情”查看进度。"
        ),
        request=DocumentUploadSerializer,
        responses={201: DocumentSerializer},
    ),
)
class KnowledgeBaseDocuments(KeyListView):
    required_scope = ApiKey.Scope.KNOWLEDGE
    serializer_class = DocumentSerializer
    parser_classes = [MultiPartParser]
    model = Document

    def knowledge_base(self) -> KnowledgeBase:
        return selectors.api_knowledge_base_get(key=self.key, knowledge_base_id=self.kwargs["pk"])

    def list_queryset(self):
        return selectors.api_documents_list(key=self.key, knowledge_base=self.knowledge_base())

    def post(self, request, *args, **kwargs):
        from .services import api_document_upload

        knowledge_base = self.knowledge_base()
        upload = DocumentUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        fields = dict(upload.validated_data)
        uploaded = fields.pop("file")
        try:
            document = api_document_upload(
                key=self.key, knowledge_base=knowledge_base, uploaded_file=uploaded, **fields
            )
        except DjangoValidationError as exc:
            if getattr(exc, "code", None) == "file_too_large":
                return error_response(
                    status_code=413,
                    code="file_too_large",
                    message=exc.messages[0],
                    fields={"file": [gettext("文件过大。")]},
                )
            raise serializers.ValidationError({"file": exc.messages}) from exc
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        summary=_("文档详情"),
        description=_("文档的处理状态、失败原因、段落数和有效期。"),
    )
)
class DocumentDetail(generics.RetrieveAPIView):
    required_scope = ApiKey.Scope.KNOWLEDGE
    serializer_class = DocumentSerializer

    def get_object(self) -> Document:
        return selectors.api_document_get(key=self.request.user, document_id=self.kwargs["pk"])


# --------------------------------------------------------------------------- usage


@extend_schema_view(
    get=extend_schema(
        summary=_("用量"),
        description=_(
            "本部门在一段时间内的用量（需要“读取用量”权限）：总体数据及与上一周期的对比、各智能体的用量，"
            "以及本部门和该 API 密钥今日、本月的 token 用量与配额。"
        ),
        parameters=[UsageQuerySerializer],
        responses={200: UsageSerializer},
    )
)
class Usage(APIView):
    required_scope = ApiKey.Scope.REPORTS

    def get(self, request):
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        today = timezone.localdate()
        end = min(query.validated_data.get("end") or today, today)
        start = query.validated_data.get("start") or end - timedelta(days=6)
        if start > end:
            raise serializers.ValidationError({"start": [gettext("开始日期不能晚于结束日期（或今天）。")]})
        if (end - start).days >= MAX_PERIOD_DAYS:
            raise serializers.ValidationError(
                {"start": [gettext("时间段不能超过 %(days)s 天。") % {"days": MAX_PERIOD_DAYS}]}
            )
        usage = selectors.api_usage(key=request.user, start=start, end=end)
        return Response(UsageSerializer(usage).data)
