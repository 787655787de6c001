"""An agent as an MCP tool: its name, description and input schema (the form fields of its published version)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ...models import Agent
from ...prompts.variables import LONG_TEXT_LIMIT, SHORT_TEXT_LIMIT, VariableType

MESSAGE = "message"


def _field_schema(variable: dict) -> dict:
    kind = variable.get("type")
    description = variable.get("label") or variable["name"]
    if variable.get("help"):
        description = f"{description}：{variable['help']}"
    schema: dict = {"title": variable.get("label") or variable["name"], "description": description}
    if kind == VariableType.CHOICE:
        schema.update(type="string", enum=[str(c) for c in variable.get("choices") or []])
    elif kind == VariableType.NUMBER:
        schema["type"] = "number"
    elif kind == VariableType.DATE:
        schema.update(type="string", format="date")
    elif kind == VariableType.SHORT_TEXT:
        schema.update(type="string", maxLength=SHORT_TEXT_LIMIT)
    else:
        schema.update(type="string", maxLength=LONG_TEXT_LIMIT)
    if variable.get("example"):
        schema["examples"] = [str(variable["example"])]
    return schema


def form_variables(agent: Agent) -> list[dict]:
    """The form fields of the agent's published version."""
    return ((agent.current_version.snapshot or {}).get("template") or {}).get("variables") or []


def input_schema(agent: Agent) -> dict:
    """The tool's arguments: one per form field (required as the form requires it), and ``message``, the
    free question, required only when the agent has no form (unless a form field is itself named so)."""
    variables = form_variables(agent)
    properties = {v["name"]: _field_schema(v) for v in variables}
    if MESSAGE not in properties:  # a form field named "message" is that field, and there is no free question
        properties[MESSAGE] = {
            "type": "string",
            "title": _("问题"),
            "description": _("向智能体提出的问题或要处理的文本。"),
        }
    required = [v["name"] for v in variables if v.get("required", True)]
    if not variables:
        required = [MESSAGE]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def tool_description(agent: Agent) -> str:
    snapshot = agent.current_version.snapshot or {}
    description = snapshot.get("description") or agent.description or ""
    requires_review = bool((snapshot.get("guardrails") or {}).get("requires_review"))
    parts = [snapshot.get("name") or agent.name, description]
    if requires_review:
        parts.append(_("输出需要人工审核后才交付：审核通过前不返回回答。"))
    return "\n".join(p for p in parts if p)
