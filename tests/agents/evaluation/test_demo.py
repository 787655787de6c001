"""The demo's agents come with small test sets, which run without a model."""

from __future__ import annotations

import pytest

from agents.demo import DEMO_AGENTS, demo_agents_load, demo_test_sets_load
from agents.evaluation.processing import eval_run_process
from agents.evaluation.services import eval_run_start
from agents.models import Agent, EvalCase, EvalRun, Run
from tenants.demo import demo_departments_load
from tenants.models import User


@pytest.mark.django_db(transaction=True)
def test_each_demo_agent_has_a_small_test_set_that_runs_without_a_model(fake_openai):
    demo_departments_load(password="Demo-Pass-2026")
    demo_agents_load()
    created = demo_test_sets_load()
    agents = Agent.objects.filter(department__code__in=list(DEMO_AGENTS)).exclude(scenario_key="")
    assert agents.exists() and len(created) >= agents.count()
    assert all(1 <= agent.eval_cases.count() <= 3 for agent in agents)
    assert demo_test_sets_load() == [], "loading again adds nothing"

    admin = User.objects.get(username="yingji_admin")
    agent = agents.filter(department__code="demo-emergency").order_by("pk").first()
    eval_run = eval_run_start(agent=agent, user=admin, version=agent.current_version)
    assert eval_run_process(eval_run_id=eval_run.pk) == EvalRun.Status.FINISHED
    eval_run.refresh_from_db()
    assert eval_run.done == EvalCase.objects.filter(agent=agent).count()
    assert Run.objects.filter(agent=agent, via=Run.Via.EVAL, retrieval_only=True).count() == eval_run.done
    assert fake_openai.chat_requests == []
