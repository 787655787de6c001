"""Publishing runs the agent's test set first: a regression past the admin's threshold blocks it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import EvalCase, EvalRun, Run, UsageCounter
from agents.reports.rollups import usage_rebuild
from agents.runtime.review import review_queue
from tenants.models import AuditEntry
from tests.agents.evaluation.helpers import BROKEN_PROMPT, GOOD_PROMPT, agent_with_test_set

pytestmark = pytest.mark.django_db(transaction=True)


def publish(client, agent):
    return client.post(reverse("admin:agents_agent_publish", args=[agent.pk]), {"note": "调整提示词"})


def finished_gate(wait_for, eval_run_id):
    return wait_for(lambda: EvalRun.objects.filter(pk=eval_run_id).exclude(gate="").first(), timeout=90)


def test_the_gate_blocks_a_deliberately_broken_prompt(celery_worker, fake_openai, tenant_a, tenant_b, login, wait_for):
    agent = agent_with_test_set(tenant_a.department, fake_openai, requires_review=True)
    v1 = agent.current_version
    agent.template.body = BROKEN_PROMPT
    agent.template.save()
    client = login(tenant_a.admin)

    response = publish(client, agent)
    eval_run = EvalRun.objects.get(agent=agent, purpose=EvalRun.Purpose.PUBLISH)
    assert response.status_code == 302 and response.url == reverse("admin:agents_evalrun_change", args=[eval_run.pk])
    eval_run = finished_gate(wait_for, eval_run.pk)

    # Blocked: staff and the API still use v1.
    agent.refresh_from_db()
    assert eval_run.gate == EvalRun.Gate.BLOCKED and agent.current_version == v1
    page = client.get(reverse("admin:agents_evalrun_change", args=[eval_run.pk])).content.decode()
    assert "未通过，已阻止发布" in page and "下降 100 个百分点" in page
    for n in (1, 2, 3):
        assert f"博士补贴标准{n}" in page
    assert "回答中没有：3000元" in page and "回答中出现了：无法回答" in page
    # Beside the version in use, measured in the same job on the same cases.
    comparison = client.get(reverse("admin:agents_evalrun_change", args=[eval_run.pk])).context["comparison"]
    rows = {row.label: (row.this, row.baseline) for row in comparison["rows"]}
    assert rows["通过率"] == ("0%", "100%")
    assert rows["检索命中"][0].startswith("100%")  # retrieval was not what broke

    # Test runs are the admins' own: nobody reviews them and no report counts them.
    assert Run.objects.filter(agent=agent, via=Run.Via.EVAL).count() == 6
    assert not review_queue(user=tenant_a.reviewer).filter(agent=agent).exists()
    usage_rebuild(start=timezone.localdate(), end=timezone.localdate())
    assert not UsageCounter.objects.filter(agent=agent).exists()

    # Another department's admin cannot see the run, nor override it.
    other = login(tenant_b.admin)
    assert other.get(reverse("admin:agents_evalrun_change", args=[eval_run.pk])).status_code == 404
    assert other.post(reverse("admin:agents_evalrun_override", args=[eval_run.pk]), {"reason": "x"}).status_code == 404

    # An admin overrides with a reason: published, and the reason is in the audit log.
    client = login(tenant_a.admin)
    refused = client.post(reverse("admin:agents_evalrun_override", args=[eval_run.pk]), {"reason": " "}, follow=True)
    assert "强制发布时请填写理由" in refused.content.decode()
    client.post(reverse("admin:agents_evalrun_override", args=[eval_run.pk]), {"reason": "局长要求今天上线"})
    agent.refresh_from_db()
    assert agent.current_version.number == 2
    entry = AuditEntry.objects.filter(model="agents.EvalRun", object_id=str(eval_run.pk), kind="update").get()
    assert entry.actor == tenant_a.admin and entry.changes["override_reason"] == ["", "局长要求今天上线"]


def test_a_draft_that_keeps_its_pass_rate_is_published_by_the_check(
    celery_worker, fake_openai, tenant_a, tenant_b, login, wait_for
):
    agent = agent_with_test_set(tenant_a.department, fake_openai)
    agent.description = "新的简介"
    agent.save()
    response = publish(login(tenant_a.admin), agent)
    assert response.status_code == 302
    eval_run = finished_gate(wait_for, EvalRun.objects.get(agent=agent, purpose=EvalRun.Purpose.PUBLISH).pk)
    agent.refresh_from_db()
    assert eval_run.gate == EvalRun.Gate.PUBLISHED and agent.current_version.number == 2
    assert agent.current_version.published_by == tenant_a.admin
    assert eval_run.pass_rate == 100.0 and eval_run.baseline.pass_rate == 100.0


def test_a_threshold_lets_a_small_regression_through(celery_worker, fake_openai, tenant_a, tenant_b, login, wait_for):
    agent = agent_with_test_set(tenant_a.department, fake_openai, cases=3)
    EvalCase.objects.create(agent=agent, name="补贴期限", message="补贴发多久？", must_include="36个月")
    client = login(tenant_a.admin)
    settings_page = reverse("admin:agents_evalcase_agent", args=[agent.pk])
    client.post(settings_page, {"_settings": "1", "max_drop": "30", "judge_endpoint": "", "judge_model": ""})
    agent.refresh_from_db()
    assert agent.eval_max_drop == 30
    # A shorter answer leaves out the period: one case of four fails, 25 points below the version in use.
    agent.template.body = GOOD_PROMPT + "请简短回答。"
    agent.template.save()
    publish(client, agent)
    eval_run = finished_gate(wait_for, EvalRun.objects.get(agent=agent, purpose=EvalRun.Purpose.PUBLISH).pk)
    assert eval_run.pass_rate == 75.0 and eval_run.gate == EvalRun.Gate.PUBLISHED
    page = client.get(reverse("admin:agents_evalrun_change", args=[eval_run.pk])).content.decode()
    assert "补贴期限" in page and "回答中没有：36个月" in page


def test_an_agent_without_a_test_set_publishes_at_once(fake_openai, tenant_a, tenant_b, login, transactional_db):
    agent = agent_with_test_set(tenant_a.department, fake_openai, cases=0)
    agent.description = "第二版"
    agent.save()
    response = publish(login(tenant_a.admin), agent)
    agent.refresh_from_db()
    assert response.url == reverse("admin:agents_agent_change", args=[agent.pk])
    assert agent.current_version.number == 2 and not EvalRun.objects.exists()
