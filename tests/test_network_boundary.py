"""Only the egress guard and the model gateway open network connections; only the gateway uses openai.

Every Python file of the project is read (not imported) and each import of a networking module is
held against the two places allowed to make outbound calls. Anything else that wants to call out
goes through ``agents.egress``, which checks the destination.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_PROJECT_CODE = {"tests", "bench", "var", "node_modules"}

# Modules that open sockets or speak a network protocol. Django's e-mail is configured, not imported;
# the local database is reached through psycopg, which is not a way out.
NETWORK_MODULES = {
    "socket",
    "ssl",
    "socketserver",
    "asyncore",
    "http.client",
    "http.server",
    "urllib.request",
    "urllib3",
    "requests",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "aiohttp",
    "websocket",
    "websockets",
    "smtplib",
    "ftplib",
    "poplib",
    "imaplib",
    "telnetlib",
    "xmlrpc.client",
    "pycurl",
    "paramiko",
    "grpc",
    # The MCP SDK's client transports open their own HTTP clients unless given one.
    "mcp.client.streamable_http",
    "mcp.client.sse",
    "mcp.client.websocket",
}
# Calls that open a connection without any of those imports.
CONNECTING_CALLS = {"open_connection", "create_connection", "connect_tcp", "start_server", "create_datagram_endpoint"}
MAY_CONNECT = (
    "agents/egress.py",
    "agents/llm/",
    # The MCP client: its HTTP goes through the egress guard's client (``egress.async_http_client``).
    "agents/mcp/client.py",
    # Reads this machine's own names and addresses for ALLOWED_HOSTS (its UDP "connect" sends nothing).
    "config/serving.py",
)
MAY_USE_OPENAI = ("agents/llm/",)


def project_files() -> list[Path]:
    files = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        top = relative.parts[0]
        if top.startswith(".") or top in NOT_PROJECT_CODE or relative.name == "conftest.py":
            continue
        files.append(path)
    return files


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module a file imports, by full dotted name, with its line (``from http import client`` → ``http.client``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def is_under(name: str, modules: set[str]) -> str | None:
    for module in modules:
        if name == module or name.startswith(module + "."):
            return module
    return None


def allowed(relative: str, places: tuple[str, ...]) -> bool:
    return any(relative == p or (p.endswith("/") and relative.startswith(p)) for p in places)


def test_the_scan_sees_the_whole_project():
    scanned = {p.relative_to(ROOT).as_posix() for p in project_files()}
    assert {"manage.py", "run.py", "config/settings.py", "tenants/models.py", "agents/egress.py"} <= scanned
    assert "agents/llm/gateway.py" in scanned and "agents/tools/http.py" in scanned
    assert not any(p.startswith(("tests/", "bench/", ".venv/")) for p in scanned)


def test_only_the_egress_guard_and_the_gateway_open_network_connections():
    problems = []
    for path in project_files():
        relative = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
        if not allowed(relative, MAY_CONNECT):
            for line, name in imported_modules(tree):
                module = is_under(name, NETWORK_MODULES)
                if module:
                    problems.append(f"{relative}:{line} imports {name} ({module} opens network connections)")
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr in CONNECTING_CALLS:
                    problems.append(f"{relative}:{node.lineno} calls .{node.attr}() (opens a network connection)")
        if not allowed(relative, MAY_USE_OPENAI):
            for line, name in imported_modules(tree):
                if is_under(name, {"openai"}):
                    problems.append(f"{relative}:{line} imports {name} (only agents/llm/ talks to models)")
    assert not problems, "Outbound calls must go through agents.egress:\n" + "\n".join(problems)


def test_the_scan_catches_every_way_of_importing():
    source = (
        "import socket\nfrom http import client\nfrom urllib.request import urlopen\nimport httpx2 as h\n"
        "import importlib\nimportlib.import_module('ssl')\n__import__('requests')\nfrom urllib.parse import quote\n"
    )
    names = [name for _, name in imported_modules(ast.parse(source))]
    caught = {is_under(name, NETWORK_MODULES) for name in names} - {None}
    assert caught == {"socket", "http.client", "urllib.request", "httpx2", "ssl", "requests"}
