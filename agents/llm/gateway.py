"""Calls to OpenAI-compatible endpoints (DeepSeek, vLLM, Ollama, Qwen…), through the egress guard.

The only module that imports openai. Chat calls take a list of ``Target`` (primary first, then
fallbacks) and either stream events (``chat_stream`` / ``achat_stream``) or return the finished
answer (``chat_complete`` / ``achat_complete``). What they guarantee:

- Reasoning (``reasoning_content``, ``reasoning`` or inline ``<think>``) never reaches the answer text.
- Retries only happen before any output was yielded: a 429 waits for its Retry-After (plus jitter;
  one asking for more than ``RETRY_AFTER_CAP`` seconds is not waited for), 5xx, 408/409, timeouts,
  refused connections and streams that fail before their first token are retried with jittered
  backoff, at most ``MAX_ATTEMPTS`` requests per target; then the next target is tried. Other 4xx
  are not retried on the same target.
- Once output was yielded, a failure raises ``StreamBroken`` with the partial answer: nothing is
  restarted behind the user's back.
- At most ``ModelEndpoint.max_concurrency`` calls run at once per endpoint in this process; a call
  waits up to ``slot_wait_seconds`` for a slot.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import queue
import random
import re
import socket
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, closing, suppress
from dataclasses import dataclass

import anyio
import httpx2
import openai
from django.utils.translation import gettext as _

from ..blocking import run_blocking
from ..egress import EgressDenied, async_http_client, check_url, http_client
from .limits import _busy, limiter_for
from .reasoning import ThinkSplitter, split_stray_close
from .types import (
    Completed,
    ContextTooLong,
    ModelError,
    ModelRejected,
    ModelUnavailable,
    ReasoningDelta,
    StreamBroken,
    Target,
    TextDelta,
    ToolCall,
    Usage,
    context_too_long,
    tokens_estimate,
)

__all__ = [
    "Completed",
    "ConnectionCheck",
    "ContextTooLong",
    "ModelError",
    "ModelRejected",
    "ModelUnavailable",
    "ReasoningDelta",
    "StreamBroken",
    "Target",
    "TextDelta",
    "ToolCall",
    "Usage",
    "achat_complete",
    "achat_stream",
    "aembed_texts",
    "chat_complete",
    "chat_stream",
    "client_for",
    "context_too_long",
    "embed_texts",
    "endpoint_test_connection",
    "tokens_estimate",
]

CONNECT_TIMEOUT = 10.0  # seconds to open a connection; the read timeout is the endpoint's own
MAX_ATTEMPTS = 3  # HTTP requests per target before moving on to the next one
RETRY_AFTER_CAP = 20.0  # a 429 asking to wait longer is not waited for: the next target is tried
BACKOFF_BASE = 0.5  # seconds; doubled per retry, times a jitter factor between 0.5 and 1.5
SLOT_WAIT_SECONDS = 30.0  # how long a call waits for a free concurrency slot on an endpoint

Event = TextDelta | ReasoningDelta | Completed


@dataclass
class ConnectionCheck:
    ok: bool
    milliseconds: int
    message: str
    models: list[str]


# ---------------------------------------------------------------------------------------------
# Clients


def _timeout(endpoint, read: float | None = None) -> httpx2.Timeout:
    read = float(read or endpoint.timeout_seconds)
    return httpx2.Timeout(read, connect=min(CONNECT_TIMEOUT, read))


def _client(endpoint, read_timeout: float | None = None) -> openai.OpenAI:
    # A fresh client per call: an endpoint's key or address may change at any time, and a model
    # call lasts long enough that a new connection costs nothing noticeable.
    return openai.OpenAI(
        base_url=endpoint.base_url.rstrip("/"),
        api_key=endpoint.api_key or "not-needed",
        timeout=_timeout(endpoint, read_timeout),
        max_retries=0,
        http_client=http_client(purpose="model", endpoint=endpoint, timeout=float(endpoint.timeout_seconds)),
    )


def _aclient(endpoint, read_timeout: float | None = None) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=endpoint.base_url.rstrip("/"),
        api_key=endpoint.api_key or "not-needed",
        timeout=_timeout(endpoint, read_timeout),
        max_retries=0,
        http_client=async_http_client(purpose="model", endpoint=endpoint, timeout=float(endpoint.timeout_seconds)),
    )


# Clients kept per endpoint, so that calls reuse their connections (keep-alive) instead of building a
# client and connecting for every question. The key holds everything a client is built from, so an
# endpoint whose address, key, owner or timeout changes gets a new client; the guard still checks
# every request when it is sent. Asynchronous clients belong to the event loop that made them.
SHARED_CLIENTS = 32
_shared_lock = threading.Lock()
_shared_sync: dict[tuple, openai.OpenAI] = {}
_shared_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, openai.AsyncOpenAI]] = (
    weakref.WeakKeyDictionary()
)


def _client_key(endpoint) -> tuple:
    return (endpoint.pk, endpoint.base_url, endpoint.api_key, endpoint.department_id, float(endpoint.timeout_seconds))


def _shared_client(endpoint) -> openai.OpenAI:
    """This process's client for ``endpoint`` (do not close it)."""
    key = _client_key(endpoint)
    with _shared_lock:
        client = _shared_sync.get(key)
        if client is None:
            if len(_shared_sync) >= SHARED_CLIENTS:
                _shared_sync.pop(next(iter(_shared_sync))).close()
            client = _shared_sync[key] = _client(endpoint)
        return client


def _shared_aclient(endpoint) -> openai.AsyncOpenAI:
    """This event loop's client for ``endpoint`` (do not close it)."""
    loop = asyncio.get_running_loop()
    clients = _shared_async.setdefault(loop, {})
    key = _client_key(endpoint)
    client = clients.get(key)
    if client is None:
        if len(clients) >= SHARED_CLIENTS:
            old = clients.pop(next(iter(clients)))
            _closing.add(task := loop.create_task(old.close()))
            task.add_done_callback(_closing.discard)
        client = clients[key] = _aclient(endpoint)
    return client


_closing: set[asyncio.Task] = set()


def client_for(endpoint, *, timeout: float | None = None) -> openai.OpenAI:
    """An openai client for ``endpoint`` after the egress check (raises ``EgressDenied``). Close it after use."""
    check_url(endpoint.base_url, purpose="model", endpoint=endpoint)
    return _client(endpoint, timeout)


# ---------------------------------------------------------------------------------------------
# Admin and embeddings


def endpoint_test_connection(*, endpoint) -> ConnectionCheck:
    """Ask the endpoint for its models list; say whether it answered, how fast, and what it offers."""
    started = time.perf_counter()
    try:
        with client_for(endpoint, timeout=min(endpoint.timeout_seconds, 15)) as client:
            served = [m.id for m in client.models.list()]
    except EgressDenied as exc:
        return ConnectionCheck(False, 0, str(exc), [])
    except openai.AuthenticationError:
        message = _("连接失败：API 密钥无效或已过期（401）。")
    except openai.APITimeoutError:
        message = _("连接失败：%(s)s 秒内没有响应。") % {"s": min(endpoint.timeout_seconds, 15)}
    except openai.APIConnectionError:
        message = _("连接失败：无法连接到 %(url)s。") % {"url": endpoint.base_url}
    except openai.APIStatusError as exc:
        message = _("连接失败：服务返回错误 %(code)s。") % {"code": exc.status_code}
    else:
        ms = round((time.perf_counter() - started) * 1000)
        missing = [m for m in endpoint.models_list() if m not in served]
        if missing and served:
            return ConnectionCheck(
                False,
                ms,
                _("服务可连接（%(ms)s 毫秒），但没有这些模型：%(names)s。") % {"ms": ms, "names": "、".join(missing)},
                served,
            )
        return ConnectionCheck(True, ms, _("连接成功，用时 %(ms)s 毫秒。") % {"ms": ms}, served)
    return ConnectionCheck(False, round((time.perf_counter() - started) * 1000), message, [])


def _embedding_error(exc: Exception, endpoint) -> ModelError:
    denied = _egress_denial(exc)
    if denied is not None:
        return ModelRejected(str(denied))
    if isinstance(exc, (openai.APIConnectionError, openai.RateLimitError)):
        return ModelUnavailable(_("向量模型服务暂时无法访问：%(reason)s") % {"reason": exc.__class__.__name__})
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return ModelUnavailable(_("向量模型服务返回错误 %(code)s。") % {"code": exc.status_code})
    if isinstance(exc, openai.APIStatusError):
        return _rejection(exc, endpoint, model="")
    raise exc


def embed_texts(*, endpoint, model: str, texts: list[str]) -> list[list[float]]:
    """Embeddings from an OpenAI-compatible endpoint, in the order of ``texts``.

    Raises ``ModelUnavailable`` for what may pass (timeouts, 429, 5xx, a busy endpoint) and
    ``ModelRejected`` for what will not. Not retried here: ingestion's task retries with backoff.
    """
    limiter = limiter_for(endpoint)
    if not limiter.acquire(limit=endpoint.max_concurrency, timeout=SLOT_WAIT_SECONDS):
        raise _busy(endpoint, SLOT_WAIT_SECONDS)
    try:
        check_url(endpoint.base_url, purpose="model", endpoint=endpoint)
        response = _shared_client(endpoint).embeddings.create(model=model, input=texts)
    except (EgressDenied, openai.APIError) as exc:
        raise _embedding_error(exc, endpoint) from exc
    finally:
        limiter.release()
    return [item.embedding for item in sorted(response.data, key=lambda d: d.index)]


async def aembed_texts(*, endpoint, model: str, texts: list[str]) -> list[list[float]]:
    """The asynchronous ``embed_texts``."""
    try:
        await run_blocking(check_url, endpoint.base_url, purpose="model", endpoint=endpoint)
    except EgressDenied as exc:
        raise ModelRejected(str(exc)) from exc
    limiter = limiter_for(endpoint)
    if not await limiter.aacquire(limit=endpoint.max_concurrency, timeout=SLOT_WAIT_SECONDS):
        raise _busy(endpoint, SLOT_WAIT_SECONDS)
    try:
        response = await _shared_aclient(endpoint).embeddings.create(model=model, input=texts)
    except (EgressDenied, openai.APIError) as exc:
        raise _embedding_error(exc, endpoint) from exc
    finally:
        limiter.release()
    return [item.embedding for item in sorted(response.data, key=lambda d: d.index)]


# ---------------------------------------------------------------------------------------------
# Failures: what went wrong, what the user reads, and whether to try the same target again


class _StreamFault(Exception):
    """A stream that stalled or ended without its final chunk (raised by the gateway itself)."""

    def __init__(self, kind: str, seconds: float | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.seconds = seconds


@dataclass
class _Outcome:
    error: ModelError  # what the user reads if this target is given up on
    retry_in: float | None  # seconds to wait before asking the same target again; None: don't
    fault: str | None = None  # for a stream: why it stopped, as a clause
    incomplete: bool = False  # for a stream: it simply ended without its final chunk


def _backoff(attempt: int) -> float:
    return BACKOFF_BASE * 2**attempt * random.uniform(0.5, 1.5)  # noqa: S311  (jitter, not a secret)


def _retry_after(headers) -> float | None:
    """Seconds a 429 asks us to wait (``retry-after-ms``, ``retry-after`` in seconds or as a date)."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _egress_denial(exc: BaseException) -> EgressDenied | None:
    # The egress guard may refuse at connect time; the openai client then wraps its error.
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, EgressDenied):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _server_said(exc: openai.APIError, endpoint) -> str:
    said = str(getattr(exc, "message", "") or "")[:200]
    if endpoint.api_key:
        said = said.replace(endpoint.api_key, "***")
    return said


# How servers say a conversation does not fit: OpenAI's code, vLLM's / OpenAI's / Ollama's / TGI's sentences.
CONTEXT_TOO_LONG = re.compile(
    r"context[_ ]length|maximum context|context window|too many (input )?tokens|prompt is too long|上下文", re.I
)


def _says_context_too_long(exc: openai.APIStatusError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    if error.get("code") == "context_length_exceeded":
        return True
    return bool(CONTEXT_TOO_LONG.search(str(getattr(exc, "message", "") or "")))


def _rejection(exc: openai.APIStatusError, endpoint, *, model: str) -> ModelRejected:
    name, code = endpoint.name, exc.status_code
    if code == 401:
        return ModelRejected(_("模型服务“%(name)s”拒绝了 API 密钥（401），请管理员检查密钥。") % {"name": name})
    if code == 403:
        return ModelRejected(_("模型服务“%(name)s”拒绝访问（403），请管理员检查密钥的权限。") % {"name": name})
    if code == 404:
        return ModelRejected(
            _("模型服务“%(name)s”找不到模型 %(model)s 或接口地址有误（404），请管理员检查配置。")
            % {"name": name, "model": model}
        )
    if code == 400 and _says_context_too_long(exc):
        return ContextTooLong(
            _("对话内容超出了模型服务“%(name)s”的上下文长度，请缩短对话或问题：%(said)s")
            % {"name": name, "said": _server_said(exc, endpoint) or "-"}
        )
    return ModelRejected(
        _("模型服务“%(name)s”拒绝了请求（%(code)s）：%(said)s")
        % {"name": name, "code": code, "said": _server_said(exc, endpoint) or "-"}
    )


def _fault_clause(kind: str, seconds: float | None) -> str:
    if kind == "stalled":
        return _("%(s)s 秒内没有收到新内容") % {"s": f"{seconds:g}"}
    if kind == "incomplete":
        return _("回答还没结束，连接就关闭了")
    if kind == "malformed":
        return _("模型服务返回了无法解析的数据")
    return _("与模型服务的连接断开了")


def _outcome(exc: Exception, target: Target, attempt: int) -> _Outcome:
    """Classify a failed request; re-raise what is not a model failure (a bug must stay loud)."""
    endpoint, name = target.endpoint, target.endpoint.name
    denied = _egress_denial(exc)
    if denied is not None:
        return _Outcome(ModelRejected(str(denied)), None)
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code == 429:
            wait = _retry_after(exc.response.headers)
            if wait is not None and wait > RETRY_AFTER_CAP:
                error = _("模型服务“%(name)s”繁忙（429 限流），要求 %(s)s 秒后再试。") % {
                    "name": name,
                    "s": round(wait),
                }
                return _Outcome(ModelUnavailable(error), None)
            # Jitter goes on top of what the server asked for: never earlier, and not all at once.
            wait = _backoff(attempt) if wait is None else wait + random.uniform(0.05, 0.5)  # noqa: S311
            return _Outcome(
                ModelUnavailable(_("模型服务“%(name)s”繁忙（429 限流），重试后仍未成功。") % {"name": name}), wait
            )
        if code >= 500 or code in (408, 409):
            error = _("模型服务“%(name)s”出错（%(code)s），重试后仍未成功。") % {"name": name, "code": code}
            return _Outcome(ModelUnavailable(error), _backoff(attempt))
        return _Outcome(_rejection(exc, endpoint, model=target.model), None)
    if isinstance(exc, openai.APITimeoutError):
        if isinstance(exc.__cause__, httpx2.ConnectTimeout):
            error = _("无法连接模型服务“%(name)s”：%(s)s 秒内没有建立连接。")
            seconds = min(CONNECT_TIMEOUT, endpoint.timeout_seconds)
        else:
            error = _("模型服务“%(name)s”在 %(s)s 秒内没有响应。")
            seconds = endpoint.timeout_seconds
        return _Outcome(
            ModelUnavailable(error % {"name": name, "s": f"{seconds:g}"}),
            _backoff(attempt),
            fault=_fault_clause("stalled", endpoint.timeout_seconds),
        )
    if isinstance(exc, openai.APIConnectionError):
        error = _("无法连接模型服务“%(name)s”（%(url)s）。") % {"name": name, "url": endpoint.base_url}
        return _Outcome(ModelUnavailable(error), _backoff(attempt), fault=_fault_clause("broken", None))
    if isinstance(exc, openai.APIError):  # an error event inside the stream, or an unreadable response
        said = _server_said(exc, endpoint)
        error = _("模型服务“%(name)s”报告错误：%(said)s") % {"name": name, "said": said or "-"}
        clause = _("模型服务报告错误：%(said)s") % {"said": said or "-"}
        return _Outcome(ModelUnavailable(error), _backoff(attempt), fault=clause)
    if isinstance(exc, _StreamFault | json.JSONDecodeError | UnicodeDecodeError):
        kind, seconds = (exc.kind, exc.seconds) if isinstance(exc, _StreamFault) else ("malformed", None)
        clause = _fault_clause(kind, seconds)
        error = _("模型服务“%(name)s”的回答中断：%(clause)s。") % {"name": name, "clause": clause}
        return _Outcome(ModelUnavailable(error), _backoff(attempt), fault=clause, incomplete=kind == "incomplete")
    raise exc


def _check_target(target: Target) -> ModelRejected | None:
    endpoint = target.endpoint
    if not endpoint.is_active:
        return ModelRejected(_("模型服务“%(name)s”已停用。") % {"name": endpoint.name})
    try:
        check_url(endpoint.base_url, purpose="model", endpoint=endpoint)
    except EgressDenied as exc:
        return ModelRejected(str(exc))
    return None


class _Call:
    """What one chat call has done so far, across its targets and attempts."""

    def __init__(self, targets: list[Target], messages: list[dict], tools: list[dict] | None) -> None:
        self.targets = list(targets)
        self.messages = messages
        self.tools = tools
        self.started = time.monotonic()
        self.attempts = 0
        self.failures: list[ModelError] = []

    def give_up(self) -> ModelError:
        failures = self.failures
        if not failures:
            return ModelUnavailable(_("没有可用的模型服务，请联系管理员配置。"), attempts=self.attempts)
        kind = ModelRejected if all(isinstance(f, ModelRejected) for f in failures) else ModelUnavailable
        if len(failures) == 1:
            message = failures[0].message
        else:
            # Each failure is a whole sentence; a space keeps them apart in languages that use one.
            message = _("所有模型服务都没有成功回答：") + " ".join(f.message for f in failures)
        return kind(message, attempts=self.attempts, failures=failures)

    def input_estimate(self) -> int:
        total = 0
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            total += 4 + tokens_estimate(str(content or ""))
            if message.get("tool_calls"):
                total += tokens_estimate(json.dumps(message["tool_calls"], ensure_ascii=False))
        if self.tools:
            total += tokens_estimate(json.dumps(self.tools, ensure_ascii=False))
        return total


def _chat_kwargs(target: Target, messages, tools, temperature, max_tokens, response_format, *, stream: bool) -> dict:
    kwargs = {"model": target.model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens}
    if tools:
        kwargs["tools"] = tools
    if response_format:
        kwargs["response_format"] = response_format
    if stream:
        kwargs.update(stream=True, stream_options={"include_usage": True})
    return kwargs


# ---------------------------------------------------------------------------------------------
# Reading answers


def _usage_from(usage) -> Usage | None:
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if prompt is None and completion is None:
        return None
    return Usage(input_tokens=int(prompt or 0), output_tokens=int(completion or 0))


def _reasoning_of(obj) -> str:
    # DeepSeek sends reasoning_content; some vLLM and Ollama builds send reasoning (newer vLLM both).
    value = getattr(obj, "reasoning_content", None)
    if not value:
        value = getattr(obj, "reasoning", None)
    return value if isinstance(value, str) else ""


class _Answer:
    """An answer being assembled from stream chunks (or from one whole response)."""

    def __init__(self, call: _Call) -> None:
        self.call = call
        self.splitter = ThinkSplitter()
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, dict] = {}
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.first_at: float | None = None

    def feed(self, chunk) -> list[TextDelta | ReasoningDelta]:
        try:
            return self._feed(chunk)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise _StreamFault("malformed") from exc

    def _feed(self, chunk) -> list[TextDelta | ReasoningDelta]:
        events: list[TextDelta | ReasoningDelta] = []
        if getattr(chunk, "usage", None) is not None:
            self.usage = _usage_from(chunk.usage) or self.usage
        for choice in chunk.choices or []:
            if choice.index not in (0, None):
                continue
            delta = choice.delta
            if delta is not None:
                reasoning = _reasoning_of(delta)
                if reasoning:
                    events.append(ReasoningDelta(reasoning))
                if delta.content:
                    events.extend(self._split(self.splitter.feed(delta.content)))
                for tool_delta in delta.tool_calls or []:
                    self._tool_delta(tool_delta)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        self._record(events)
        return events

    def flush(self) -> list[TextDelta | ReasoningDelta]:
        events = self._split(self.splitter.flush())
        self._record(events)
        return events

    def _split(self, pieces) -> list[TextDelta | ReasoningDelta]:
        return [TextDelta(t) if kind == "text" else ReasoningDelta(t) for kind, t in pieces]

    def _record(self, events) -> None:
        for event in events:
            (self.text if isinstance(event, TextDelta) else self.reasoning).append(event.text)
        if events and self.first_at is None:
            self.first_at = time.monotonic()

    def _tool_delta(self, delta) -> None:
        index = delta.index if isinstance(delta.index, int) else len(self.calls)
        entry = self.calls.setdefault(index, {"id": "", "name": "", "arguments": []})
        if delta.id and not entry["id"]:
            entry["id"] = delta.id
        function = delta.function
        if function is not None:
            # Servers send the name whole (some repeat it in every delta); arguments come in pieces.
            if function.name and not entry["name"]:
                entry["name"] = function.name
            if function.arguments:
                arguments = function.arguments
                if not isinstance(arguments, str):
                    arguments = json.dumps(arguments, ensure_ascii=False)
                entry["arguments"].append(arguments)
        if self.first_at is None:
            self.first_at = time.monotonic()

    def tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(id=e["id"] or f"call_{i}", name=e["name"], arguments="".join(e["arguments"]))
            for i, e in sorted(self.calls.items())
        ]

    def texts(self) -> tuple[str, str]:
        text, reasoning = split_stray_close("".join(self.text), "".join(self.reasoning))
        return text, reasoning.strip()

    def ttft_ms(self) -> int | None:
        return None if self.first_at is None else round((self.first_at - self.call.started) * 1000)

    def usage_or_estimate(self) -> Usage:
        if self.usage is not None:
            return self.usage
        text, reasoning = self.texts()
        arguments = "".join(c.arguments for c in self.tool_calls())
        return Usage(self.call.input_estimate(), tokens_estimate(text + reasoning + arguments), estimated=True)

    def completed(self, target: Target) -> Completed:
        text, reasoning = self.texts()
        calls = self.tool_calls()
        return Completed(
            text=text,
            reasoning=reasoning,
            tool_calls=calls,
            finish_reason=self.finish_reason or ("tool_calls" if calls else "stop"),
            usage=self.usage_or_estimate(),
            endpoint_id=target.endpoint.pk,
            model=target.model,
            ttft_ms=self.ttft_ms(),
            attempts=self.call.attempts,
        )

    def broken(self, outcome: _Outcome, target: Target) -> StreamBroken:
        text, reasoning = self.texts()
        clause = outcome.fault or outcome.error.message
        return StreamBroken(
            _("模型输出中断：%(clause)s。已生成的部分已保留。") % {"clause": clause},
            partial_text=text,
            partial_reasoning=reasoning,
            usage=self.usage_or_estimate(),
            ttft_ms=self.ttft_ms(),
            endpoint_id=target.endpoint.pk,
            model=target.model,
            incomplete=outcome.incomplete,
            tool_calls=self.tool_calls(),
            attempts=self.call.attempts,
        )

    def whole(self, response) -> None:
        """Take a non-streamed response."""
        try:
            choice = response.choices[0]
            message = choice.message
            self.reasoning.append(_reasoning_of(message))
            self._record(self._split(self.splitter.feed(message.content or "") + self.splitter.flush()))
            for i, call in enumerate(message.tool_calls or []):
                arguments = call.function.arguments
                if not isinstance(arguments, str):
                    arguments = json.dumps(arguments, ensure_ascii=False)
                self.calls[i] = {"id": call.id or "", "name": call.function.name or "", "arguments": [arguments]}
            self.finish_reason = choice.finish_reason
            if response.usage is not None:
                self.usage = _usage_from(response.usage)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise _StreamFault("malformed") from exc
        self.first_at = time.monotonic()


# ---------------------------------------------------------------------------------------------
# Stall detection


def _abort(response) -> None:
    """Make a blocked read on ``response`` return now: shut its socket down (close alone won't wake it)."""
    try:
        sock = response.extensions["network_stream"].get_extra_info("socket")
        sock.shutdown(socket.SHUT_RDWR)
    except Exception:  # no socket to reach: closing the response is the best we can do
        with suppress(Exception):
            response.close()


def _stall_guard(stream, stall_seconds: float | None) -> Iterator:
    """The stream's chunks; raise ``_StreamFault("stalled")`` when none arrives for ``stall_seconds``.

    Reading happens on a helper thread so the wait can be bounded whatever the transport does; a
    stalled or abandoned stream has its socket shut down, which ends the helper thread.
    """
    if not stall_seconds:
        yield from stream
        return
    chunks: queue.Queue = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        try:
            for chunk in stream:
                if stop.is_set():
                    return
                chunks.put(("chunk", chunk))
            chunks.put(("end", None))
        except BaseException as exc:  # handed to the caller's thread
            chunks.put(("error", exc))

    reader = threading.Thread(target=read, name="llm-stream-reader", daemon=True)
    reader.start()
    finished = False
    try:
        while True:
            try:
                kind, value = chunks.get(timeout=stall_seconds)
            except queue.Empty:
                raise _StreamFault("stalled", stall_seconds) from None
            if kind == "end":
                finished = True
                return
            if kind == "error":
                finished = True
                raise value
            yield value
    finally:
        stop.set()
        if not finished:
            _abort(stream.response)


class _Fields(dict):
    """A decoded JSON object read by attribute, an absent field reading None (as the openai types do)."""

    __slots__ = ()

    def __getattr__(self, name: str):
        return self.get(name)


def _chunk_of(data: str, response) -> _Fields:
    """One streamed chunk, or the error the server sent in the stream (raised as openai does)."""
    chunk = json.loads(data, object_hook=_Fields)
    if isinstance(chunk, dict) and chunk.get("error"):
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise openai.APIError(
            message if isinstance(message, str) and message else "An error occurred during streaming",
            request=response.http_request,
            body=error,
        )
    return chunk


async def _alines(response) -> AsyncIterator[str]:
    """The response's lines; a dropped or timed-out connection raised as the client library raises it."""
    try:
        async for line in response.iter_lines():
            yield line
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.http_request) from exc
    except (httpx2.RequestError, ssl.SSLError, anyio.EndOfStream) as exc:
        raise openai.APIConnectionError(request=response.http_request) from exc


async def _asse_chunks(response) -> AsyncIterator[_Fields]:
    """The chunks of a streamed chat completion, read from its server-sent events as plain JSON.

    Building the client library's typed objects for each of the hundreds of chunks of an answer was
    the larger part of the gateway's CPU under load; the answer reads chunks by attribute either way.
    """
    data: list[str] = []
    async for line in _alines(response):
        if line:
            field, _colon, value = line.partition(":")
            if field == "data":
                data.append(value[1:] if value.startswith(" ") else value)
            continue
        if not data:
            continue
        event, data = "\n".join(data), []
        if event.startswith("[DONE]"):
            return
        yield _chunk_of(event, response)
    if data and not (event := "\n".join(data)).startswith("[DONE]"):
        yield _chunk_of(event, response)


async def _astall_guard(stream, stall_seconds: float | None) -> AsyncIterator:
    """The asynchronous ``_stall_guard``: the pending read is cancelled when the stream stalls."""
    iterator = stream.__aiter__()
    while True:
        try:
            if stall_seconds:
                async with asyncio.timeout(stall_seconds):
                    chunk = await iterator.__anext__()
            else:
                chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise _StreamFault("stalled", stall_seconds) from None
        yield chunk


# ---------------------------------------------------------------------------------------------
# Chat


def chat_stream(
    *,
    targets: list[Target],
    messages: list[dict],
    tools: list[dict] | None = None,
    temperature: float = 0.3,
    max_tokens: int = 2000,
    response_format: dict | None = None,
    stall_seconds: float | None = None,
    slot_wait_seconds: float = SLOT_WAIT_SECONDS,
    sleep: Callable[[float], object] = time.sleep,
) -> Iterator[Event]:
    """Stream an answer: ``TextDelta`` and ``ReasoningDelta`` as they arrive, then one ``Completed``.

    Raises ``ModelUnavailable`` or ``ModelRejected`` when no target produced output (see the module
    docstring for retries and fallback), ``StreamBroken`` when the stream failed after output began.
    ``stall_seconds``: the longest silence tolerated between chunks once the response has started.
    Close the generator (or exhaust it) to free the endpoint's concurrency slot promptly.
    ``sleep`` waits between attempts (a backoff, or what a 429's ``Retry-After`` asks for).
    """
    call = _Call(targets, messages, tools)
    for target in call.targets:
        rejected = _check_target(target)
        if rejected is not None:
            call.failures.append(rejected)
            continue
        limiter = limiter_for(target.endpoint)
        if not limiter.acquire(limit=target.endpoint.max_concurrency, timeout=slot_wait_seconds):
            call.failures.append(_busy(target.endpoint, slot_wait_seconds))
            continue
        try:
            kwargs = _chat_kwargs(target, messages, tools, temperature, max_tokens, response_format, stream=True)
            for attempt in range(MAX_ATTEMPTS):
                call.attempts += 1
                answer, yielded = _Answer(call), False
                try:
                    with _client(target.endpoint) as client:
                        stream = client.chat.completions.create(**kwargs)
                        with stream, closing(_stall_guard(stream, stall_seconds)) as chunks:
                            for chunk in chunks:
                                for event in answer.feed(chunk):
                                    yielded = True
                                    yield event
                        for event in answer.flush():
                            yielded = True
                            yield event
                        if answer.finish_reason is None:
                            raise _StreamFault("incomplete")
                    yield answer.completed(target)
                    return
                except Exception as exc:
                    outcome = _outcome(exc, target, attempt)
                    if yielded:
                        raise answer.broken(outcome, target) from exc
                    if outcome.retry_in is None or attempt + 1 == MAX_ATTEMPTS:
                        call.failures.append(outcome.error)
                        break
                    sleep(outcome.retry_in)
        finally:
            limiter.release()
    raise call.give_up()


async def achat_stream(
    *,
    targets: list[Target],
    messages: list[dict],
    tools: list[dict] | None = None,
    temperature: float = 0.3,
    max_tokens: int = 2000,
    response_format: dict | None = None,
    stall_seconds: float | None = None,
    slot_wait_seconds: float = SLOT_WAIT_SECONDS,
) -> AsyncIterator[Event]:
    """The asynchronous ``chat_stream`` (same events, errors and guarantees); never blocks the event loop.

    Use it under ``contextlib.aclosing`` so an abandoned stream frees its slot at once.
    """
    call = _Call(targets, messages, tools)
    for target in call.targets:
        rejected = await run_blocking(_check_target, target)
        if rejected is not None:
            call.failures.append(rejected)
            continue
        limiter = limiter_for(target.endpoint)
        if not await limiter.aacquire(limit=target.endpoint.max_concurrency, timeout=slot_wait_seconds):
            call.failures.append(_busy(target.endpoint, slot_wait_seconds))
            continue
        try:
            kwargs = _chat_kwargs(target, messages, tools, temperature, max_tokens, response_format, stream=True)
            for attempt in range(MAX_ATTEMPTS):
                call.attempts += 1
                answer, yielded = _Answer(call), False
                try:
                    client = _shared_aclient(target.endpoint)
                    async with (
                        client.chat.completions.with_streaming_response.create(**kwargs) as response,
                        aclosing(_astall_guard(_asse_chunks(response), stall_seconds)) as chunks,
                    ):
                        async for chunk in chunks:
                            for event in answer.feed(chunk):
                                yielded = True
                                yield event
                        for event in answer.flush():
                            yielded = True
                            yield event
                        if answer.finish_reason is None:
                            raise _StreamFault("incomplete")
                    yield answer.completed(target)
                    return
                except Exception as exc:
                    outcome = _outcome(exc, target, attempt)
                    if yielded:
                        raise answer.broken(outcome, target) from exc
                    if outcome.retry_in is None or attempt + 1 == MAX_ATTEMPTS:
                        call.failures.append(outcome.error)
                        break
                    await asyncio.sleep(outcome.retry_in)
        finally:
            limiter.release()
    raise call.give_up()


def chat_complete(
    *,
    targets: list[Target],
    messages: list[dict],
    tools: list[dict] | None = None,
    temperature: float = 0.3,
    max_tokens: int = 2000,
    response_format: dict | None = None,
    slot_wait_seconds: float = SLOT_WAIT_SECONDS,
    sleep: Callable[[float], object] = time.sleep,
) -> Completed:
    """Ask for a whole answer at once (no streaming); same retries, fallback, limits and reasoning split.

    ``ttft_ms`` is the time until the whole response arrived. Raises ``ModelUnavailable`` or
    ``ModelRejected``; the endpoint's timeout bounds the whole generation.
    """
    call = _Call(targets, messages, tools)
    for target in call.targets:
        rejected = _check_target(target)
        if rejected is not None:
            call.failures.append(rejected)
            continue
        limiter = limiter_for(target.endpoint)
        if not limiter.acquire(limit=target.endpoint.max_concurrency, timeout=slot_wait_seconds):
            call.failures.append(_busy(target.endpoint, slot_wait_seconds))
            continue
        try:
            kwargs = _chat_kwargs(target, messages, tools, temperature, max_tokens, response_format, stream=False)
            for attempt in range(MAX_ATTEMPTS):
                call.attempts += 1
                answer = _Answer(call)
                try:
                    with _client(target.endpoint) as client:
                        answer.whole(client.chat.completions.create(**kwargs))
                    return answer.completed(target)
                except Exception as exc:
                    outcome = _outcome(exc, target, attempt)
                    if outcome.retry_in is None or attempt + 1 == MAX_ATTEMPTS:
                        call.failures.append(outcome.error)
                        break
                    sleep(outcome.retry_in)
        finally:
            limiter.release()
    raise call.give_up()


async def achat_complete(
    *,
    targets: list[Target],
    messages: list[dict],
    tools: list[dict] | None = None,
    temperature: float = 0.3,
    max_tokens: int = 2000,
    response_format: dict | None = None,
    slot_wait_seconds: float = SLOT_WAIT_SECONDS,
) -> Completed:
    """The asynchronous ``chat_complete``."""
    call = _Call(targets, messages, tools)
    for target in call.targets:
        rejected = await run_blocking(_check_target, target)
        if rejected is not None:
            call.failures.append(rejected)
            continue
        limiter = limiter_for(target.endpoint)
        if not await limiter.aacquire(limit=target.endpoint.max_concurrency, timeout=slot_wait_seconds):
            call.failures.append(_busy(target.endpoint, slot_wait_seconds))
            continue
        try:
            kwargs = _chat_kwargs(target, messages, tools, temperature, max_tokens, response_format, stream=False)
            for attempt in range(MAX_ATTEMPTS):
                call.attempts += 1
                answer = _Answer(call)
                try:
                    answer.whole(await _shared_aclient(target.endpoint).chat.completions.create(**kwargs))
                    return answer.completed(target)
                except Exception as exc:
                    outcome = _outcome(exc, target, attempt)
                    if outcome.retry_in is None or attempt + 1 == MAX_ATTEMPTS:
                        call.failures.append(outcome.error)
                        break
                    await asyncio.sleep(outcome.retry_in)
        finally:
            limiter.release()
    raise call.give_up()
