"""A real HTTP server on loopback that speaks the OpenAI API, for tests.

It serves ``GET /v1/models``, ``POST /v1/chat/completions`` (streamed or not) and
``POST /v1/embeddings`` and ``POST /v1/rerank`` (or ``/rerank``; each document scores the number of
the query's characters it contains, in the Jina/Cohere shape or, with ``rerank_shape = "tei"``, in
TEI's list; ``rerank_status`` fails rerank calls alone). Tests steer it through attributes — the models it offers, the API key
it demands, a delay before answering, a forced HTTP status, the reply text — and script chat
answers one request at a time with ``script(Reply(...), {...}, …)``: streamed text and reasoning,
tool calls, usage, error statuses with headers, delays, stalls, malformed chunks, truncated and
reset connections. Unscripted chat requests get ``reply`` (or ``respond(body)``, a function of the request:
a model that follows its prompt), after ``first_token_delay`` seconds and with ``chunk_delay`` seconds
between chunks (a model with a fixed time to first token, for benchmarks).

Every request is recorded in ``requests`` (method, path, lower-cased headers, JSON body), and the
server counts chat requests in flight (``max_active`` is the most it saw at once) and the stalls
still waiting for their client (``hanging``), so tests can prove what the model was sent, how
calls overlapped, and that a client gave up on a stalled stream.
"""

from __future__ import annotations

import hashlib
import json
import select
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted answer to one chat request.

    text, reasoning: a string (sent one character per chunk) or a list of chunks.
    reasoning_as: "reasoning_content" (DeepSeek), "reasoning" (some vLLM/Ollama builds) or "think"
        (inline ``<think>…</think>`` before the text, in the content).
    tool_calls: ``{"name", "arguments" (str or dict), "id" (optional), "pieces" (chunks for the
        arguments, default 3)}`` each.
    finish_reason: default "tool_calls" when there are tool calls, else "stop".
    usage: ``{"prompt_tokens", "completion_tokens"}``; "auto" counts something plausible; None sends
        none. Streamed usage is only sent when the request asked for it (``stream_options``), as real
        servers do.
    status, headers, error: answer with this HTTP status (and headers, e.g. Retry-After) instead.
    delay: seconds before the first byte; chunk_delay: seconds between chunks.
    stall_after / truncate_after / malformed_after / reset_after: after that many content chunks
        (for a non-streamed reply: instead of the body), hang until the client goes away or the
        test ends / close the connection without the final chunk / send a chunk that is not JSON /
        reset the connection. error_after: after that many content chunks of a streamed reply, send an
        error event (``{"error": {"message": error}}``, as vLLM and others do) and end the stream.
    """

    text: str | list[str] = "好的。"
    reasoning: str | list[str] = ""
    reasoning_as: str = "reasoning_content"
    tool_calls: list[dict] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict | str | None = "auto"
    status: int = 200
    headers: dict = field(default_factory=dict)
    error: str = "scripted error"
    delay: float = 0.0
    chunk_delay: float = 0.0
    stall_after: int | None = None
    truncate_after: int | None = None
    malformed_after: int | None = None
    reset_after: int | None = None
    error_after: int | None = None


def _pieces(value: str | list[str]) -> list[str]:
    return list(value)  # a string is sent one character per chunk


def _split(text: str, n: int) -> list[str]:
    n = max(1, min(n, len(text) or 1))
    size = -(-len(text) // n) or 1
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class _Server(ThreadingHTTPServer):
    # Benchmarks open dozens of connections at once: the default listen backlog of 5 would drop
    # some of them and make those wait a second for TCP to try again.
    request_queue_size = 128
    daemon_threads = True


class FakeOpenAI:
    def __init__(self) -> None:
        self.models = ["fake-chat", "fake-embed"]
        self.api_key: str | None = None
        self.delay = 0.0
        self.status: int | None = None
        self.reply = "好的。"
        # A function of the request's JSON body giving the reply text (a model that follows its prompt).
        self.respond = None
        self.first_token_delay = 0.0
        self.chunk_delay = 0.0
        self.rerank_status: int | None = None
        self.rerank_shape = "results"
        self.requests: list[dict] = []
        self.active = 0
        self.max_active = 0
        self.hanging = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        # Free any request still hanging from the previous test, then start clean.
        self._release.set()
        self._release = threading.Event()
        self.models = ["fake-chat", "fake-embed"]
        self.api_key, self.delay, self.status, self.reply, self.respond = None, 0.0, None, "好的。", None
        self.first_token_delay = self.chunk_delay = 0.0
        self.rerank_status, self.rerank_shape = None, "results"
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.active = self.max_active = 0

    def script(self, *replies: Reply | dict) -> FakeOpenAI:
        """Queue answers for the next chat requests, one each, in order (dicts are ``Reply`` fields)."""
        with self._lock:
            for reply in replies:
                self._script.append(reply if isinstance(reply, Reply) else Reply(**reply))
        return self

    @property
    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == "/v1/chat/completions"]

    @property
    def rerank_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"] in ("/v1/rerank", "/rerank")]

    def _next_reply(self, body: dict | None = None) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        if self.respond is not None:
            return Reply(text=self.respond(body or {}), delay=self.first_token_delay, chunk_delay=self.chunk_delay)
        return Reply(text=self.reply, delay=self.first_token_delay, chunk_delay=self.chunk_delay)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _record(self, body: dict | None = None) -> None:
                entry = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }
                if body is not None:
                    entry["body"] = body
                with fake._lock:
                    fake.requests.append(entry)

            def _gate(self) -> bool:
                if fake.delay:
                    fake._release.wait(fake.delay)
                if fake.api_key and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._json(401, {"error": {"message": "Incorrect API key", "type": "invalid_request_error"}})
                    return False
                if fake.status:
                    self._json(fake.status, {"error": {"message": "forced", "type": "server_error"}})
                    return False
                return True

            def do_GET(self):
                self._record()
                if not self._gate():
                    return
                if self.path.rstrip("/") == "/v1/models":
                    self._json(
                        200,
                        {
                            "object": "list",
                            "data": [
                                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in fake.models
                            ],
                        },
                    )
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                self._record(body)
                if self.path == "/v1/chat/completions":
                    self._chat(body)
                    return
                if not self._gate():
                    return
                if self.path == "/v1/embeddings":
                    inputs = body.get("input")
                    inputs = [inputs] if isinstance(inputs, str) else inputs
                    data = [{"object": "embedding", "index": i, "embedding": _vector(t)} for i, t in enumerate(inputs)]
                    self._json(
                        200,
                        {
                            "object": "list",
                            "data": data,
                            "model": body.get("model"),
                            "usage": {"prompt_tokens": 1, "total_tokens": 1},
                        },
                    )
                elif self.path in ("/v1/rerank", "/rerank"):
                    self._rerank(body)
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def _rerank(self, body: dict) -> None:
                if fake.rerank_status:
                    self._json(fake.rerank_status, {"error": {"message": "forced", "type": "server_error"}})
                    return
                query = body.get("query") or ""
                scores = [float(sum(doc.count(ch) for ch in set(query))) for doc in body.get("documents") or []]
                order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
                if body.get("top_n"):
                    order = order[: body["top_n"]]
                if fake.rerank_shape == "tei":
                    data = json.dumps([{"index": i, "score": scores[i]} for i in order]).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                results = [{"index": i, "relevance_score": scores[i]} for i in order]
                self._json(200, {"model": body.get("model"), "results": results})

            # -- chat ---------------------------------------------------------------------------

            def _chat(self, body: dict) -> None:
                with fake._lock:
                    fake.active += 1
                    fake.max_active = max(fake.max_active, fake.active)
                self._counted = True
                try:
                    if not self._gate():
                        return
                    reply = fake._next_reply(body)
                    if reply.delay:
                        fake._release.wait(reply.delay)
                    if reply.status != 200:
                        self._done()
                        self._json(
                            reply.status,
                            {"error": {"message": reply.error, "type": "scripted", "code": str(reply.status)}},
                            reply.headers,
                        )
                    elif body.get("stream"):
                        self._stream(body, reply)
                    else:
                        self._whole(body, reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away
                finally:
                    self._done()

            def _done(self) -> None:
                # Counted out just before the last bytes go out, so a client that has read them
                # can never see its next request overlap this one.
                if getattr(self, "_counted", False):
                    self._counted = False
                    with fake._lock:
                        fake.active -= 1

            def _hang(self) -> None:
                """Send nothing until the client goes away or the test ends (``hanging`` counts these)."""
                release = fake._release
                with fake._lock:
                    fake.hanging += 1
                try:
                    while not release.is_set():
                        readable, _, _ = select.select([self.connection], [], [], 0.05)
                        if readable:
                            try:
                                if not self.connection.recv(1, socket.MSG_PEEK):
                                    return
                            except OSError:
                                return
                finally:
                    with fake._lock:
                        fake.hanging -= 1

            def _reset(self) -> None:
                # SO_LINGER with a zero timeout makes close() send a TCP reset.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            def _usage(self, body: dict, reply: Reply, completion_text: str) -> dict | None:
                if reply.usage is None:
                    return None
                if reply.usage == "auto":
                    prompt = len(json.dumps(body.get("messages", []), ensure_ascii=False)) // 2
                    return {
                        "prompt_tokens": prompt,
                        "completion_tokens": len(completion_text),
                        "total_tokens": prompt + len(completion_text),
                    }
                usage = dict(reply.usage)
                usage.setdefault("total_tokens", usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))
                return usage

            def _finish_reason(self, reply: Reply) -> str:
                return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")

            def _deltas(self, reply: Reply) -> list[dict]:
                deltas: list[dict] = []
                reasoning = _pieces(reply.reasoning)
                if reply.reasoning_as == "think":
                    if reasoning:
                        deltas += [{"content": p} for p in ["<think>", *reasoning, "</think>\n\n"]]
                else:
                    deltas += [{reply.reasoning_as: p} for p in reasoning]
                deltas += [{"content": p} for p in _pieces(reply.text)]
                for index, call in enumerate(reply.tool_calls):
                    arguments = call["arguments"]
                    if not isinstance(arguments, str):
                        arguments = json.dumps(arguments, ensure_ascii=False)
                    for n, part in enumerate(_split(arguments, call.get("pieces", 3))):
                        tool = {"index": index, "function": {"arguments": part}}
                        if n == 0:
                            tool.update(id=call.get("id", f"call_{index}"), type="function")
                            tool["function"]["name"] = call["name"]
                        deltas.append({"tool_calls": [tool]})
                if deltas:
                    deltas[0] = {"role": "assistant", **deltas[0]}
                return deltas

            def _stream(self, body: dict, reply: Reply) -> None:
                created = int(time.time())

                def chunk(choices: list, usage: dict | None = None) -> bytes:
                    data = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": body.get("model"),
                        "choices": choices,
                    }
                    if usage is not None:
                        data["usage"] = usage
                    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.flush()
                deltas = self._deltas(reply)
                for n, delta in enumerate(deltas):
                    if n == reply.stall_after:
                        self._done()
                        self._hang()
                        return
                    if n == reply.truncate_after:
                        return
                    if n == reply.reset_after:
                        self._done()
                        self._reset()
                        return
                    if n == reply.malformed_after:
                        self.wfile.write(b'data: {"id": "chatcmpl-fake", "choices": [{"delta": {"content": "\n\n')
                        self.wfile.flush()
                    if n == reply.error_after:
                        error = {"error": {"message": reply.error, "type": "server_error"}}
                        self.wfile.write(f"data: {json.dumps(error, ensure_ascii=False)}\n\n".encode())
                        self.wfile.flush()
                        return
                    self.wfile.write(chunk([{"index": 0, "delta": delta, "finish_reason": None}]))
                    self.wfile.flush()
                    if reply.chunk_delay:
                        fake._release.wait(reply.chunk_delay)
                if len(deltas) in (reply.stall_after, reply.truncate_after):
                    self._done()
                    if reply.stall_after is not None:
                        self._hang()
                    return
                completion = "".join(
                    str(v) for d in deltas for k, v in d.items() if k in ("content", "reasoning_content", "reasoning")
                )
                tail = chunk([{"index": 0, "delta": {}, "finish_reason": self._finish_reason(reply)}])
                usage = self._usage(body, reply, completion)
                if usage is not None and (body.get("stream_options") or {}).get("include_usage"):
                    tail += chunk([], usage)
                self._done()
                self.wfile.write(tail + b"data: [DONE]\n\n")
                self.wfile.flush()

            def _whole(self, body: dict, reply: Reply) -> None:
                reasoning, text = "".join(_pieces(reply.reasoning)), "".join(_pieces(reply.text))
                message: dict = {"role": "assistant", "content": text}
                if reasoning and reply.reasoning_as == "think":
                    message["content"] = f"<think>\n{reasoning}\n</think>\n\n{text}"
                elif reasoning:
                    message[reply.reasoning_as] = reasoning
                if reply.tool_calls:
                    message["tool_calls"] = [
                        {
                            "id": call.get("id", f"call_{i}"),
                            "type": "function",
                            "function": {
                                "name": call["name"],
                                "arguments": call["arguments"]
                                if isinstance(call["arguments"], str)
                                else json.dumps(call["arguments"], ensure_ascii=False),
                            },
                        }
                        for i, call in enumerate(reply.tool_calls)
                    ]
                response = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": self._finish_reason(reply), "message": message}],
                }
                usage = self._usage(body, reply, reasoning + text)
                if usage is not None:
                    response["usage"] = usage
                data = json.dumps(response, ensure_ascii=False).encode()
                if reply.stall_after is not None:
                    self._done()
                    self._hang()
                    return
                if reply.reset_after is not None:
                    self._done()
                    self._reset()
                    return
                if reply.malformed_after is not None:
                    data = b'{"id": "chatcmpl-fake", "choices": [{'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self._done()
                if reply.truncate_after is not None:
                    self.wfile.write(data[: len(data) // 2])
                    return
                self.wfile.write(data)

        return Handler


def _vector(text: str, dims: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 for b in digest[:dims]]
