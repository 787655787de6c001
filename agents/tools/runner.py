"""Run a tool call an agent's model asked for: validate the arguments, run the tool, shape the result.

``tool_definitions`` turns tools into the ``tools`` parameter of a chat completion; ``tool_execute``
runs one call. Built-in tools run here, in the caller's thread (their database reads must see the
caller's transaction); HTTP tools go to ``agents.tools.http``, MCP servers' tools to ``agents.mcp.client``. Nothing the model sends makes
``tool_execute`` raise: invalid JSON, arguments that do not fit the tool's schema, an unknown or
switched-off tool and a failing tool all come back as ``ok=False`` with a Chinese sentence the model
can read and act on.

What the model sees (``content``) is compact JSON; when the run masks personal data, every string in
it, and in the ``data`` recorded in the run's trace, goes through the run's masker first.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from ..models import Tool
from ..privacy.masking import Masker
from .builtin import BUILTIN_TOOLS
from .common import ToolError, dumps, mask_value, validate_arguments
from .handlers import BUILTIN_HANDLERS

logger = logging.getLogger(__name__)


@dataclass
class ToolContext:
    """Who a tool runs for and what it may use."""

    department_id: int | None
    principal: object  # the user (or API key) the agent runs for
    knowledge_base_ids: list[int]  # the agent's knowledge bases, already narrowed to readable ones
    masker: Masker | None  # when set, everything a tool returns to the model is masked with it
    complete: Callable[[list[dict]], str] | None = None  # one chat call to the agent's model; None: no model
    now: datetime | None = None  # for current_datetime (default: now)


@dataclass
class ToolOutcome:
    """The result of one tool call."""

    ok: bool
    content: str  # what the model sees: compact JSON (masked when the context has a masker)
    data: Any  # JSON-serialisable structured result, recorded in the run's trace
    error: str = ""  # a clear Chinese sentence when ok is False
    citations: list[dict] = field(default_factory=list)  # knowledge_search: one per passage found
    elapsed_ms: int = 0


def tool_schema(tool: Tool) -> dict:
    """The JSON schema of the arguments the model chooses (a built-in's comes from its declaration, never
    stale); the tool's fixed arguments are left out: the model neither sees nor sets them."""
    if tool.builtin and tool.builtin in BUILTIN_TOOLS:
        return BUILTIN_TOOLS[tool.builtin]["parameters"]
    schema = tool.parameters_schema or {"type": "object", "properties": {}}
    fixed = tool.fixed_arguments or {}
    if not fixed:
        return schema
    return {
        **schema,
        "properties": {k: v for k, v in (schema.get("properties") or {}).items() if k not in fixed},
        "required": [name for name in schema.get("required") or [] if name not in fixed],
    }


def tool_definitions(tools: Iterable[Tool]) -> list[dict]:
    """The tools as entries of the OpenAI ``tools`` parameter."""
    definitions = []
    for tool in tools:
        description = tool.description
        if tool.builtin in BUILTIN_TOOLS and not description:
            description = str(BUILTIN_TOOLS[tool.builtin]["description"])
        definitions.append(
            {
                "type": "function",
                "function": {"name": tool.function_name, "description": description, "parameters": tool_schema(tool)},
            }
        )
    return definitions


def _failure(message: str, started: float, data: Any = None) -> ToolOutcome:
    return ToolOutcome(
        ok=False,
        content=dumps({"error": message}),
        data=data,
        error=message,
        elapsed_ms=round((time.perf_counter() - started) * 1000),
    )


def _parse_arguments(arguments: dict | str | None) -> dict:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise ToolError(
                _("参数不是有效的 JSON（第 %(pos)s 个字符附近），请按工具的参数说明重新生成。") % {"pos": exc.pos + 1}
            ) from exc
        if isinstance(parsed, dict):
            return parsed
    raise ToolError(_('参数应为 JSON 对象，例如 {"text": "…"}。'))


def tool_execute(*, tool: Tool, arguments: dict | str, context: ToolContext) -> ToolOutcome:
    """Run one call of ``tool`` with the model's ``arguments``; never raises for what the model sent."""
    started = time.perf_counter()
    if tool is None:
        return _failure(_("没有这个工具。"), started)
    if not tool.is_active:
        return _failure(_("工具“%(name)s”已停用，请不要再调用它。") % {"name": tool.name}, started)
    try:
        parsed = _parse_arguments(arguments)
        validate_arguments(tool_schema(tool), parsed)
    except ToolError as exc:
        return _failure(str(exc), started)
    if not tool.builtin and tool.fixed_arguments:
        parsed = {**parsed, **tool.fixed_arguments}  # fixed by the admin: they win over anything the model sent
    if tool.is_mcp:
        return _mcp_execute(tool=tool, arguments=parsed, context=context, started=started)
    if tool.is_http:
        return _http_execute(tool=tool, arguments=parsed, context=context, started=started)
    handler = BUILTIN_HANDLERS.get(tool.builtin)
    if handler is None:
        return _failure(_("未知的内置工具“%(key)s”。") % {"key": tool.builtin}, started)
    try:
        result = handler(arguments=parsed, context=context)
    except ToolError as exc:
        return _failure(str(exc), started)
    except Exception:  # a bug in a tool must not end the run; the model is told and the log has the details
        logger.exception("built-in tool %s failed", tool.builtin)
        return _failure(_("工具“%(name)s”运行出错，请稍后再试。") % {"name": tool.name}, started)
    content = dumps(mask_value(result.content, context.masker))
    return ToolOutcome(
        ok=True,
        content=content,
        data=mask_value(result.data, context.masker),
        citations=mask_value(result.citations, context.masker),
        elapsed_ms=round((time.perf_counter() - started) * 1000),
    )


def _mcp_execute(*, tool: Tool, arguments: dict, context: ToolContext, started: float) -> ToolOutcome:
    from ..mcp.client import mcp_tool_call  # imported late: it brings in the MCP client and the egress machinery

    # The arguments go as the model wrote them: personal data stays as its placeholders (never unmasked).
    result = mcp_tool_call(server=tool.mcp_server, name=tool.mcp_tool_name, arguments=arguments)
    masker = context.masker
    content = result.content if result.ok else dumps({"error": result.error, "content": result.content or None})
    return ToolOutcome(
        ok=result.ok,
        content=masker.mask(content) if masker and content else content,
        data=mask_value(result.data, masker),
        error=result.error,
        elapsed_ms=result.elapsed_ms or round((time.perf_counter() - started) * 1000),
    )


def _http_execute(*, tool: Tool, arguments: dict, context: ToolContext, started: float) -> ToolOutcome:
    from .http import http_tool_call  # imported late: it brings in the egress machinery

    try:
        result = http_tool_call(tool=tool, arguments=arguments)
    except Exception:  # the executor reports failures itself; this is the last guard
        logger.exception("HTTP tool %s failed", tool.pk)
        return _failure(_("工具“%(name)s”调用出错，请稍后再试。") % {"name": tool.name}, started)
    content = getattr(result, "content", None)
    if content is None:
        content = result.for_model()
    masker = context.masker
    return ToolOutcome(
        ok=result.ok,
        content=masker.mask(content) if masker and content else content,
        data=mask_value(result.data, masker),
        error=result.error,
        elapsed_ms=result.elapsed_ms or round((time.perf_counter() - started) * 1000),
    )
