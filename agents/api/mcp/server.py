"""The MCP server: each agent the API key may call is a tool; calling it runs the agent.

A call goes through exactly the path the REST and OpenAI-compatible APIs take (``running.streams.run_begin``,
the one runtime, ``via=mcp``): personal-data masking, quotas, guardrails, review and metering apply as
there, and the answer is what ``visibility`` lets the key see. An agent the key may not call (another
department's, one not listed on the key, an unpublished one) is answered exactly like a name no agent has:
``Unknown tool``. What the caller got wrong (a form value, a reached limit) comes back as a tool result
with ``isError`` and a sentence in the caller's language, so a model using the tool can correct itself.
"""

from __future__ import annotations

import json

import mcp_types as types
from asgiref.sync import sync_to_async
from django.utils import translation
from django.utils.translation import gettext as _
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from rest_framework.exceptions import NotFound

from tenants.models import ApiKey
from tenants.quotas import QuotaExceeded

from ...models import Agent, Run
from ...runtime.access import AgentNotAvailable
from ...runtime.prompting import RunInputInvalid
from ...runtime.visibility import visible_run
from ..running.serializers import run_result
from ..running.services import agent_for_key
from ..running.streams import run_begin, run_finished
from .schema import MESSAGE, form_variables, input_schema, tool_description

SCOPE_KEY = "shuzhi.api_key"  # the authenticated key, put in the ASGI scope by the mount (agents.api.mcp.asgi)
SCOPE_LANGUAGE = "shuzhi.language"


def _caller(ctx) -> tuple[ApiKey, str | None]:
    scope = ctx.request.scope if ctx.request is not None else {}
    key = scope.get(SCOPE_KEY)
    if key is None:  # the mount authenticates every request; this is the last guard
        raise MCPError(types.INVALID_REQUEST, "unauthenticated")
    return key, scope.get(SCOPE_LANGUAGE)


def _tools(key: ApiKey) -> list[types.Tool]:
    agents = Agent.objects.usable_by(key).select_related("department", "current_version")
    return [
        types.Tool(
            name=agent.identifier,
            title=(agent.current_version.snapshot or {}).get("name") or agent.name,
            description=tool_description(agent),
            input_schema=input_schema(agent),
        )
        for agent in agents
    ]


def _unknown(name: str) -> MCPError:
    return MCPError(types.INVALID_PARAMS, _("未知的工具：%(name)s") % {"name": name})


def _agent(key: ApiKey, name: str) -> Agent | None:
    try:
        return agent_for_key(key=key, identifier=name)
    except NotFound:
        return None


def _form_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise RunInputInvalid(_("表单字段的值须为文本或数字。"))
    return "" if value is None else str(value)


def _arguments(agent: Agent, arguments: dict) -> tuple[str, dict]:
    """The question and the form values the call's arguments give."""
    arguments = dict(arguments or {})
    names = {v["name"] for v in form_variables(agent)}
    message = "" if MESSAGE in names else _form_value(arguments.pop(MESSAGE, ""))
    return message, {name: _form_value(value) for name, value in arguments.items()}


def _error(text: str, **structured) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content={"error": text, **structured}, is_error=True
    )


def _answer(*, run: Run, key: ApiKey) -> types.CallToolResult:
    view = visible_run(run=run, viewer=key)
    result = json.loads(json.dumps(run_result(run=run, key=key), ensure_ascii=False, default=str))
    if run.status == Run.Status.FAILED:
        message = _("模型调用失败，未能生成回答：%(error)s（运行编号 %(id)s）") % {
            "error": run.error or _("模型服务不可用"),
            "id": run.pk,
        }
        return types.CallToolResult(content=[types.TextContent(text=message)], structured_content=result, is_error=True)
    text = view.text or view.notice or run.error
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=result)


async def list_tools(ctx, params) -> types.ListToolsResult:
    key, language = _caller(ctx)
    with translation.override(language):
        return types.ListToolsResult(tools=await sync_to_async(_tools)(key))


async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    key, language = _caller(ctx)
    with translation.override(language):
        agent = await sync_to_async(_agent)(key, params.name)
        if agent is None:
            raise _unknown(params.name)
        try:
            message, form = _arguments(agent, params.arguments)
            agent, shown = await run_begin(
                key=key, identifier=params.name, via=Run.Via.MCP, message=message, form_values=form
            )
        except (NotFound, AgentNotAvailable):
            raise _unknown(params.name) from None
        except RunInputInvalid as exc:
            return _error(str(exc))
        except QuotaExceeded as exc:
            return _error(str(exc), retry_after=exc.retry_after)
        run = await run_finished(shown)
        return await sync_to_async(_answer)(run=run, key=key)


def mcp_server() -> Server:
    return Server(
        "shuzhi",
        title=_("数智员工平台"),
        instructions=_("本服务器的每个工具是该 API 密钥可以调用的一个智能体；调用工具即运行智能体的最新发布版本。"),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
