"""Demo agents: each demo bureau gets several catalog scenarios, cloned, published and assigned."""

from __future__ import annotations

from django.db import transaction

from tenants import audit
from tenants.models import Department

from .builder.services import agent_publish, scenario_clone
from .models import Agent, Scenario

# Which catalog areas each demo bureau draws its agents from.
DEMO_AGENTS = {
    "demo-emergency": ["emergency", "documents", "office"],
    "demo-market": ["enforcement", "hotline", "policy"],
}
PER_AREA = 2


@transaction.atomic
def demo_agents_load() -> list[Agent]:
    """Clone, publish and assign the demo agents (skips departments that have them already)."""
    created = []
    with audit.context(via="demo"):
        for code, areas in DEMO_AGENTS.items():
            department = Department.objects.filter(code=code).first()
            if department is None or Agent.objects.filter(department=department).exclude(scenario_key="").exists():
                continue
            for area in areas:
                for scenario in Scenario.objects.filter(area=area).order_by("position")[:PER_AREA]:
                    agent = scenario_clone(scenario=scenario, department=department)
                    Agent.objects.filter(pk=agent.pk).update(assign_all_members=True)
                    agent.refresh_from_db()
                    agent_publish(agent=agent, user=None, note="演示数据")
                    created.append(agent)
    return created
