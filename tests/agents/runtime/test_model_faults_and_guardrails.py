"""Tools, reasoning, model faults and output guardrails, against the scripted loopback model server."""

import pytest

from agents.models import Run, SensitiveWordList, UsageCounter
from agents.runtime.events import AnswerDelta, AnswerReplaced, ReasoningDelta, ToolStep
from agents.runtime.metering import run_meter
from agents.runtime.pipeline import run_execute, run_stream
from agents.runtime.watchdog import runs_fail_stuck
from tests.agents.factories import make_word_list
from tests.agents.runtime.helpers import model_endpoint, policy_knowledge_base, published_agent
from tests.fakes.openai_server import Reply


@pytest.fixture
def endpoint(tenant_a, fake_openai):
    return model_endpoint(tenant_a.department, fake_openai)


def test_the_model_calls_tools_and_their_results_are_recorded(tenant_a, tenant_b, fake_openai, endpoint):
    agent = published_agent(
        tenant_a.department,
        endpoint=endpoint,
        knowledge_bases=[policy_knowledge_base(tenant_a.department)],
        tools=["knowledge_search", "current_datetime"],
    )
    fake_openai.script(
        Reply(text="", tool_calls=[{"name": "knowledge_search", "arguments": {"query": "博士 安居补贴 金额"}}]),
        Reply(text="博士每月3000元[1]。"),
    )
    events = list(run_stream(principal=tenant_a.staff, agent=agent, message="博士补贴多少？"))
    run = events[-1].run
    assert run.status == Run.Status.SUCCEEDED and run.answer == "博士每月3000元[1]。"
    step = next(e for e in events if isinstance(e, ToolStep)).step
    assert step["tool"] == "knowledge_search" and step["ok"] and step["arguments"] == {"query": "博士 安居补贴 金额"}
    assert run.steps[0]["tool"] == "knowledge_search"
    first, second = fake_openai.chat_requests[-2:]
    assert {t["function"]["name"] for t in first["body"]["tools"]} == {"knowledge_search", "current_datetime"}
    tool_message = second["body"]["messages"][-1]
    assert tool_message["role"] == "tool" and "3000元" in tool_message["content"]
    assert second["body"]["messages"][-2]["tool_calls"][0]["function"]["name"] == "knowledge_search"
    assert run.model_calls == 2


def test_tools_stop_being_offered_at_the_step_limit(tenant_a, tenant_b, fake_openai, endpoint):
    agent = published_agent(tenant_a.department, endpoint=endpoint, tools=["current_datetime"], max_tool_steps=1)
    call = {"name": "current_datetime", "arguments": {}}
    fake_openai.script(Reply(text="", tool_calls=[call]), Reply(text="今天是星期一。"))
    run = run_execute(principal=tenant_a.staff, agent=agent, message="今天星期几？")
    assert len(run.steps) == 1 and run.steps[0]["ok"]
    assert "tools" not in fake_openai.chat_requests[-1]["body"]
    assert run.answer == "今天是星期一。"


def test_an_unknown_tool_is_reported_to_the_model_not_run(tenant_a, tenant_b, fake_openai, endpoint):
    agent = published_agent(tenant_a.department, endpoint=endpoint, tools=["current_datetime"])
    fake_openai.script(
        Reply(text="", tool_calls=[{"name": "delete_everything", "arguments": {}}]), Reply(text="好的。")
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="试试")
    assert run.steps[0]["ok"] is False and "delete_everything" in run.steps[0]["error"]
    assert "delete_everything" in fake_openai.chat_requests[-1]["body"]["messages"][-1]["content"]


@pytest.mark.parametrize("style", ["reasoning_content", "think"])
def test_reasoning_is_kept_apart_from_the_answer(tenant_a, tenant_b, fake_openai, endpoint, style):
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    fake_openai.script(Reply(reasoning="先核对条件，再算金额。", reasoning_as=style, text="每月3000元。"))
    events = list(run_stream(principal=tenant_a.staff, agent=agent, message="多少钱？"))
    run = events[-1].run
    assert run.answer == "每月3000元。" and run.reasoning == "先核对条件，再算金额。"
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == run.reasoning
    assert "先核对" not in "".join(e.text for e in events if isinstance(e, AnswerDelta))


def test_a_failing_endpoint_falls_back_to_the_agents_second_one(tenant_a, tenant_b, fake_openai, endpoint):
    fallback = model_endpoint(tenant_a.department, fake_openai)
    agent = published_agent(
        tenant_a.department, endpoint=endpoint, fallback_endpoint=fallback, fallback_model_name="fake-chat"
    )
    fake_openai.script(Reply(status=503), Reply(status=503), Reply(status=503), Reply(text="备用服务的回答。"))
    run = run_execute(principal=tenant_a.staff, agent=agent, message="你好")
    assert run.status == Run.Status.SUCCEEDED and run.answer == "备用服务的回答。"
    assert run.endpoint == fallback


def test_a_broken_stream_keeps_the_partial_answer_and_says_why(tenant_a, tenant_b, fake_openai, endpoint):
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    fake_openai.script(Reply(text="第一段内容。第二段内容。", truncate_after=6))
    run = run_execute(principal=tenant_a.staff, agent=agent, message="写两段")
    assert run.status == Run.Status.INCOMPLETE and run.answer == "第一段内容。" and run.error
    counter = UsageCounter.objects.get(agent=agent)
    assert (counter.runs, counter.failed_runs) == (1, 1)


def test_a_rejected_key_fails_the_run_with_a_clear_message(tenant_a, tenant_b, fake_openai, endpoint):
    fake_openai.api_key = "the-right-key"
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    run = run_execute(principal=tenant_a.staff, agent=agent, message="你好")
    assert run.status == Run.Status.FAILED and "401" in run.error and run.answer == ""


def test_sensitive_words_are_masked_even_when_split_across_chunks(tenant_a, tenant_b, fake_openai, endpoint):
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    agent.sensitive_word_lists.add(make_word_list(tenant_a.department))  # 敏感词甲, 敏感词乙 → ***
    from agents.builder.services import agent_publish

    agent_publish(agent=agent, user=None)
    fake_openai.script(Reply(text=["这里有敏感", "词甲和敏", "感词乙。"]))
    events = list(run_stream(principal=tenant_a.staff, agent=agent, message="说说"))
    streamed = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    run = events[-1].run
    assert streamed == run.answer == "这里有***和***。"
    assert run.guardrails["masked_words"] == {"敏感词甲": 1, "敏感词乙": 1}


def test_a_blocking_word_stops_the_answer_before_it_is_shown(tenant_a, tenant_b, fake_openai, endpoint):
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    blocking = SensitiveWordList.objects.create(
        department=tenant_a.department, name="拦截", words="内部绝密", action=SensitiveWordList.Action.BLOCK
    )
    agent.sensitive_word_lists.add(blocking)
    from agents.builder.services import agent_publish

    agent_publish(agent=agent, user=None)
    fake_openai.script(Reply(text="以下是内部绝密文件的内容：……"))
    events = list(run_stream(principal=tenant_a.staff, agent=agent, message="给我看看"))
    shown = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert "绝密" not in shown
    run = events[-1].run
    assert run.status == Run.Status.BLOCKED and "已被拦截" in run.answer
    assert isinstance(events[-2], AnswerReplaced) and run.guardrails["blocked_by"] == "内部绝密"


SCHEMA = {
    "type": "object",
    "properties": {"category": {"type": "string"}, "urgent": {"type": "boolean"}},
    "required": ["category", "urgent"],
}


def test_structured_output_is_validated_and_repaired_once(tenant_a, tenant_b, fake_openai, endpoint):
    agent = published_agent(tenant_a.department, endpoint=endpoint, output_mode="structured", output_schema=SCHEMA)
    fake_openai.script(Reply(text='{"category": "噪声扰民"}'), Reply(text='{"category": "噪声扰民", "urgent": false}'))
    run = run_execute(principal=tenant_a.staff, agent=agent, message="楼下装修太吵")
    assert run.status == Run.Status.SUCCEEDED
    assert run.output_data == {"category": "噪声扰民", "urgent": False}
    assert run.guardrails["schema_repair"]["repaired"] is True
    assert "urgent" in fake_openai.chat_requests[-1]["body"]["messages"][-1]["content"]

    fake_openai.script(Reply(text="噪声扰民"), Reply(text="还是不会"))
    run = run_execute(principal=tenant_a.staff, agent=agent, message="楼下装修太吵")
    assert run.status == Run.Status.FAILED and "JSON" in run.error and run.output_data is None


def test_a_consumer_that_goes_away_leaves_an_incomplete_run_counted_once(tenant_a, tenant_b, fake_openai, endpoint):
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    fake_openai.script(Reply(text="很长的回答" * 20))
    stream = run_stream(principal=tenant_a.staff, agent=agent, message="写长一点")
    for event in stream:
        if isinstance(event, AnswerDelta):
            break
    stream.close()
    run = Run.objects.get(agent=agent)
    assert run.status == Run.Status.INCOMPLETE and run.answer and run.metered_at is not None
    assert not run_meter(run=run)
    assert UsageCounter.objects.get(agent=agent).runs == 1


def test_runs_left_running_by_a_dead_process_are_closed_and_counted_once(tenant_a, tenant_b):
    import datetime as dt

    from django.utils import timezone

    agent = published_agent(tenant_a.department)
    run = Run.objects.create(
        department=tenant_a.department, agent=agent, user=tenant_a.staff, answer="中断前的内容", input_text="问"
    )
    Run.objects.filter(pk=run.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))
    fresh = Run.objects.create(department=tenant_a.department, agent=agent, user=tenant_a.staff)
    assert runs_fail_stuck() == 1
    run.refresh_from_db()
    assert run.status == Run.Status.INCOMPLETE and run.answer == "中断前的内容" and run.error
    assert runs_fail_stuck() == 0
    assert UsageCounter.objects.get(agent=agent).runs == 1
    fresh.refresh_from_db()
    assert fresh.status == Run.Status.RUNNING
