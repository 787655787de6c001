"""POST /api/v1/agents/<identifier>/runs: run an agent, blocking or streamed."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from tenants.models import ApiKey

from ... import labels
from ...models import Run
from ..schema import sse_event_schema
from .http import api_endpoint, json_object, validated
from .serializers import AgentRunSerializer, RunResultSerializer, run_result
from .streams import rest_event_stream, run_begin, run_finished


class AgentRunDocs(APIView):
    """The OpenAPI description of :func:`agent_run` (which serves the requests, outside DRF)."""

    required_scope = ApiKey.Scope.RUN
    error_statuses = (429,)
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="agent_run",
        summary=_("运行智能体"),
        description=_(
            "以该 API 密钥的身份运行智能体的最新发布版本。个人信息脱敏、知识库检索与引用、工具、安全检查、"
            "人工审核和用量计量与工作台对话完全一致；返回的文本中，本密钥提交的个人信息会被还原。"
            "stream 为 false 时等待运行结束后返回运行对象；为 true 时以 text/event-stream 返回事件"
            "（start、sources、tool、reasoning、delta、replace、done；done 的数据即运行对象）。"
            "客户端断开连接时运行仍会完成并保存，可稍后凭运行编号查询。"
            "需要人工审核的智能体在审核通过前不返回回答（text 为空，notice 说明原因）。"
            "模型调用失败时运行状态为 failed，error 说明原因。"
        ),
        parameters=[
            OpenApiParameter(
                "identifier",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description=_("智能体标识：部门编码.智能体标识（见智能体列表的 id）。"),
            )
        ],
        request=AgentRunSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(
                RunResultSerializer, description=_("运行结束（stream 为 false）：运行对象。")
            ),
            (200, "text/event-stream"): OpenApiResponse(
                sse_event_schema(events=["start", "sources", "tool", "reasoning", "delta", "replace", "done"]),
                description=_("流式运行（stream 为 true）：服务器发送事件。"),
            ),
        },
    )
    def post(self, request, identifier: str):
        raise NotImplementedError  # documentation only


@api_endpoint(methods=("POST",), docs=AgentRunDocs)
async def agent_run(request, key, identifier: str):
    """Run ``identifier`` for the key; see :class:`AgentRunDocs`."""
    body = validated(AgentRunSerializer, json_object(request))
    agent, shown = await run_begin(
        key=key,
        identifier=identifier,
        via=Run.Via.API,
        message=body["message"],
        form_values=body["form"],
        conversation=body["conversation"],
    )
    if body["stream"]:
        return rest_event_stream(shown=shown, key=key, agent=agent)
    run = await run_finished(shown)
    response = JsonResponse(
        await sync_to_async(run_result)(run=run, key=key), json_dumps_params={"ensure_ascii": False}
    )
    labels.label_headers(response, run)
    return response
