"""What a published version holds: everything that defines an agent, secrets excluded."""

from __future__ import annotations

from ..models import Agent


def agent_snapshot(*, agent: Agent) -> dict:
    template = agent.template
    return {
        "name": agent.name,
        "slug": agent.slug,
        "icon": agent.icon,
        "description": agent.description,
        "area": agent.area,
        "template": {
            "id": template.pk,
            "name": template.name,
            "body": template.body,
            "variables": template.variable_dicts(),
        },
        "model": {
            "endpoint_id": agent.endpoint_id,
            "endpoint_name": agent.endpoint.name if agent.endpoint_id else None,
            "model_name": agent.model_name,
            "temperature": str(agent.temperature),
            "max_tokens": agent.max_tokens,
            "fallback_endpoint_id": agent.fallback_endpoint_id,
            "fallback_model_name": agent.fallback_model_name,
        },
        "knowledge_base_ids": sorted(agent.knowledge_bases.values_list("pk", flat=True)),
        "tools": [
            {"id": t.pk, "builtin": t.builtin, "function_name": t.function_name, "name": t.name}
            for t in agent.tools.order_by("pk")
        ],
        "max_tool_steps": agent.max_tool_steps,
        "guardrails": {
            "mask_personal_data": agent.mask_personal_data,
            "sensitive_word_list_ids": sorted(agent.sensitive_word_lists.values_list("pk", flat=True)),
            "requires_review": agent.requires_review,
            "ai_label": agent.ai_label,
        },
        "output": {"mode": agent.output_mode, "schema": agent.output_schema},
        "minutes_saved": agent.minutes_saved,
    }
