"""Runs with a connected model: streaming, masking, traces, conversations, the admin playground."""

import json

from django.db import connection
from django.urls import reverse

from agents.models import Conversation, Run, UsageCounter
from agents.runtime.events import AnswerDelta, RunFinished, Sources
from agents.runtime.pipeline import run_execute, run_stream
from agents.runtime.visibility import visible_run
from tests.agents.runtime.helpers import model_endpoint, policy_knowledge_base, published_agent, valid_id_number


def test_a_streamed_answer_is_stored_with_its_trace_and_usage(tenant_a, tenant_b, fake_openai):
    fake_openai.reply = "根据[1]，博士每月可领取3000元安居补贴。"
    endpoint = model_endpoint(tenant_a.department, fake_openai, price_input_per_1k="0.002", price_output_per_1k="0.008")
    agent = published_agent(
        tenant_a.department, endpoint=endpoint, knowledge_bases=[policy_knowledge_base(tenant_a.department)]
    )
    events = list(run_stream(principal=tenant_a.staff, agent=agent, message="博士安居补贴每月多少？"))

    deltas = [e.text for e in events if isinstance(e, AnswerDelta)]
    assert len(deltas) > 1 and "".join(deltas) == fake_openai.reply
    run = events[-1].run
    assert isinstance(events[-1], RunFinished)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED and run.answer == fake_openai.reply
    assert run.endpoint == endpoint and run.model_name == "fake-chat" and not run.retrieval_only
    assert run.input_tokens > 0 and run.output_tokens > 0 and run.cost > 0
    assert run.ttft_ms is not None and run.latency_ms >= run.ttft_ms
    # The passages went into the prompt, numbered as the answer cites them.
    hits = next(e for e in events if isinstance(e, Sources)).hits
    system = fake_openai.requests[-1]["body"]["messages"][0]["content"]
    assert "[1] 《人才安居补贴办法》" in system and "3000元" in system
    assert run.retrieved == hits and run.prompt_messages[0]["content"] == system
    counter = UsageCounter.objects.get(agent=agent)
    assert (counter.runs, counter.input_tokens, counter.output_tokens) == (1, run.input_tokens, run.output_tokens)


def test_the_model_never_sees_personal_data_and_only_entitled_viewers_see_it_back(tenant_a, tenant_b, fake_openai):
    id_number = valid_id_number()
    fake_openai.reply = "已记录：身份证【身份证号1】，电话【手机号1】。"
    agent = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    run = run_execute(
        principal=tenant_a.staff, agent=agent, message=f"当事人身份证{id_number}，电话 138 0013 8000，请登记。"
    )
    sent = json.dumps(fake_openai.requests[-1]["body"], ensure_ascii=False)
    assert id_number not in sent and "13800138000" not in sent and "138 0013 8000" not in sent
    assert "【身份证号1】" in sent and "【手机号1】" in sent
    assert id_number not in run.input_text and id_number not in run.answer
    # The mapping is encrypted at rest.
    with connection.cursor() as cursor:
        cursor.execute("SELECT mask_mapping FROM agents_run WHERE id = %s", [run.pk])
        assert id_number not in cursor.fetchone()[0]
    assert id_number in visible_run(run=run, viewer=tenant_a.staff).text
    assert id_number not in visible_run(run=run, viewer=tenant_a.leader).text
    assert id_number not in visible_run(run=run, viewer=tenant_a.admin).draft
    assert not visible_run(run=run, viewer=tenant_b.staff).visible


def test_a_conversation_keeps_its_history_and_its_placeholders(tenant_a, tenant_b, fake_openai):
    agent = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    conversation = Conversation.objects.create(department=tenant_a.department, user=tenant_a.staff, agent=agent)
    fake_openai.reply = "好的，已记下【手机号1】。"
    run_execute(principal=tenant_a.staff, agent=agent, conversation=conversation, message="我的电话是13800138000")
    fake_openai.reply = "两个号码都已记下。"
    run_execute(
        principal=tenant_a.staff, agent=agent, conversation=conversation, message="备用电话13900139000，主号13800138000"
    )
    messages = fake_openai.requests[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "我的电话是【手机号1】"
    assert messages[3]["content"] == "备用电话【手机号2】，主号【手机号1】"
    conversation.refresh_from_db()
    assert conversation.title.startswith("我的电话是【手机号1】")
    assert "13800138000" not in conversation.title


def test_the_playground_runs_the_draft_and_shows_the_trace(tenant_a, tenant_b, fake_openai, login):
    fake_openai.reply = "草稿的回答。"
    agent = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    client = login(tenant_a.admin)
    page = client.get(reverse("admin:agents_agent_playground", args=[agent.pk]))
    assert page.status_code == 200
    response = client.post(
        reverse("admin:agents_agent_playground", args=[agent.pk]), {"target": "draft", "message": "试一下"}
    )
    run = Run.objects.get(agent=agent)
    assert response.status_code == 302 and response["Location"] == reverse("admin:agents_run_change", args=[run.pk])
    assert run.via == Run.Via.PLAYGROUND and run.version is None
    trace = client.get(response["Location"]).content.decode()
    assert "草稿的回答。" in trace and "试一下" in trace and "发送给模型的提示词" in trace
    assert login(tenant_b.admin).get(reverse("admin:agents_agent_playground", args=[agent.pk])).status_code == 404
    assert login(tenant_a.staff).get(reverse("admin:agents_agent_playground", args=[agent.pk])).status_code == 302
