"""The MCP client: list an MCP server's tools, call one. Over streamable HTTP every request goes through
the egress guard (``agents.egress.async_http_client``); a stdio server is a command a platform admin set.

Both functions are synchronous (the runtime runs tools as blocking steps) and never raise for what the
server or the network did: the outcome says what went wrong in a Chinese sentence.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from asgiref.sync import async_to_sync, sync_to_async
from django.utils.translation import gettext as _
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from ..blocking import blocking_runner
from ..egress import EgressDenied, EgressError, async_http_client
from ..models import McpServer

TEXT_LIMIT = 8000  # characters of a tool's text result handed to the model


@dataclass
class McpToolInfo:
    name: str
    title: str
    description: str
    input_schema: dict


@dataclass
class McpCallResult:
    ok: bool
    content: str = ""  # the result's text blocks, joined (what the model reads)
    data: Any = None  # the structured result, when the server gave one
    error: str = ""
    elapsed_ms: int = 0
    tools: list[McpToolInfo] = field(default_factory=list)


async def _in_callers_thread(fn, *args, **kwargs):
    # The client's event loop runs beside the caller (asgiref's async_to_sync); the guard's database reads go
    # back to the caller's thread, on its connection and inside its transaction.
    return await sync_to_async(fn, thread_sensitive=True)(*args, **kwargs)


@contextlib.asynccontextmanager
async def _session(server: McpServer) -> AsyncIterator[ClientSession]:
    timeout = float(server.timeout_seconds or 30)
    if server.transport == McpServer.Transport.STDIO:
        argv = server.argv()
        params = StdioServerParameters(command=argv[0], args=argv[1:])
        async with stdio_client(params) as (read, write, *_rest), ClientSession(read, write, timeout) as session:
            await session.initialize()
            yield session
        return
    async with async_http_client(purpose="tool", timeout=timeout) as http:
        if server.auth_header_name and server.auth_header_value:
            http.headers[server.auth_header_name] = server.auth_header_value
        async with (
            streamable_http_client(server.url, http_client=http) as (read, write, *_rest),
            ClientSession(read, write, timeout) as session,
        ):
            await session.initialize()
            yield session


def _leaf(error: BaseException) -> BaseException:
    """The error inside the task groups' wrapping (the one that says what happened)."""
    while isinstance(error, BaseExceptionGroup):
        inner = [e for e in error.exceptions if not isinstance(e, asyncio.CancelledError)]
        error = (inner or error.exceptions)[0]
    cause = error.__cause__ or error.__context__
    if not isinstance(error, EgressError) and isinstance(cause, EgressError):
        return cause
    return error


def _failure(server: McpServer, error: BaseException) -> str:
    if isinstance(error, EgressDenied):
        return _("出网访问被拒绝：%(reason)s") % {"reason": error}
    if isinstance(error, TimeoutError | httpx2.TimeoutException):
        return _("MCP 服务器在 %(s)s 秒内没有完成响应，已中止。") % {"s": server.timeout_seconds}
    if isinstance(error, MCPError):
        return _("MCP 服务器返回错误：%(reason)s") % {"reason": error.error.message}
    if isinstance(error, OSError):
        return _("无法启动或连接 MCP 服务器：%(reason)s") % {"reason": error}
    return _("调用 MCP 服务器失败：%(reason)s") % {"reason": str(error) or type(error).__name__}


def _run(server: McpServer, work) -> McpCallResult:
    """``await work(session)`` in a session with ``server``, on an event loop of this call's own (in a thread
    beside the caller's, which waits)."""
    started = time.monotonic()

    async def main():
        with blocking_runner(_in_callers_thread), anyio.fail_after(float(server.timeout_seconds or 30) + 5):
            async with _session(server) as session:
                return await work(session)

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    if not server.is_active:
        return McpCallResult(False, error=_("MCP 服务器“%(name)s”已停用。") % {"name": server.name})
    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            result = async_to_sync(main)()
        else:  # called from inside an event loop: the call gets a thread of its own
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                result = pool.submit(async_to_sync(main)).result()
    except Exception as exc:  # what the server or the network did is reported, never raised
        return McpCallResult(False, error=_failure(server, _leaf(exc)), elapsed_ms=elapsed())
    result.elapsed_ms = elapsed()
    return result


def mcp_tools_list(*, server: McpServer) -> McpCallResult:
    """The server's tools (``tools`` of the result)."""

    async def work(session: ClientSession) -> McpCallResult:
        tools, cursor = [], None
        while True:
            page = await session.list_tools(cursor=cursor) if cursor else await session.list_tools()
            tools += [
                McpToolInfo(
                    name=t.name, title=t.title or "", description=t.description or "", input_schema=t.input_schema
                )
                for t in page.tools
            ]
            cursor = page.next_cursor
            if not cursor:
                return McpCallResult(True, tools=tools)

    return _run(server, work)


def _text_of(blocks) -> str:
    texts = []
    for block in blocks:
        if getattr(block, "type", "") == "text":
            texts.append(block.text)
        elif getattr(block, "type", "") == "resource" and getattr(block.resource, "text", None):
            texts.append(block.resource.text)
        else:
            texts.append(_("（%(type)s 类型的内容未转交模型）") % {"type": getattr(block, "type", "?")})
    text = "\n".join(texts)
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT] + _("…（内容过长，已截断）")
    return text


def mcp_tool_call(*, server: McpServer, name: str, arguments: dict) -> McpCallResult:
    """Call the server's tool ``name`` with ``arguments``; the outcome carries its text and structured result."""

    async def work(session: ClientSession) -> McpCallResult:
        answer = await session.call_tool(name, arguments)
        text = _text_of(answer.content)
        data = answer.structured_content
        if not text and data is not None:
            text = json.dumps(data, ensure_ascii=False)[:TEXT_LIMIT]
        if answer.is_error:
            return McpCallResult(
                False, content=text, data=data, error=_("MCP 工具返回错误：%(text)s") % {"text": text[:300]}
            )
        if data is None:  # many servers answer JSON as text: keep it as data for the trace
            try:
                data = json.loads(text)
            except ValueError:
                data = text
        return McpCallResult(True, content=text, data=data)

    return _run(server, work)
