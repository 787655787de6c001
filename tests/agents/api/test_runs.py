"""POST /api/v1/agents/<identifier>/runs against the project under uvicorn and the fake model server:
blocking and streamed runs, forms, conversations, review, refusals writing nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx2
import pytest

from agents.models import Agent, Conversation, Run
from tests.agents.factories import make_template
from tests.agents.runtime.helpers import model_endpoint, policy_knowledge_base, published_agent, valid_id_number
from tests.factories import make_api_key
from tests.fakes.openai_server import Reply

PHONE = "13800138000"
SCHEMA = {
    "type": "object",
    "properties": {"category": {"type": "string"}, "urgent": {"type": "boolean"}},
    "required": ["category", "urgent"],
}


@dataclass
class Api:
    url: str
    agent: Agent
    secret: str
    key: object

    def run(
        self, body, *, agent: Agent | None = None, secret: str | None = None, headers: dict | None = None
    ) -> httpx2.Response:
        return httpx2.post(
            f"{self.url}/api/v1/agents/{(agent or self.agent).identifier}/runs",
            json=body,
            headers={"Authorization": f"Bearer {secret or self.secret}", **(headers or {})},
            timeout=60,
        )

    def stream(self, body, *, agent: Agent | None = None) -> list[tuple[str, dict]]:
        response = self.run({**body, "stream": True}, agent=agent)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return sse_events(response.text)


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


@pytest.fixture
def api(tenant_a, tenant_b, fake_openai, live_url):
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    agent = published_agent(
        tenant_a.department, endpoint=endpoint, knowledge_bases=[policy_knowledge_base(tenant_a.department)]
    )
    key, secret = make_api_key(tenant_a.department, agents=[agent])
    return Api(url=live_url, agent=agent, secret=secret, key=key)


def test_a_blocking_run_answers_the_run_with_its_answer_sources_and_usage(api, fake_openai):
    fake_openai.script(
        Reply(text="博士每月3000元[1]，请致电【手机号1】咨询。", usage={"prompt_tokens": 80, "completion_tokens": 20})
    )
    response = api.run({"message": f"博士研究生安居补贴每月多少？我的电话{PHONE}"})
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "succeeded" and run["via"] == "api" and run["agent"] == api.agent.identifier
    assert run["text"] == f"博士每月3000元[1]，请致电{PHONE}咨询。" and run["notice"] == ""
    assert run["input"] == f"博士研究生安居补贴每月多少？我的电话{PHONE}"
    assert run["sources"] and "人才安居补贴办法" in run["sources"][0]["citation"]
    assert run["usage"] == {"input_tokens": 80, "output_tokens": 20, "estimated": False}
    assert run["conversation"] is None and run["review_status"] == ""

    stored = Run.objects.get(pk=run["id"])
    assert stored.api_key_id == api.key.pk and stored.via == Run.Via.API and PHONE not in stored.input_text
    assert PHONE not in str(fake_openai.chat_requests[-1]["body"]["messages"])
    # The same object as reading the run later.
    later = httpx2.get(f"{api.url}/api/v1/runs/{run['id']}/", headers={"Authorization": f"Bearer {api.secret}"})
    assert later.status_code == 200 and {k: v for k, v in run.items() if k != "notice"} == later.json()


def test_a_streamed_run_sends_start_sources_deltas_and_the_run_at_the_end(api, fake_openai):
    id_number = valid_id_number()
    fake_openai.script(Reply(text="已收到【身份证号1】的申请[1]。", reasoning="核对条件。"))
    events = api.stream({"message": f"身份证{id_number}，申请安居补贴"})
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done" and "sources" in names and "delta" in names
    assert names.index("sources") < names.index("delta") and "reasoning" in names
    start, done = events[0][1], events[-1][1]
    assert start["run"] == done["id"] and start["review"] is False and start["conversation"] is None
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert text == done["text"] == f"已收到{id_number}的申请[1]。"
    assert "".join(data["text"] for name, data in events if name == "reasoning") == "核对条件。"
    assert done["status"] == "succeeded" and done["sources"][0]["n"] == 1
    assert id_number not in str(fake_openai.chat_requests[-1]["body"]["messages"])


def test_a_fast_stream_reaches_the_client_as_the_same_text_in_fewer_events(api, fake_openai):
    # Hundreds of tiny chunks a few milliseconds apart (a client reading that fast would otherwise get
    # one event each): the text arrives whole and in order, in far fewer events than chunks, since
    # deltas after the first are gathered in short windows.
    chunks = [f"第{i}段。" for i in range(300)]
    fake_openai.script(Reply(text=chunks, chunk_delay=0.002))
    events = api.stream({"message": "请详细说明安居补贴"})
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert "".join(deltas) == "".join(chunks) == events[-1][1]["text"]
    assert 1 <= len(deltas) < len(chunks) // 2
    assert events[-1][0] == "done" and events[-1][1]["status"] == "succeeded"


def test_a_structured_agent_answers_its_data(api, tenant_a, fake_openai):
    structured = published_agent(
        tenant_a.department,
        endpoint=model_endpoint(tenant_a.department, fake_openai),
        output_mode=Agent.OutputMode.STRUCTURED,
        output_schema=SCHEMA,
    )
    api.key.agents.add(structured)
    fake_openai.script(Reply(text='{"category": "噪音扰民", "urgent": false}'))
    run = api.run({"message": "楼下装修噪音"}, agent=structured).json()
    assert run["status"] == "succeeded" and run["data"] == {"category": "噪音扰民", "urgent": False}


def test_form_fields_fill_the_agents_template_and_unknown_ones_are_refused(api, tenant_a, fake_openai):
    template = make_template(
        tenant_a.department,
        body="请根据笔录起草文书。笔录：{{ transcript }}",
        variables=[{"name": "transcript", "label": "笔录", "type": "long_text", "required": True}],
    )
    drafting = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), template=template
    )
    api.key.agents.add(drafting)
    response = api.run({"form": {"transcript": "当事人王五承认无证经营。"}}, agent=drafting)
    assert response.status_code == 200, response.text
    assert "当事人王五承认无证经营" in fake_openai.chat_requests[-1]["body"]["messages"][0]["content"]
    assert response.json()["form_values"] == {"transcript": "当事人王五承认无证经营。"}

    before = Run.objects.count()
    response = api.run({"form": {"transcript": "x", "secret_field": "y"}}, agent=drafting)
    assert response.status_code == 400 and "secret_field" in response.json()["error"]["message"]
    # The runtime refuses it in the run's own thread, in the caller's language.
    response = api.run(
        {"form": {"transcript": "x", "secret_field": "y"}}, agent=drafting, headers={"Accept-Language": "en"}
    )
    assert response.json()["error"]["message"] == "The form contains undefined fields: secret_field."
    assert Run.objects.count() == before


def test_a_conversation_keeps_the_context_of_the_keys_earlier_runs(api, tenant_a, fake_openai):
    fake_openai.script(Reply(text="请问您的学历？"), Reply(text="博士每月3000元。"))
    first = api.run({"message": f"我想申请补贴，电话{PHONE}", "conversation": "new"}).json()
    conversation = Conversation.objects.get(pk=first["conversation"])
    assert conversation.api_key_id == api.key.pk and conversation.user_id is None

    second = api.run({"message": "博士", "conversation": conversation.pk}).json()
    assert second["conversation"] == conversation.pk
    sent = fake_openai.chat_requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent[1:]] == ["user", "assistant", "user"]
    assert sent[1]["content"] == "我想申请补贴，电话【手机号1】" and sent[2]["content"] == "请问您的学历？"

    _other_key, other_secret = make_api_key(tenant_a.department, agents=[api.agent])
    response = api.run({"message": "博士", "conversation": conversation.pk}, secret=other_secret)
    assert response.status_code == 404
    other_agent = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    api.key.agents.add(other_agent)
    assert api.run({"message": "博士", "conversation": conversation.pk}, agent=other_agent).status_code == 404
    assert Run.objects.filter(conversation=conversation).count() == 2


def test_an_agent_that_requires_review_delivers_nothing_before_approval(api, tenant_a, fake_openai):
    reviewed = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), requires_review=True
    )
    api.key.agents.add(reviewed)
    fake_openai.reply = "答复意见：情况属实，已责令整改。"
    run = api.run({"message": "请起草答复"}, agent=reviewed).json()
    assert run["review_status"] == "pending" and run["text"] == "" and "审核" in run["notice"]

    events = api.stream({"message": "请起草答复"}, agent=reviewed)
    assert events[0][1]["review"] is True
    assert not [name for name, _ in events if name in ("delta", "reasoning", "replace")]
    assert "答复意见" not in json.dumps(events, ensure_ascii=False)
    assert events[-1][1]["review_status"] == "pending"


def test_a_model_failure_is_a_failed_run_with_its_reason(api, fake_openai):
    fake_openai.status = 400
    run = api.run({"message": "你好"}).json()
    assert run["status"] == "failed" and run["error"] and run["text"] == ""


def test_other_departments_agents_unlisted_agents_dead_keys_and_missing_scopes_are_refused(
    api, tenant_a, tenant_b, fake_openai
):
    foreign = published_agent(tenant_b.department, endpoint=model_endpoint(tenant_b.department, fake_openai))
    unlisted = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    api.key.agents.add(foreign)
    for agent in (foreign, unlisted):
        response = api.run({"message": "你好"}, agent=agent)
        assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"
    response = api.run({"message": "你好"}, secret=api.secret[:-3] + "xyz")
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"
    assert (
        httpx2.post(f"{api.url}/api/v1/agents/{api.agent.identifier}/runs", json={"message": "你好"}).status_code == 401
    )
    _key, knowledge_only = make_api_key(tenant_a.department, scopes=("knowledge",), agents=[api.agent])
    response = api.run({"message": "你好"}, secret=knowledge_only)
    assert response.status_code == 403 and response.json()["error"]["type"] == "permission_error"
    assert not Run.objects.exists() and not fake_openai.chat_requests


def test_a_reached_limit_answers_429_and_leaves_no_new_conversation(api, tenant_a):
    limited, secret = make_api_key(tenant_a.department, agents=[api.agent], requests_per_minute=1)
    assert api.run({"message": "你好"}, secret=secret).status_code == 200
    response = api.run({"message": "你好", "conversation": "new"}, secret=secret)
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert not Conversation.objects.exists() and Run.objects.filter(api_key=limited).count() == 1


BAD_BODIES = [
    ("not json", b'{"message": ', "parse_error"),
    ("not an object", b'"hello"', "parse_error"),
    ("unknown field", {"message": "你好", "temperature": 1}, "invalid_field"),
    ("an id", {"message": "你好", "id": 7}, "invalid_field"),
    ("a department", {"message": "你好", "department": 1}, "invalid_field"),
    ("nothing to run", {"message": "  ", "form": {}}, "invalid_field"),
    ("a form that is not an object", {"form": ["a"]}, "invalid_field"),
    ("an unknown conversation kind", {"message": "你好", "conversation": "old"}, "invalid_field"),
    ("a stream that is not a boolean", {"message": "你好", "stream": "maybe"}, "invalid_field"),
    ("a NUL character", {"message": "a\x00b"}, "invalid_field"),
    ("a lone surrogate", b'{"message": "\\ud800"}', "parse_error"),
]


@pytest.mark.parametrize(("case", "body", "code"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_answer_400_and_write_nothing(api, fake_openai, case, body, code):
    if isinstance(body, dict):
        response = api.run(body)
    else:
        response = httpx2.post(
            f"{api.url}/api/v1/agents/{api.agent.identifier}/runs",
            content=body,
            headers={"Authorization": f"Bearer {api.secret}", "Content-Type": "application/json"},
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == code and error["message"]
    assert not Run.objects.exists() and not Conversation.objects.exists() and not fake_openai.chat_requests


def test_other_methods_and_media_types_and_oversized_bodies_are_refused(api):
    url = f"{api.url}/api/v1/agents/{api.agent.identifier}/runs"
    headers = {"Authorization": f"Bearer {api.secret}"}
    response = httpx2.get(url, headers=headers)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    response = httpx2.post(url, data={"message": "你好"}, headers=headers)
    assert response.status_code == 415 and response.json()["error"]["type"] == "invalid_request_error"
    body = json.dumps({"message": "a" * (11 * 1024 * 1024)}).encode()
    response = httpx2.post(url, content=body, headers={**headers, "Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    response = httpx2.post(f"{api.url}/api/v1/agents/a%00b.c/runs", json={"message": "你好"}, headers=headers)
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"
    assert not Run.objects.exists()
