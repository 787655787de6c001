"""/mcp in the ASGI application: department API keys checked, then the MCP SDK's streamable HTTP transport.

The transport runs stateless, answering each POST with JSON: every request carries its key and is
authenticated again (a revoked key stops working at once), and any web process can answer any request,
so it holds with one process per core behind one socket. The SDK's session manager needs a task group
that outlives requests; it is started by the first request on each process's event loop (the server runs
with ``--lifespan off``) and stopped with the server when a lifespan is run.
"""

from __future__ import annotations

import asyncio
import json
import weakref

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http.request import split_domain_port, validate_host
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import get_supported_language_variant, parse_accept_lang_header
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from tenants.api_keys import api_key_authenticate
from tenants.models import ApiKey

from .server import SCOPE_KEY, SCOPE_LANGUAGE, mcp_server

PATH = "/mcp"


def is_mcp_path(path: str) -> bool:
    return path == PATH or path.startswith(PATH + "/")


def _headers(scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers") or []}


def _language(headers: dict[str, str]) -> str:
    for code, _quality in parse_accept_lang_header(headers.get("accept-language", "")):
        if code == "*":
            break
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def _secret(headers: dict[str, str]) -> str | None:
    """The key the request carries (``Authorization: Bearer`` or ``X-API-Key``); "" for a malformed header."""
    secret = headers.get("x-api-key", "").strip()
    if secret:
        return secret
    header = headers.get("authorization", "")
    if not header:
        return None
    scheme, _sep, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _authenticate(secret: str) -> ApiKey | None:
    try:
        return api_key_authenticate(secret=secret)
    finally:
        close_old_connections()


async def _refuse(send, status: int, code: str, message: str, **headers: str) -> None:
    kind = {401: "authentication_error", 403: "permission_error", 400: "invalid_request_error"}[status]
    body = json.dumps({"error": {"type": kind, "code": code, "message": message}}, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode(), value.encode()) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class _Running:
    """One event loop's session manager, the task holding its task group, and the event that ends it."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.manager: StreamableHTTPSessionManager | None = None
        self.task: asyncio.Task | None = None
        self.stop = asyncio.Event()


class McpMount:
    """The MCP endpoint as an ASGI application (see the module docstring).

    The session manager's task group belongs to the event loop that started it, so each loop gets its own
    (a server has one loop; an in-process client such as a test's may bring a new loop per request).
    """

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Running] = weakref.WeakKeyDictionary()

    async def _started(self) -> StreamableHTTPSessionManager:
        running = self._by_loop.setdefault(asyncio.get_running_loop(), _Running())
        async with running.lock:
            if running.manager is None:
                manager = StreamableHTTPSessionManager(
                    mcp_server(),
                    stateless=True,
                    json_response=True,
                    # The same cap as the other APIs' bodies (the SDK answers 413 above it).
                    max_request_body_size=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
                )
                ready = asyncio.Event()

                async def hold():
                    async with manager.run():
                        ready.set()
                        await running.stop.wait()

                running.task = asyncio.create_task(hold(), name="mcp-session-manager")
                await ready.wait()
                running.manager = manager
            return running.manager

    async def stop(self) -> None:
        running = self._by_loop.pop(asyncio.get_running_loop(), None)
        if running is not None and running.task is not None:
            running.stop.set()
            await running.task

    async def __call__(self, scope, receive, send) -> None:
        headers = _headers(scope)
        language = _language(headers)
        with translation.override(language):
            host = headers.get("host", "")
            if not validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS):
                await _refuse(send, 400, "invalid_host", _("不允许的主机名：%(host)s") % {"host": host})
                return
            secret = _secret(headers)
            if secret is None:
                message = _("缺少 API 密钥：请在 Authorization 请求头中提供“Bearer <API 密钥>”。")
                await _refuse(send, 401, "not_authenticated", message, **{"www-authenticate": "Bearer"})
                return
            key = await sync_to_async(_authenticate)(secret) if secret else None
            if key is None:
                message = _("API 密钥无效、已过期或已被吊销。")
                await _refuse(send, 401, "authentication_failed", message, **{"www-authenticate": "Bearer"})
                return
            if not key.has_scope(ApiKey.Scope.RUN):
                message = _("该 API 密钥没有“%(scope)s”权限。") % {"scope": ApiKey.Scope.RUN.label}
                await _refuse(send, 403, "permission_denied", message)
                return
        manager = await self._started()
        scope = {**scope, SCOPE_KEY: key, SCOPE_LANGUAGE: language}
        try:
            await manager.handle_request(scope, receive, send)
        finally:
            await sync_to_async(close_old_connections)()


def with_mcp(django_application):
    """The ASGI application: /mcp to the MCP endpoint, everything else to Django."""
    mount = McpMount()

    async def application(scope, receive, send):
        if scope["type"] == "http" and is_mcp_path(scope.get("path", "")):
            await mount(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await mount.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        else:
            await django_application(scope, receive, send)

    return application
