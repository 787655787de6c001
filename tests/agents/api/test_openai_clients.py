"""Integrators' clients against /v1 under uvicorn and the fake model server: LangChain building
multi-turn history its own way, OpenAI's error codes that clients' retry logic tests for, and CORS
for browser pages, allowed per API key."""

from __future__ import annotations

import httpx2
import openai
import pytest

from agents.models import Run
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.factories import make_api_key
from tests.fakes.openai_server import Reply

from .test_openai import Api

QUESTION = "博士人才补贴怎么申请？"
ANSWER = "向人社局提交申请表和学位证书。"
FOLLOW_UP = "需要哪些材料？"


@pytest.fixture
def api(tenant_a, tenant_b, fake_openai, live_url):
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    key, secret = make_api_key(tenant_a.department, agents=[agent])
    return Api(url=live_url, agent=agent, secret=secret, key=key)


def _sent_turns(fake_openai) -> list[tuple[str, str]]:
    """The user/assistant turns the agent's model was sent (the agent's own system prompt left out)."""
    return [
        (m["role"], m["content"]) for m in fake_openai.chat_requests[-1]["body"]["messages"] if m["role"] != "system"
    ]


# --------------------------------------------------------------------------- LangChain


def test_langchain_keeps_a_conversation_with_its_own_messages_invoked_and_streamed(api, fake_openai):
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model=api.agent.identifier, base_url=f"{api.url}/v1", api_key=api.secret, max_retries=0, timeout=60
    )
    fake_openai.script(Reply(text=ANSWER), Reply(text="申请表、学位证书和劳动合同。"))
    history = [SystemMessage("你是政务助手"), HumanMessage(QUESTION)]
    first = llm.invoke(history)
    assert first.content == ANSWER
    # LangChain appends its own AIMessage (with its response metadata) and asks again, streaming.
    history += [first, HumanMessage(FOLLOW_UP)]
    streamed = "".join(chunk.content for chunk in llm.stream(history))
    assert streamed == "申请表、学位证书和劳动合同。"
    assert _sent_turns(fake_openai) == [("user", QUESTION), ("assistant", ANSWER), ("user", FOLLOW_UP)]
    # max_tokens is honoured through LangChain too.
    fake_openai.script(Reply(text="申请", finish_reason="length"))
    cut = ChatOpenAI(
        model=api.agent.identifier, base_url=f"{api.url}/v1", api_key=api.secret, max_retries=0, max_tokens=2
    ).invoke([HumanMessage(QUESTION)])
    assert cut.response_metadata["finish_reason"] == "length"
    assert fake_openai.chat_requests[-1]["body"]["max_tokens"] == 2


# --------------------------------------------------------------------------- OpenAI's error codes


def test_a_conversation_too_long_for_the_model_answers_context_length_exceeded(api, fake_openai):
    fake_openai.script(
        Reply(status=400, error="This model's maximum context length is 4096 tokens. However, you requested 9000.")
    )
    with pytest.raises(openai.BadRequestError) as caught:
        api.client().chat.completions.create(
            model=api.agent.identifier, messages=[{"role": "user", "content": "很长的问题" * 100}]
        )
    assert caught.value.code == "context_length_exceeded" and caught.value.body["type"] == "invalid_request_error"
    assert "上下文长度" in caught.value.body["message"]
    assert Run.objects.get().status == Run.Status.FAILED  # the attempt stays traceable
    # Any other refusal by the model stays a model error (502), not the caller's fault.
    fake_openai.script(Reply(status=400, error="unsupported parameter"))
    with pytest.raises(openai.APIStatusError) as other:
        api.client().chat.completions.create(model=api.agent.identifier, messages=[{"role": "user", "content": "你好"}])
    assert other.value.status_code == 502 and other.value.code != "context_length_exceeded"


def test_a_spent_token_quota_answers_insufficient_quota(api, tenant_a, fake_openai):
    _key, secret = make_api_key(tenant_a.department, agents=[api.agent], tokens_per_day=50)
    client = api.client(secret)
    fake_openai.script(Reply(text="好的。", usage={"prompt_tokens": 80, "completion_tokens": 5}))
    client.chat.completions.create(model=api.agent.identifier, messages=[{"role": "user", "content": "你好"}])
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=api.agent.identifier, messages=[{"role": "user", "content": "再问"}])
    assert caught.value.code == "insufficient_quota" and "token" in caught.value.body["message"]
    assert int(caught.value.response.headers["retry-after"]) >= 1
    # The REST API keeps the platform's own code for the same refusal.
    rest = httpx2.post(
        f"{api.url}/api/v1/agents/{api.agent.identifier}/runs",
        headers={"Authorization": f"Bearer {secret}"},
        json={"message": "你好"},
    )
    assert rest.status_code == 429 and rest.json()["error"]["code"] == "token_quota_exceeded"


# --------------------------------------------------------------------------- CORS, per key

PAGE = "https://hotline.example.gov.cn"


def _preflight(api, origin: str) -> httpx2.Response:
    return httpx2.options(
        f"{api.url}/v1/chat/completions",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
        },
    )


def _ask_from(api, origin: str, secret: str) -> httpx2.Response:
    return httpx2.post(
        f"{api.url}/v1/chat/completions",
        headers={"Origin": origin, "Authorization": f"Bearer {secret}"},
        json={"model": api.agent.identifier, "messages": [{"role": "user", "content": "你好"}]},
    )


def test_a_browser_page_may_call_with_a_key_that_lists_its_origin_and_no_other(api, tenant_a, fake_openai):
    refused = _preflight(api, PAGE)
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert refused.json()["error"]["code"] == "origin_not_allowed"

    api.key.cors_origins = [PAGE]
    api.key.save(update_fields=["cors_origins"])
    allowed = _preflight(api, PAGE)
    assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == PAGE
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "x-stainless-os" in allowed.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in allowed.headers  # a key, never the signed-in person

    answer = _ask_from(api, PAGE, api.secret)
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == PAGE
    assert "Origin" in answer.headers["vary"]
    # Another page, or this page with a key that does not list it, cannot read the answers.
    assert "access-control-allow-origin" not in _ask_from(api, "https://elsewhere.example.com", api.secret).headers
    _other, other_secret = make_api_key(tenant_a.department, agents=[api.agent])
    assert "access-control-allow-origin" not in _ask_from(api, PAGE, other_secret).headers
    # A revoked key's origin is allowed no longer.
    from tenants.api_keys import api_key_revoke

    api_key_revoke(key=api.key, by=None)
    assert _preflight(api, PAGE).status_code == 403


def test_an_admin_lists_a_keys_origins_one_a_line_and_a_path_is_refused(tenant_a):
    from agents.admin.api_keys import ApiKeyForm

    key, _secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    data = {"department": key.department_id, "name": key.name, "scopes": ["knowledge"]}
    form = ApiKeyForm(data={**data, "cors_origins": f"{PAGE}/\nHTTP://LOCALHOST:5173\n\n{PAGE}"}, instance=key)
    assert form.is_valid(), form.errors
    assert form.save().cors_origins == [PAGE, "http://localhost:5173"]
    assert ApiKeyForm(instance=key).initial["cors_origins"] == f"{PAGE}\nhttp://localhost:5173"
    wrong = ApiKeyForm(data={**data, "cors_origins": f"{PAGE}/app"}, instance=key)
    assert not wrong.is_valid() and "不含路径" in wrong.errors["cors_origins"][0]
