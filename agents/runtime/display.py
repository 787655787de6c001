"""A run's whole trace, for the overseers who review and audit it (see ``visibility``)."""

from __future__ import annotations

import json

from ..models import Run
from .visibility import RunView, visible_run


def run_trace(*, run: Run, viewer) -> dict | None:
    """Everything about a run, its texts as ``viewer`` may see them (unmasked only when entitled);
    None when the viewer is not one of its overseers (a reviewer or admin of the agent's department)."""
    view: RunView = visible_run(run=run, viewer=viewer)
    if not view.overseer:
        return None
    show = view.show
    return {
        "run": run,
        "view": view,
        "unmasked": view.unmasked,
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
        "answer": view.draft,
        "reasoning": view.draft_reasoning,
        "final_text": view.final_text,
        "edited_text": show(run.edited_text),
        "output_json": json.dumps(run.output_data, ensure_ascii=False, indent=1) if run.output_data is not None else "",
        "guardrails": run.guardrails or {},
    }
