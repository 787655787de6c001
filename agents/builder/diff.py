"""What differs between two agent snapshots, in the words of the builder's form.

Each versioned field is shown with its label and its objects by name (knowledge bases, word lists,
model services, tools), and the prompt as a line diff, instead of raw JSON with ids.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import Agent, KnowledgeBase, ModelEndpoint, SensitiveWordList
from .snapshot import agent_snapshot

# Form fields whose value is frozen into a published version (see snapshot.py). Everything else on
# the agent form (who may use it, whether it is enabled, its department) takes effect on save.
VERSIONED_FIELDS = [
    "name",
    "slug",
    "icon",
    "description",
    "area",
    "template",
    "endpoint",
    "model_name",
    "fallback_endpoint",
    "fallback_model_name",
    "temperature",
    "max_tokens",
    "knowledge_bases",
    "tools",
    "max_tool_steps",
    "mask_personal_data",
    "sensitive_word_lists",
    "requires_review",
    "ai_label",
    "output_mode",
    "output_schema",
    "minutes_saved",
]
PROMPT_LABEL = gettext_lazy("提示词正文")
VARIABLES_LABEL = gettext_lazy("表单变量")


@dataclass
class Change:
    """One versioned field that differs: ``before``/``after`` as shown, or ``lines`` of a text diff."""

    field: str
    label: str
    before: str = ""
    after: str = ""
    lines: list[str] = field(default_factory=list)


def _label(name: str) -> str:
    return str(Agent._meta.get_field(name).verbose_name)


def _names(model, ids) -> str:
    if not ids:
        return "—"
    found = dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))
    return "、".join(found.get(i) or _("已删除（#%(id)s）") % {"id": i} for i in ids)


def _yes(value) -> str:
    return _("是") if value else _("否")


def _flat(snapshot: dict) -> dict[str, str]:
    """The snapshot as form field → text shown to the admin (prompt body and variables apart)."""
    model = snapshot.get("model") or {}
    guard = snapshot.get("guardrails") or {}
    output = snapshot.get("output") or {}
    template = snapshot.get("template") or {}
    area_labels = dict(Agent._meta.get_field("area").choices)
    mode_labels = dict(Agent.OutputMode.choices)
    endpoint = model.get("endpoint_name") or (
        _names(ModelEndpoint, [model["endpoint_id"]]) if model.get("endpoint_id") else "—"
    )
    fallback = model.get("fallback_endpoint_id")
    return {
        "name": snapshot.get("name", ""),
        "slug": snapshot.get("slug", ""),
        "icon": snapshot.get("icon", ""),
        "description": snapshot.get("description", ""),
        "area": str(area_labels.get(snapshot.get("area"), snapshot.get("area", ""))),
        "template": template.get("name", ""),
        "endpoint": endpoint,
        "model_name": model.get("model_name") or "—",
        "fallback_endpoint": _names(ModelEndpoint, [fallback]) if fallback else "—",
        "fallback_model_name": model.get("fallback_model_name") or "—",
        # "0.3" and "0.30" are the same temperature (a form's value against the database's).
        "temperature": str(float(model["temperature"])) if model.get("temperature") not in (None, "") else "",
        "max_tokens": str(model.get("max_tokens", "")),
        "knowledge_bases": _names(KnowledgeBase, snapshot.get("knowledge_base_ids") or []),
        "tools": "、".join(t.get("name") or t.get("function_name", "") for t in snapshot.get("tools") or []) or "—",
        "max_tool_steps": str(snapshot.get("max_tool_steps", "")),
        "mask_personal_data": _yes(guard.get("mask_personal_data")),
        "sensitive_word_lists": _names(SensitiveWordList, guard.get("sensitive_word_list_ids") or []),
        "requires_review": _yes(guard.get("requires_review")),
        "ai_label": _yes(guard.get("ai_label")),
        "output_mode": str(mode_labels.get(output.get("mode"), output.get("mode", ""))),
        "output_schema": "" if output.get("schema") is None else str(output.get("schema")),
        "minutes_saved": str(snapshot.get("minutes_saved", "")),
    }


def _variable_lines(snapshot: dict) -> list[str]:
    return [
        f"{v.get('label', '')}（{v.get('name', '')}）· {v.get('type', '')}" + (" *" if v.get("required", True) else "")
        for v in (snapshot.get("template") or {}).get("variables", [])
    ]


def _text_diff(before: list[str], after: list[str]) -> list[str]:
    return list(difflib.unified_diff(before, after, lineterm="", n=2))[2:]


def snapshot_changes(*, before: dict | None, after: dict) -> list[Change]:
    """The versioned fields that differ from ``before`` to ``after``, in form order (all when ``before`` is None)."""
    old, new = _flat(before or {}), _flat(after)
    changes = [
        Change(field=name, label=_label(name), before=old[name] if before else "", after=new[name])
        for name in VERSIONED_FIELDS
        if before is None or old[name] != new[name]
    ]
    body_before = ((before or {}).get("template") or {}).get("body", "")
    body_after = (after.get("template") or {}).get("body", "")
    if body_before != body_after:
        lines = _text_diff(body_before.splitlines(), body_after.splitlines())
        changes.append(Change(field="template", label=str(PROMPT_LABEL), lines=lines))
    variables_before, variables_after = _variable_lines(before or {}), _variable_lines(after)
    if variables_before != variables_after:
        lines = _text_diff(variables_before, variables_after)
        changes.append(Change(field="template", label=str(VARIABLES_LABEL), lines=lines))
    return changes


def draft_changes(*, agent: Agent) -> list[Change]:
    """What publishing the saved draft would change for staff (everything when nothing is published yet)."""
    live = agent.current_version
    return snapshot_changes(before=live.snapshot if live else None, after=agent_snapshot(agent=agent))
