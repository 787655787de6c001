"""Agents served over MCP, through the official SDK's client (``mcp.client.streamable_http``) against the
project under uvicorn, the agents answering from the fake model server: what an MCP client sees."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import httpx2
import pytest
from django.db.models import Sum
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agents.models import Agent, Run, UsageCounter
from tenants.api_keys import api_key_revoke
from tenants.models import TokenUsage
from tests.agents.factories import make_template
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.factories import make_api_key
from tests.fakes.openai_server import Reply

PHONE = "13800138000"


@dataclass
class Mcp:
    url: str
    agent: Agent
    secret: str
    key: object

    def session(self, work, secret: str | None = None, language: str | None = None, modern: bool = False):
        """Run ``await work(session)`` in an initialised MCP session with the key; return what it returns.

        ``modern``: the 2026-07-28 protocol (``server/discover``, no handshake) instead of ``initialize``."""
        headers = {"Authorization": f"Bearer {secret or self.secret}"}
        if language:
            headers["Accept-Language"] = language

        async def main():
            async with (
                httpx2.AsyncClient(headers=headers, timeout=60) as http,
                streamable_http_client(f"{self.url}/mcp", http_client=http) as (read, write, *_rest),
                ClientSession(read, write) as session,
            ):
                await (session.discover() if modern else session.initialize())
                return await work(session)

        try:
            return anyio.run(main)
        except BaseExceptionGroup as group:  # the SDK's task groups wrap what went wrong: raise that
            raise _leaf(group) from None

    def call(self, name: str, arguments: dict, **kwargs):
        async def work(session):
            return await session.call_tool(name, arguments)

        return self.session(work, **kwargs)

    def tools(self, **kwargs) -> dict:
        async def work(session):
            return {tool.name: tool for tool in (await session.list_tools()).tools}

        return self.session(work, **kwargs)


def _leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


@pytest.fixture
def mcp(tenant_a, tenant_b, fake_openai, live_url):
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    key, secret = make_api_key(tenant_a.department, agents=[agent])
    return Mcp(url=live_url, agent=agent, secret=secret, key=key)


def _form_agent(department, fake_openai):
    template = make_template(
        department,
        body="请根据笔录起草{{ doc_type }}。笔录：{{ transcript }}",
        variables=[
            {"name": "doc_type", "label": "文书类型", "type": "choice", "required": True, "choices": "告知书\n决定书"},
            {"name": "transcript", "label": "笔录", "type": "long_text", "required": True, "help": "粘贴询问笔录"},
            {"name": "case_date", "label": "立案日期", "type": "date", "required": False},
        ],
    )
    return published_agent(department, endpoint=model_endpoint(department, fake_openai), template=template)


def test_a_session_lists_the_keys_agents_as_tools_with_their_form_as_input_schema(mcp, tenant_a, tenant_b, fake_openai):
    drafting = _form_agent(tenant_a.department, fake_openai)
    granted = published_agent(tenant_b.department)
    granted.granted_departments.add(tenant_a.department)
    foreign = published_agent(tenant_b.department)
    unlisted = published_agent(tenant_a.department)
    mcp.key.agents.add(drafting, granted, foreign)  # B's own agent cannot be reached by listing it on A's key

    tools = mcp.tools()
    assert sorted(tools) == sorted([mcp.agent.identifier, drafting.identifier, granted.identifier])
    assert foreign.identifier not in tools and unlisted.identifier not in tools
    schema = tools[drafting.identifier].input_schema
    assert schema["type"] == "object" and sorted(schema["required"]) == ["doc_type", "transcript"]
    assert schema["properties"]["doc_type"]["enum"] == ["告知书", "决定书"]
    assert schema["properties"]["case_date"] == {
        "type": "string",
        "format": "date",
        "title": "立案日期",
        "description": "立案日期",
    }
    assert "粘贴询问笔录" in schema["properties"]["transcript"]["description"]
    assert "message" in schema["properties"]
    # An agent without a form takes the question as its one required argument.
    assert tools[mcp.agent.identifier].input_schema["required"] == ["message"]


def test_calling_a_tool_runs_the_agent_and_answers_with_the_runs_text_and_usage(mcp, fake_openai, wait_for):
    fake_openai.script(Reply(text="补贴标准为每月3000元。", usage={"prompt_tokens": 31, "completion_tokens": 12}))
    result = mcp.call(mcp.agent.identifier, {"message": "博士补贴每月多少？"})

    assert not result.is_error and [c.text for c in result.content] == ["补贴标准为每月3000元。"]
    data = result.structured_content
    assert data["text"] == "补贴标准为每月3000元。" and data["status"] == "succeeded"
    run = Run.objects.get(pk=data["id"])
    assert run.via == Run.Via.MCP and run.api_key_id == mcp.key.pk and run.user_id is None
    assert (run.input_tokens, run.output_tokens) == (31, 12)
    sent = fake_openai.chat_requests[-1]["body"]["messages"]
    assert sent[-1] == {"role": "user", "content": "博士补贴每月多少？"}
    # Metered once, like every run (a moment after the answer, in its own transaction).
    wait_for(lambda: Run.objects.filter(pk=run.pk, metered_at__isnull=False).exists())
    counted = UsageCounter.objects.filter(agent=mcp.agent).aggregate(runs=Sum("runs"), input=Sum("input_tokens"))
    assert counted == {"runs": 1, "input": 31}
    assert TokenUsage.objects.get(subject=f"k:{mcp.key.pk}").tokens == 43


def test_a_client_on_the_handshake_free_protocol_lists_and_calls_the_same_way(mcp, fake_openai):
    fake_openai.script(Reply(text="每月3000元。"))
    name = mcp.agent.identifier

    async def work(session):
        tools = (await session.list_tools()).tools
        return session.discover_result, tools, await session.call_tool(name, {"message": "补贴？"})

    discovered, tools, result = mcp.session(work, modern=True)
    assert discovered is not None and [t.name for t in tools] == [name]
    assert result.content[0].text == "每月3000元。" and Run.objects.get().via == Run.Via.MCP


def test_form_arguments_fill_the_template_and_a_missing_field_is_a_clear_tool_error(mcp, tenant_a, fake_openai):
    drafting = _form_agent(tenant_a.department, fake_openai)
    mcp.key.agents.add(drafting)

    refused = mcp.call(drafting.identifier, {"doc_type": "告知书"})
    assert refused.is_error and "笔录" in refused.content[0].text
    refused = mcp.call(drafting.identifier, {"doc_type": "告知书", "transcript": "笔录", "frobnicate": "1"})
    assert refused.is_error and "frobnicate" in refused.content[0].text
    assert not Run.objects.exists()

    fake_openai.script(Reply(text="行政处罚事先告知书……"))
    result = mcp.call(drafting.identifier, {"doc_type": "告知书", "transcript": "当事人王五承认无证经营。"})
    assert not result.is_error and result.content[0].text == "行政处罚事先告知书……"
    system = fake_openai.chat_requests[-1]["body"]["messages"][0]["content"]
    assert "请根据笔录起草告知书" in system and "当事人王五承认无证经营" in system


def test_personal_data_is_masked_towards_the_model_and_restored_for_the_key(mcp, fake_openai):
    fake_openai.reply = "已登记，我们会致电【手机号1】回访。"
    result = mcp.call(mcp.agent.identifier, {"message": f"我是张三，电话{PHONE}，想申请补贴。"})
    assert result.content[0].text == f"已登记，我们会致电{PHONE}回访。"
    sent = str(fake_openai.chat_requests[-1]["body"]["messages"])
    assert PHONE not in sent and "【手机号1】" in sent
    run = Run.objects.get()
    assert PHONE not in run.input_text and PHONE not in run.answer


def test_an_agent_that_requires_review_gives_no_answer_before_approval(mcp, tenant_a, fake_openai):
    reviewed = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), requires_review=True
    )
    mcp.key.agents.add(reviewed)
    fake_openai.reply = "关于投诉的答复意见：情况属实，已责令整改。"
    result = mcp.call(reviewed.identifier, {"message": "请起草答复"})
    text = result.content[0].text
    assert "审核" in text and "答复意见" not in text and "答复意见" not in str(result.structured_content)
    assert result.structured_content["review_status"] == "pending"
    assert Run.objects.get().answer == "关于投诉的答复意见：情况属实，已责令整改。"  # kept for the reviewer


def test_another_departments_agent_is_unknown_like_a_name_no_agent_has(mcp, tenant_a, tenant_b, fake_openai):
    foreign = published_agent(tenant_b.department, endpoint=model_endpoint(tenant_b.department, fake_openai))
    unlisted = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    mcp.key.agents.add(foreign)
    answers = {}
    for name in (foreign.identifier, unlisted.identifier, "no-such.agent"):
        with pytest.raises(MCPError) as caught:
            mcp.call(name, {"message": "你好"})
        answers[name] = (caught.value.code, str(caught.value).replace(name, "<name>"))
    assert len(set(answers.values())) == 1  # nothing tells an existing agent from a missing one
    with pytest.raises(MCPError) as caught:  # in the caller's language
        mcp.call(foreign.identifier, {"message": "hello"}, language="en")
    assert str(caught.value) == f"Unknown tool: {foreign.identifier}"
    assert not Run.objects.exists() and not fake_openai.chat_requests


@pytest.mark.parametrize("case", ["wrong", "revoked", "missing", "no run scope"])
def test_a_key_that_does_not_work_is_refused_before_any_session(mcp, tenant_a, case):
    secret = mcp.secret
    if case == "wrong":
        secret = mcp.secret[:-4] + "abcd"
    elif case == "revoked":
        api_key_revoke(key=mcp.key, by=tenant_a.admin)
    elif case == "no run scope":
        _key, secret = make_api_key(tenant_a.department, scopes=("usage",), agents=[mcp.agent])
    headers = {} if case == "missing" else {"Authorization": f"Bearer {secret}"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = httpx2.post(
        f"{mcp.url}/mcp", json=body, headers={**headers, "Accept": "application/json, text/event-stream"}
    )
    assert response.status_code == (403 if case == "no run scope" else 401)
    error = response.json()["error"]
    assert error["message"] and ("API 密钥" in error["message"])
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    with pytest.raises(MCPError):  # the SDK's client gets no session either
        mcp.tools(secret=secret if case != "missing" else "sk-sz-none")
    assert not Run.objects.exists()


def test_a_key_limited_to_one_request_a_minute_gets_a_tool_error_saying_so(mcp, tenant_a, fake_openai):
    limited, secret = make_api_key(tenant_a.department, agents=[mcp.agent], requests_per_minute=1)
    assert not mcp.call(mcp.agent.identifier, {"message": "你好"}, secret=secret).is_error
    refused = mcp.call(mcp.agent.identifier, {"message": "再问"}, secret=secret)
    assert refused.is_error and 1 <= refused.structured_content["retry_after"] <= 61
    assert "每分钟最多 1 次" in refused.content[0].text
    assert Run.objects.filter(api_key=limited).count() == 1


def test_both_ways_an_mcp_client_runs_an_agent_that_calls_an_mcp_tool(mcp, tenant_a, fake_openai, fake_mcp):
    from agents.mcp.services import mcp_server_sync
    from agents.models import McpServer, Tool

    server = McpServer.objects.create(department=tenant_a.department, name="案件系统", url=fake_mcp.url)
    assert mcp_server_sync(server=server)[0]
    status = Tool.objects.get(mcp_server=server, mcp_tool_name="case_status")
    agent = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), tools=[status]
    )
    mcp.key.agents.add(agent)
    call = {"name": status.function_name, "arguments": {"case_no": "B-9", "phone": "【手机号1】"}}
    fake_openai.script(Reply(text="", tool_calls=[call]), Reply(text="案件B-9已受理。"))

    result = mcp.call(agent.identifier, {"message": f"案件B-9进度？电话{PHONE}"})

    assert result.content[0].text == "案件B-9已受理。"
    assert fake_mcp.calls == [("case_status", {"case_no": "B-9", "phone": "【手机号1】", "region": ""})]
    run = Run.objects.get(pk=result.structured_content["id"])
    assert run.via == Run.Via.MCP and run.steps[0]["ok"] and run.steps[0]["tool"] == status.function_name


def test_a_model_failure_is_a_tool_error_with_the_run_id(mcp, fake_openai):
    fake_openai.status = 400  # the model service refuses every request (not retried)
    result = mcp.call(mcp.agent.identifier, {"message": "你好"})
    run = Run.objects.get()
    assert result.is_error and run.status == Run.Status.FAILED and run.via == Run.Via.MCP
    assert "模型调用失败" in result.content[0].text and f"运行编号 {run.pk}" in result.content[0].text
    assert result.structured_content["status"] == "failed"


def test_an_oversized_request_is_refused_and_runs_nothing(mcp):
    # Above the APIs' body cap (DATA_UPLOAD_MAX_MEMORY_SIZE, 10 MB): 12 MB of text.
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": mcp.agent.identifier, "arguments": {"message": "长" * (4 * 1024 * 1024)}},
    }
    response = httpx2.post(
        f"{mcp.url}/mcp",
        json=body,
        headers={"Authorization": f"Bearer {mcp.secret}", "Accept": "application/json, text/event-stream"},
        timeout=60,
    )
    assert response.status_code == 413 and not Run.objects.exists()
