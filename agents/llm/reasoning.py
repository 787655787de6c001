"""Keeping a reasoning model's thinking apart from its answer when it arrives inline as ``<think>…</think>``."""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    """Split streamed content into answer text and reasoning, one piece at a time.

    Feed content pieces as they arrive; each call returns ``[(kind, text), …]`` with kind "text" or
    "reasoning", in order, tags removed. Tags may be split across pieces: a tail that could be the
    start of a tag is held back until the next piece (or ``flush``). A reply that opens ``<think>`` and
    never closes it is all reasoning. Leading whitespace of the answer and of each reasoning block is
    dropped (models put blank lines after the tags).
    """

    def __init__(self) -> None:
        self.in_think = False
        self._held = ""
        self._text_started = False
        self._reasoning_started = False

    def feed(self, piece: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        buf = self._held + piece
        while True:
            tag = CLOSE if self.in_think else OPEN
            at = buf.find(tag)
            if at >= 0:
                self._emit(buf[:at], out)
                buf = buf[at + len(tag) :]
                self.in_think = not self.in_think
                self._reasoning_started = False
                continue
            keep = _partial_tag_length(buf, tag)
            self._emit(buf[: len(buf) - keep], out)
            self._held = buf[len(buf) - keep :]
            return out

    def flush(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        self._emit(self._held, out)
        self._held = ""
        return out

    def _emit(self, text: str, out: list[tuple[str, str]]) -> None:
        if self.in_think:
            if not self._reasoning_started:
                text = text.lstrip()
            if text:
                self._reasoning_started = True
                out.append(("reasoning", text))
        else:
            if not self._text_started:
                text = text.lstrip()
            if text:
                self._text_started = True
                out.append(("text", text))


def _partial_tag_length(buf: str, tag: str) -> int:
    """Length of the longest tail of ``buf`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(buf)), 0, -1):
        if buf.endswith(tag[:n]):
            return n
    return 0


def split_stray_close(text: str, reasoning: str) -> tuple[str, str]:
    """Move the part of an answer before a ``</think>`` that was never opened into the reasoning.

    DeepSeek-R1's newer chat template puts ``<think>`` in the prompt, so the model's output starts
    with its reasoning and only closes the tag. A streaming reader cannot know that until the tag
    arrives; the final answer is corrected here.
    """
    at = text.find(CLOSE)
    if at < 0:
        return text, reasoning
    before, after = text[:at].strip(), text[at + len(CLOSE) :].lstrip()
    return after, "\n".join(p for p in (before, reasoning) if p)
