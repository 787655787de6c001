"""What the gateway hands back: streamed events, the finished answer, and its errors.

Nothing here talks to the network; the runtime and its tests may import these freely.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import ModelEndpoint


@dataclass
class ToolCall:
    """A function the model asked to call; ``arguments`` is the raw JSON text exactly as the model sent it."""

    id: str
    name: str
    arguments: str


@dataclass
class Usage:
    """Tokens in and out. ``estimated`` is true when the server reported none and we counted (``tokens_estimate``)."""

    input_tokens: int
    output_tokens: int
    estimated: bool = False


@dataclass
class TextDelta:
    """A piece of the answer, in order. Never contains reasoning."""

    text: str


@dataclass
class ReasoningDelta:
    """A piece of the model's reasoning (``reasoning_content`` or inline ``<think>``), kept apart from the answer."""

    text: str


@dataclass
class Completed:
    """The last event of a successful stream (and the result of ``chat_complete``).

    ``text`` is the answer without reasoning; for a stream it is the TextDeltas joined, except when the
    model closed a ``</think>`` it never opened (reasoning templates put the opening tag in the prompt):
    then everything before that tag, already streamed as text, is moved to ``reasoning`` here, so
    ``text`` is the authoritative answer. ``endpoint_id`` and ``model`` say what actually answered
    (after fallback); ``ttft_ms`` counts from the call's start (including waiting for a slot and retries)
    to the first text, reasoning or tool-call delta; ``attempts`` counts HTTP requests over all targets.
    """

    text: str
    reasoning: str
    tool_calls: list[ToolCall]
    finish_reason: str
    usage: Usage
    endpoint_id: int
    model: str
    ttft_ms: int | None
    attempts: int


@dataclass
class Target:
    """One endpoint and model to ask; a call gets a list of them, primary first, then fallbacks."""

    endpoint: ModelEndpoint
    model: str


class ModelError(Exception):
    """Base of the gateway's errors. ``message`` is a clear Chinese sentence a user may read; ``str()`` is it.

    ``attempts`` counts the HTTP requests made before giving up; ``failures`` holds, for a call with
    fallbacks, the error of each target in order (each with its own message).
    """

    def __init__(self, message: str, *, attempts: int = 0, failures: list[ModelError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        self.failures = failures or []

    def __str__(self) -> str:
        return self.message


class ModelUnavailable(ModelError):
    """Nothing usable came back after retries and fallbacks (timeout, refused connection, 429, 5xx, full queue).

    Worth trying again later.
    """


class ModelRejected(ModelError):
    """The endpoint refused the request (401, 403, 404, 400, egress not allowed, endpoint disabled).

    Not retried on the same endpoint; trying again unchanged will fail again.
    """


class ContextTooLong(ModelRejected):
    """The endpoint said the conversation does not fit its model's context window (a 400 naming it)."""


def context_too_long(exc: ModelError) -> bool:
    """Whether every target gave up on ``exc``'s call because the conversation was too long for its model."""
    failures = exc.failures or [exc]
    return all(isinstance(failure, ContextTooLong) for failure in failures)


class StreamBroken(ModelError):
    """The stream failed after output had begun: it broke, stalled, sent malformed chunks or ended unfinished.

    Nothing is restarted: what was produced is kept in ``partial_text`` / ``partial_reasoning``.
    ``incomplete`` is true when the stream simply ended without its final chunk (the answer is cut off);
    false when it broke, stalled or sent garbage.
    """

    def __init__(
        self,
        message: str,
        *,
        partial_text: str,
        partial_reasoning: str,
        usage: Usage,
        ttft_ms: int | None,
        endpoint_id: int,
        model: str,
        incomplete: bool,
        tool_calls: list[ToolCall] | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.partial_text = partial_text
        self.partial_reasoning = partial_reasoning
        self.usage = usage
        self.ttft_ms = ttft_ms
        self.endpoint_id = endpoint_id
        self.model = model
        self.incomplete = incomplete
        self.tool_calls = tool_calls or []


_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def tokens_estimate(text: str) -> int:
    """A rough token count for when a server reports no usage.

    Chinese characters (and full-width punctuation) count 1/1.5 token each — DeepSeek and Qwen
    tokenizers average about 0.6–0.7 per character — and anything else 1/4 token per character,
    the usual figure for English and code. Good for quotas and cost estimates, not for billing.
    """
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    return math.ceil(cjk / 1.5 + (len(text) - cjk) / 4)
