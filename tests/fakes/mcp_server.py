"""A loopback MCP server for the tests of agents using MCP tools: the SDK's ``MCPServer`` (formerly FastMCP)
under uvicorn in a thread, over streamable HTTP at ``/mcp``.

Its tools record every call (``calls``: tool name and the arguments as received) and every HTTP request's
headers (``headers``), so a test sees exactly what the platform sent. ``stdio_command`` starts the same
tools as a stdio server (``python tests/fakes/mcp_server.py``).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError


def build(calls: list | None = None) -> MCPServer:
    calls = calls if calls is not None else []
    server = MCPServer("测试政务服务")

    @server.tool(description="按案件编号查询案件办理进度。")
    def case_status(case_no: str, phone: str = "", region: str = "") -> dict:
        calls.append(("case_status", {"case_no": case_no, "phone": phone, "region": region}))
        return {"case_no": case_no, "status": "已受理", "region": region or "未指定", "contact": "13912345678"}

    @server.tool(description="把文字原样返回。")
    def echo(text: str) -> str:
        calls.append(("echo", {"text": text}))
        return f"收到：{text}"

    @server.tool(description="总是失败的工具。")
    def broken(reason: str = "") -> str:
        calls.append(("broken", {"reason": reason}))
        raise ToolError("数据源暂不可用")  # reported to the client as the tool's error

    @server.tool(description="列出本进程的环境变量名。")
    def environment() -> str:
        import os

        return " ".join(sorted(os.environ))

    @server.tool(description="很慢的工具。")
    async def slow(seconds: float = 5) -> str:
        import anyio

        calls.append(("slow", {"seconds": seconds}))
        await anyio.sleep(seconds)
        return "终于好了"

    return server


class FakeMcpServer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.headers: list[dict[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def reset(self) -> None:
        self.calls.clear()
        self.headers.clear()

    def start(self) -> FakeMcpServer:
        import uvicorn

        inner = build(self.calls).streamable_http_app(json_response=True)

        async def app(scope, receive, send):
            if scope["type"] == "http":
                self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
            await inner(scope, receive, send)

        self.server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False))
        threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True).start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake MCP server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.sock.close()


def stdio_command() -> str:
    return f"{sys.executable} {Path(__file__).resolve()}"


if __name__ == "__main__":  # the stdio server
    build().run("stdio")
