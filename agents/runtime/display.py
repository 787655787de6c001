"""Masked texts as a given viewer may see them."""

from __future__ import annotations

import json
import re

from ..models import Run
from ..privacy.masking import unmask
from .access import may_see_personal_data

_OPEN_PLACEHOLDER = re.compile(r"【[^【】]{0,40}$")


def run_mapping_for(*, run: Run, user) -> dict[str, str]:
    """The placeholder → value mapping ``user`` may apply to ``run`` (empty when they may not)."""
    if not run.mask_mapping or not may_see_personal_data(user=user, run=run):
        return {}
    return json.loads(run.mask_mapping)


def text_for(*, run: Run, user, text: str) -> str:
    return unmask(text, run_mapping_for(run=run, user=user))


class StreamUnmasker:
    """Unmasks streamed chunks; a placeholder split across chunks is held back until it is whole."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping
        self._pending = ""

    def feed(self, text: str) -> str:
        if not self.mapping:
            return text
        self._pending += text
        open_tail = _OPEN_PLACEHOLDER.search(self._pending)
        cut = open_tail.start() if open_tail else len(self._pending)
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return unmask(out, self.mapping)

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return unmask(out, self.mapping)


def run_trace(*, run: Run, user) -> dict:
    """Everything about a run, its texts as ``user`` may see them (unmasked only when entitled)."""
    mapping = run_mapping_for(run=run, user=user)

    def show(text):
        return unmask(text or "", mapping)

    return {
        "run": run,
        "unmasked": bool(mapping),
        "input_text": show(run.input_text),
        "form_values": [(name, show(value)) for name, value in (run.form_values or {}).items()],
        "attachments": [{**a, "text": show(a.get("text", ""))} for a in run.attachments or []],
        "prompt_messages": [
            {**m, "content": show(m.get("content") or ""), "tool_calls": m.get("tool_calls") or []}
            for m in run.prompt_messages or []
        ],
        "retrieved": [{**h, "text": show(h.get("text", ""))} for h in run.retrieved or []],
        "steps": [
            {
                **s,
                "arguments_text": show(json.dumps(s.get("arguments"), ensure_ascii=False, indent=1)),
                "result_text": show(json.dumps(s.get("result"), ensure_ascii=False, indent=1)),
            }
            for s in run.steps or []
        ],
        "answer": show(run.answer),
        "reasoning": show(run.reasoning),
        "final_text": show(run.final_text),
        "output_json": json.dumps(run.output_data, ensure_ascii=False, indent=1) if run.output_data is not None else "",
        "guardrails": run.guardrails or {},
    }
