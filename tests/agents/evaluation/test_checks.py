"""What each check of a case says about a run, graded through the one runtime, with or without a model."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from agents.evaluation.checks import run_grade
from agents.models import EvalCase, EvalRun, Run
from tests.agents.batch.helpers import structured_agent
from tests.agents.evaluation.helpers import agent_with_test_set
from tests.agents.factories import make_agent
from tests.agents.runtime.helpers import policy_knowledge_base, published_agent

NOTICE_OK = "关于做好防汛工作的通知\n\n各街道办事处：\n\n现就有关事项通知如下。\n\n示范区应急管理局\n2025年6月1日\n"


def start(client, agent, target="draft"):
    response = client.post(reverse("admin:agents_evalcase_agent", args=[agent.pk]), {"_run": "1", "target": target})
    assert response.status_code == 302
    return EvalRun.objects.filter(agent=agent).latest("created_at")


def finished(wait_for, eval_run):
    return wait_for(lambda: EvalRun.objects.filter(pk=eval_run.pk, status=EvalRun.Status.FINISHED).first(), timeout=90)


@pytest.mark.django_db(transaction=True)
def test_a_retrieval_only_agent_is_graded_without_a_model(
    celery_worker, fake_openai, tenant_a, tenant_b, login, wait_for
):
    agent = published_agent(tenant_a.department, knowledge_bases=[policy_knowledge_base(tenant_a.department)])
    EvalCase.objects.create(
        agent=agent, name="补贴标准", message="博士安居补贴每月多少？", expected_sources="第一条", must_include="3000元"
    )
    EvalCase.objects.create(agent=agent, name="落户政策", message="博士安居补贴每月多少？", expected_sources="第九条")
    client = login(tenant_a.admin)
    eval_run = finished(wait_for, start(client, agent, target="published"))

    assert fake_openai.chat_requests == []
    assert eval_run.pass_rate == 50.0 and (eval_run.sources_found, eval_run.sources_expected) == (1, 2)
    page = client.get(reverse("admin:agents_evalrun_change", args=[eval_run.pk])).content.decode()
    assert "未检索到：第九条" in page and "50%" in page
    # The page follows progress while it runs (the script polls this).
    progress = client.get(reverse("admin:agents_evalrun_progress", args=[eval_run.pk])).json()
    assert progress == {"status": "finished", "gate": "", "done": 2, "total": 2}


def test_the_format_checkers_verdict_and_phrases_are_checked_on_the_answer(tenant_a, tenant_b):
    agent = make_agent(tenant_a.department)
    run = Run.objects.create(
        department=tenant_a.department, agent=agent, answer=NOTICE_OK, status=Run.Status.SUCCEEDED, via=Run.Via.EVAL
    )
    clean = EvalCase(agent=agent, name="通知", format_verdict=EvalCase.Verdict.CLEAN, must_include="各街道办事处")
    assert run_grade(case=clean, run=run, agent=agent).passed
    broken = Run.objects.create(
        department=tenant_a.department,
        agent=agent,
        answer=NOTICE_OK.replace("2025年6月1日", "2025-6-1"),
        status=Run.Status.SUCCEEDED,
        via=Run.Via.EVAL,
    )
    grade = run_grade(case=clean, run=broken, agent=agent)
    assert not grade.passed
    assert [c["check"] for c in grade.checks if not c["passed"]] == ["format"]
    assert "格式检查发现" in grade.checks[-1]["detail"]


@pytest.mark.django_db(transaction=True)
def test_structured_results_and_the_judges_grade(celery_worker, fake_openai, tenant_a, tenant_b, login, wait_for):
    def model(body):
        prompt = body["messages"][-1]["content"]
        if "参考答案" in prompt:  # the judge
            return "评分：8"
        return json.dumps({"category": "市政设施", "urgent": False}, ensure_ascii=False)

    agent = structured_agent(tenant_a.department, fake_openai)
    fake_openai.respond = model
    client = login(tenant_a.admin)
    client.post(
        reverse("admin:agents_evalcase_agent", args=[agent.pk]),
        {"_settings": "1", "max_drop": "0", "judge_endpoint": agent.endpoint_id, "judge_model": "fake-chat"},
    )
    schema = {"type": "object", "required": ["category"]}
    EvalCase.objects.create(
        agent=agent,
        name="路灯",
        form_values={"ticket": "小区路灯坏了"},
        expected_schema=schema,
        expected_fields={"category": "市政设施"},
        reference_answer="市政设施类，不紧急。",
    )
    EvalCase.objects.create(
        agent=agent, name="燃气泄漏", form_values={"ticket": "闻到燃气味"}, expected_fields={"urgent": True}
    )
    eval_run = finished(wait_for, start(client, agent))
    results = {r.case.name: r for r in eval_run.results.select_related("case")}
    assert results["路灯"].passed
    assert {c["check"] for c in results["路灯"].checks} == {"schema", "fields", "judge"}
    assert "评分模型打分 8 / 10" in next(c["detail"] for c in results["路灯"].checks if c["check"] == "judge")
    assert not results["燃气泄漏"].passed
    assert "urgent 应为 True，实际为 False" in results["燃气泄漏"].checks[0]["detail"]
    assert eval_run.tokens > 0 and eval_run.mean_latency_ms is not None


@pytest.mark.django_db(transaction=True)
def test_manage_py_agent_eval_runs_the_set_as_a_job_and_prints_the_comparison(
    celery_worker, fake_openai, tenant_a, tenant_b, platform_admin
):
    agent = agent_with_test_set(tenant_a.department, fake_openai, cases=2)
    out = io.StringIO()
    call_command("agent_eval", agent.identifier, "--published", "--timeout", "120", stdout=out)
    text = out.getvalue()
    assert "[##############################] 2/2" in text and "100%" in text
    eval_run = EvalRun.objects.get(agent=agent)
    assert eval_run.version == agent.current_version and eval_run.created_by == platform_admin


@pytest.mark.django_db(transaction=True)
def test_cases_run_at_the_endpoints_concurrency(celery_worker, fake_openai, tenant_a, tenant_b, login, wait_for):
    agent = agent_with_test_set(tenant_a.department, fake_openai, cases=6)
    agent.endpoint.max_concurrency = 2
    agent.endpoint.save()
    fake_openai.first_token_delay = 0.3
    eval_run = finished(wait_for, start(login(tenant_a.admin), agent, target="published"))
    assert eval_run.passed == 6
    assert fake_openai.max_active == 2


@pytest.mark.django_db(transaction=True)
def test_a_published_version_is_shown_beside_the_previous_one(fake_openai, tenant_a, tenant_b):
    from agents.builder.services import agent_publish
    from agents.evaluation.processing import eval_run_process
    from agents.evaluation.selectors import eval_comparison
    from agents.evaluation.services import eval_run_start

    agent = agent_with_test_set(tenant_a.department, fake_openai, cases=2)
    first = eval_run_start(agent=agent, user=tenant_a.admin, version=agent.current_version)
    eval_run_process(eval_run_id=first.pk)
    agent.description = "第二版"
    agent.save()
    agent_publish(agent=agent, user=tenant_a.admin)
    agent.refresh_from_db()
    second = eval_run_start(agent=agent, user=tenant_a.admin, version=agent.current_version)
    eval_run_process(eval_run_id=second.pk)
    comparison = eval_comparison(eval_run=EvalRun.objects.get(pk=second.pk))
    assert comparison["baseline"].pk == first.pk and comparison["baseline"].target_label == "v1"
    assert comparison["rows"][0].this == comparison["rows"][0].baseline == "100%"


@pytest.mark.django_db(transaction=True)
def test_manage_py_agent_eval_publish_goes_through_the_gate(
    celery_worker, fake_openai, tenant_a, tenant_b, platform_admin
):
    from tests.agents.evaluation.helpers import BROKEN_PROMPT

    agent = agent_with_test_set(tenant_a.department, fake_openai, cases=2)
    agent.template.body = BROKEN_PROMPT
    agent.template.save()
    out = io.StringIO()
    call_command("agent_eval", agent.identifier, "--publish", stdout=out)
    text = out.getvalue()
    assert "未通过，已阻止发布" in text and "✗ 博士补贴标准1" in text and "回答中没有：3000元" in text
    agent.refresh_from_db()
    assert agent.current_version.number == 1
