"""The HTTP tool: calls the API a department configured, on an agent's behalf, through the egress guard.

The URL template's placeholders (``{city}``) are filled from the model's arguments, URL-quoted, and
only in the path, query or fragment: the scheme, host and port are the admin's and stay fixed. The
remaining arguments go to the query string (GET) or a JSON body (POST). The secret header is sent
only to the configured origin. Whatever happens comes back as an ``HttpToolResult`` with a Chinese
message, never as an exception, so the runtime can show the model and the trace what went wrong.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from ..egress import EgressDenied, EgressError, EgressFailed, EgressTimeout, EgressTooLarge, http_fetch

TEXT_LIMIT = 8000  # characters of a text answer (or of a JSON answer written out) handed to the model

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


class ToolCallError(ValueError):
    """The arguments cannot make a request from this tool's template; the message says why."""


@dataclass
class HttpToolResult:
    """What one call of an HTTP tool produced.

    ``data`` is the parsed JSON answer, or the answer's text (cut to ``TEXT_LIMIT`` characters, then
    ``truncated`` is set); on failure ``ok`` is false and ``error`` says why in plain Chinese (``data``
    still holds the error body the service sent, if any). ``status`` is the HTTP status (None when no
    answer came) and ``elapsed_ms`` the time the call took.
    """

    ok: bool
    status: int | None
    elapsed_ms: int
    data: Any = None
    error: str = ""
    truncated: bool = False
    url: str = ""

    def for_model(self) -> str:
        """The result as the text a model reads."""
        body = self.data if isinstance(self.data, str) else _dumps(self.data) if self.data is not None else ""
        if len(body) > TEXT_LIMIT:
            body = body[:TEXT_LIMIT] + _("…（内容过长，已截断）")
        if self.ok:
            return body
        return f"{self.error}\n{body}".strip()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _dumps(value)
    return str(value)


def url_fill(template: str, arguments: dict) -> tuple[str, dict]:
    """The URL for ``arguments`` and the arguments its placeholders did not use; raise ``ToolCallError``."""
    parts = urlsplit(template)
    if not parts.scheme or not parts.netloc:
        raise ToolCallError(_("地址模板无效，需要以 http:// 或 https:// 开头。"))
    fixed = f"{parts.scheme}://{parts.netloc}"
    if not template.startswith(fixed) or _PLACEHOLDER.search(fixed):
        raise ToolCallError(_("地址模板的协议、主机和端口部分不能包含参数。"))
    rest = template[len(fixed) :]
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    used: set[str] = set()

    def filler(in_path: bool):
        def fill(match: re.Match) -> str:
            name = match.group(1).strip()
            value = arguments.get(name)
            if value is None or value == "":
                raise ToolCallError(_("缺少参数 %(name)s。") % {"name": name})
            text = _text_of(value)
            # Encoded slashes are decoded again by some servers; a "." or ".." step must not climb the path.
            if in_path and any(step in (".", "..") for step in re.split(r"[/\\]", text)):
                raise ToolCallError(_("参数 %(name)s 的值不能包含路径跳转（. 或 ..）。") % {"name": name})
            used.add(name)
            return quote(text, safe="")

        return fill

    filled = fixed + _PLACEHOLDER.sub(filler(True), rest[:cut]) + _PLACEHOLDER.sub(filler(False), rest[cut:])
    if urlsplit(filled).netloc != parts.netloc:  # cannot happen with quoting; checked all the same
        raise ToolCallError(_("参数改变了工具的主机，已拒绝。"))
    return filled, {k: v for k, v in arguments.items() if k not in used}


def _query_params(arguments: dict) -> dict:
    params: dict[str, Any] = {}
    for name, value in arguments.items():
        if value is None:
            continue
        params[name] = [_text_of(v) for v in value] if isinstance(value, list) else _text_of(value)
    return params


def _decode(content: bytes, content_type: str) -> str:
    match = re.search(r"charset=([\w.-]+)", content_type, re.IGNORECASE)
    encoding = match.group(1) if match else "utf-8"
    try:
        return content.decode(encoding, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def http_tool_call(*, tool, arguments: dict) -> HttpToolResult:
    """Call ``tool`` (an HTTP ``agents.models.Tool``) with the model's ``arguments``; never raises for the call's failures."""
    if not tool.is_http or not tool.url_template:
        return HttpToolResult(False, None, 0, error=_("“%(name)s”不是 HTTP 工具。") % {"name": tool.name})
    try:
        url, rest = url_fill(tool.url_template, arguments or {})
    except ToolCallError as exc:
        return HttpToolResult(False, None, 0, error=_("工具参数有误：%(reason)s") % {"reason": exc})
    method = (tool.http_method or "GET").upper()
    headers = {"Accept": "application/json, text/plain;q=0.9, */*;q=0.5"}
    if tool.secret_header_name and tool.secret_header_value:
        headers[tool.secret_header_name] = tool.secret_header_value
    max_bytes = settings.SHUZHI_TOOL_RESPONSE_MAX_BYTES
    started = time.monotonic()
    try:
        answer = http_fetch(
            method=method,
            url=url,
            headers=headers,
            params=_query_params(rest) if method == "GET" else None,
            json_body=rest if method != "GET" else None,
            timeout=float(tool.timeout_seconds or 15),
            max_bytes=max_bytes,
            purpose="tool",
        )
    except EgressError as exc:
        elapsed_ms = round((time.monotonic() - started) * 1000)
        return HttpToolResult(False, None, elapsed_ms, error=_failure_message(exc, tool), url=url)
    result = HttpToolResult(True, answer.status, round(answer.elapsed * 1000), url=answer.url)
    content_type = answer.headers.get("content-type", "")
    text = _decode(answer.content, content_type)
    if "json" in content_type.lower():
        try:
            result.data = json.loads(text)
        except ValueError:
            result.data = text
    else:
        result.data = text
    if isinstance(result.data, str) and len(result.data) > TEXT_LIMIT:
        result.data, result.truncated = result.data[:TEXT_LIMIT] + _("…（内容过长，已截断）"), True
    if answer.status >= 400:
        result.ok = False
        result.error = _("工具服务返回错误 %(code)s。") % {"code": answer.status}
    return result


def _failure_message(exc: EgressError, tool) -> str:
    if isinstance(exc, EgressDenied):
        return _("出网访问被拒绝：%(reason)s") % {"reason": exc}
    if isinstance(exc, EgressTimeout):
        return _("工具服务在 %(s)s 秒内没有完成响应，已中止。") % {"s": tool.timeout_seconds}
    if isinstance(exc, EgressTooLarge):
        return _("工具服务返回的内容过大：%(reason)s") % {"reason": exc}
    if isinstance(exc, EgressFailed):
        return _("调用工具服务失败：%(reason)s") % {"reason": exc}
    return str(exc)
