"""The OpenAI-compatible API: /v1/models lists the agents a key may call, /v1/chat/completions runs one.

``model`` is the agent's identifier and the agent's latest published version answers: its prompt,
knowledge bases, tools, guardrails and review apply exactly as in the chat (the one runtime runs it,
``via=openai``), so the caller's system messages and sampling parameters are accepted and ignored,
except ``max_tokens``, which may shorten the answer (``finish_reason: "length"``).
Answers carry the usage of the stored run and an extra ``shuzhi`` object (run id, review status,
sources). Errors use OpenAI's shape (``{"error": {...}}``), which is the platform's one error format.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.models import ApiKey

from ... import labels
from ...models import Agent, Run
from ...runtime.visibility import Shown, review_notice, sources_of, visible_run
from ..running.http import ModelFailed, api_endpoint, json_object, validated
from ..running.services import agent_for_key
from ..running.streams import event_stream_response, run_begin, run_finished
from ..schema import sse_event_schema
from .serializers import (
    ChatCompletionCreateSerializer,
    ChatCompletionSerializer,
    OpenAiModelListSerializer,
    OpenAiModelSerializer,
    conversation_of,
)

FINISH_REASONS = {
    Run.Status.SUCCEEDED: "stop",
    Run.Status.INCOMPLETE: "length",
    Run.Status.BLOCKED: "content_filter",
}

# --------------------------------------------------------------------------- models


def _model(agent: Agent) -> dict:
    version = agent.current_version
    return {
        "id": agent.identifier,
        "object": "model",
        "created": int(version.published_at.timestamp()) if version else 0,
        "owned_by": agent.department.name,
        "name": agent.name,
        "description": agent.description,
    }


class ModelList(APIView):
    required_scope = ApiKey.Scope.RUN

    @extend_schema(
        operation_id="openai_models_list",
        summary=gettext_lazy("列出可调用的智能体（OpenAI 兼容）"),
        description=gettext_lazy("该 API 密钥可以调用的已发布智能体；id 即调用 /v1/chat/completions 时的 model。"),
        responses=OpenAiModelListSerializer,
    )
    def get(self, request):
        agents = Agent.objects.usable_by(request.user).select_related("department", "current_version")
        return Response({"object": "list", "data": [_model(agent) for agent in agents]})


class ModelDetail(APIView):
    required_scope = ApiKey.Scope.RUN

    @extend_schema(
        operation_id="openai_models_retrieve",
        summary=gettext_lazy("读取一个可调用的智能体（OpenAI 兼容）"),
        parameters=[
            OpenApiParameter("model", OpenApiTypes.STR, OpenApiParameter.PATH, description=gettext_lazy("智能体标识。"))
        ],
        responses=OpenAiModelSerializer,
    )
    def get(self, request, model: str):
        return Response(_model(agent_for_key(key=request.user, identifier=model)))


class ModelListSlash(ModelList):
    """``/v1/models/``: the same list, left out of the schema (one address is documented)."""

    @extend_schema(exclude=True)
    def get(self, request):
        return super().get(request)


class ModelDetailSlash(ModelDetail):
    """``/v1/models/<model>/``: the same agent, left out of the schema."""

    @extend_schema(exclude=True)
    def get(self, request, model: str):
        return super().get(request, model)


# --------------------------------------------------------------------------- chat completions


def completion_id(run: Run) -> str:
    """The completion's id: opaque (no run count shows through it); ``Run.uuid`` finds the run again."""
    return f"chatcmpl-{run.uuid.hex}"


def _usage(run: Run) -> dict:
    return {
        "prompt_tokens": run.input_tokens,
        "completion_tokens": run.output_tokens,
        "total_tokens": run.input_tokens + run.output_tokens,
    }


def _shuzhi(run: Run) -> dict:
    return {
        "run_id": run.pk,
        "status": run.status,
        "review_status": run.review_status,
        "notice": review_notice(run),
        "error": run.error,
        "retrieval_only": run.retrieval_only,
        "ai_generated": run.ai_label,
        "ai_label": labels.api_label(run),
        "sources": sources_of(run.retrieved),
    }


class ContextLengthExceeded(ModelFailed):
    """The conversation does not fit the agent's model (400 ``context_length_exceeded``, as OpenAI answers)."""

    status_code = 400
    default_code = "context_length_exceeded"


def _failure(run: Run) -> ModelFailed:
    if (run.guardrails or {}).get("model_error") == "context_length_exceeded":
        return ContextLengthExceeded(
            message=_(
                "对话内容超出了智能体所用模型的上下文长度，请减少历史消息或缩短问题：%(error)s（运行编号 %(id)s）"
            )
            % {"error": run.error, "id": run.pk},
            run_id=run.pk,
        )
    return ModelFailed(
        message=_("模型调用失败，未能生成回答：%(error)s（运行编号 %(id)s）")
        % {"error": run.error or _("模型服务不可用"), "id": run.pk},
        run_id=run.pk,
    )


def _completion(*, run: Run, key: ApiKey, model: str) -> dict:
    """The finished run as an OpenAI ``chat.completion``, its texts as the key may see them (the delivery is logged)."""
    view = visible_run(run=run, viewer=key)
    message = {"role": "assistant", "content": view.text or view.notice}
    if view.reasoning:
        message["reasoning_content"] = view.reasoning
    labels.api_delivery_logged(run=run, key=key)
    return {
        "id": completion_id(run),
        "object": "chat.completion",
        "created": int(run.started_at.timestamp()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": FINISH_REASONS.get(run.status, "stop"), "logprobs": None}
        ],
        "usage": _usage(run),
        "shuzhi": _shuzhi(run),
    }


async def _chunks(
    *, head: list[Shown], rest: AsyncIterator[Shown], run: Run, key: ApiKey, model: str, include_usage: bool
) -> AsyncIterator[str]:
    """The run as ``chat.completion.chunk`` events, then ``data: [DONE]``.

    A chunk cannot take back what was sent: when the answer is replaced by one that does not continue
    it (a blocking word, a repaired structured answer), the last chunk's ``shuzhi.content`` carries the
    final answer. An answer that awaits review is sent (as its notice) only once the run has finished.
    """
    base = {"id": completion_id(run), "object": "chat.completion.chunk", "created": int(run.started_at.timestamp())}
    base["model"] = model

    def chunk(delta: dict, finish_reason: str | None = None, **extra) -> str:
        body = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if include_usage:
            body["usage"] = None
        body.update(extra)
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    async def items():
        for item in head:
            yield item
        async for item in rest:
            yield item

    yield chunk({"role": "assistant", "content": ""})
    sent = answer = ""
    finished = None
    async for item in items():
        if item.kind == "reasoning":
            yield chunk({"reasoning_content": item.text})
        elif item.kind == "delta":
            answer += item.text
            if sent == answer[: len(sent)]:
                sent = answer
                yield chunk({"content": item.text})
        elif item.kind == "replace":
            if item.text.startswith(sent) and item.text != sent:
                yield chunk({"content": item.text[len(sent) :]})
                sent = item.text
            answer = item.text
        elif item.kind == "done":
            finished = item.run
    if finished is None:  # unreachable: "done" always ends the items
        return
    extra = await sync_to_async(_completion)(run=finished, key=key, model=model)
    shuzhi = extra["shuzhi"]
    if not sent and not answer:  # withheld for review (or nothing came): the delivered text or the notice
        content = extra["choices"][0]["message"]["content"]
        if content:
            yield chunk({"content": content})
    elif answer != sent:
        shuzhi = {**shuzhi, "content": extra["choices"][0]["message"]["content"]}
    yield chunk({}, extra["choices"][0]["finish_reason"], shuzhi=shuzhi)
    if include_usage:
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': extra['usage']}, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


class ChatCompletionsDocs(APIView):
    """The OpenAPI description of :func:`chat_completions` (which serves the requests, outside DRF)."""

    required_scope = ApiKey.Scope.RUN
    error_statuses = (429, 502)
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="openai_chat_completions",
        summary=gettext_lazy("运行智能体（OpenAI 兼容）"),
        description=gettext_lazy(
            "与 OpenAI Chat Completions 接口兼容，官方 openai 客户端可直接使用（base_url 为平台地址加 /v1）。"
            "model 为智能体标识，运行其最新发布版本。最后一条 user 消息是本次问题，此前的 user/assistant 消息"
            "作为上下文；system、developer 消息被忽略：智能体使用自己发布的提示词、知识库、工具和安全设置。"
            "temperature、top_p、stop、seed、user、metadata 等采样参数可以提供但不起作用；max_tokens"
            "（或 max_completion_tokens）限制回答长度，不超过智能体配置的上限，达到时 finish_reason 为 length；"
            "n 只能为 1；不支持 tools、functions 和非文本内容。个人信息脱敏、检索、工具、安全检查、人工审核和"
            "用量计量与工作台一致；返回的文本中，本密钥提交的个人信息会被还原。usage 为本次运行的 token 用量。"
            "响应中附加 shuzhi 对象：运行编号、状态、审核状态、是否仅检索、AI 生成标识和引用出处。"
            "需要人工审核的智能体在审核通过前不返回回答，content 为提示语，shuzhi.review_status 为 pending。"
            "stream 为 true 时返回 chat.completion.chunk 事件流，推理过程在 delta.reasoning_content 中，"
            "以 data: [DONE] 结束；stream_options.include_usage 为 true 时在结束前附带 usage。"
            "模型调用失败时返回 502（model_error），错误信息含运行编号。"
        ),
        request=ChatCompletionCreateSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(
                ChatCompletionSerializer, description=gettext_lazy("chat.completion（stream 为 false）。")
            ),
            (200, "text/event-stream"): OpenApiResponse(
                sse_event_schema(), description=gettext_lazy("chat.completion.chunk 事件流（stream 为 true）。")
            ),
        },
    )
    def post(self, request):
        raise NotImplementedError  # documentation only


@api_endpoint(methods=("POST",), docs=ChatCompletionsDocs)
async def chat_completions(request, key: ApiKey):
    """Run the agent named by ``model``; see :class:`ChatCompletionsDocs`."""
    body = validated(ChatCompletionCreateSerializer, json_object(request))
    question, history = conversation_of(body["messages"])
    agent, shown = await run_begin(
        key=key,
        identifier=body["model"],
        via=Run.Via.OPENAI,
        message=question,
        form_values=body["form"],
        history=history,
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
    )
    start = await anext(shown)
    if not body["stream"]:
        run = await run_finished(shown)
        if run.status == Run.Status.FAILED:
            raise _failure(run)
        completion = await sync_to_async(_completion)(run=run, key=key, model=agent.identifier)
        response = JsonResponse(completion, json_dumps_params={"ensure_ascii": False})
        labels.label_headers(response, run)
        return response
    # Nothing is sent before the first text (or the end): a run whose model fails answers 502 instead.
    head: list[Shown] = []
    async for item in shown:
        head.append(item)
        if item.kind in ("delta", "reasoning", "replace", "done"):
            break
    if head and head[-1].kind == "done" and head[-1].run.status == Run.Status.FAILED:
        raise _failure(head[-1].run)
    options = body.get("stream_options") or {}
    response = event_stream_response(
        _chunks(
            head=head,
            rest=shown,
            run=start.run,
            key=key,
            model=agent.identifier,
            include_usage=bool(options.get("include_usage")),
        )
    )
    labels.label_headers(response, start.run)
    return response
