"""The implicit AI-generated label (GB 45438-2025) on the API's answers, against the project under
uvicorn and the fake model server: what another system reads next to each answer."""

from __future__ import annotations

import httpx2
import openai
import pytest

from agents.models import Run
from tenants.models import AuditEntry
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.factories import make_api_key
from tests.fakes.openai_server import Reply

VISIBLE = "本内容由人工智能生成（AI 生成），仅供参考"
PROVIDER = "数智员工平台"  # SHUZHI_AI_LABEL_PROVIDER's default


@pytest.fixture
def keyed(tenant_a, tenant_b, fake_openai, live_url):
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    labelled = published_agent(tenant_a.department, endpoint=endpoint)
    unlabelled = published_agent(tenant_a.department, endpoint=endpoint, ai_label=False)
    _key, secret = make_api_key(tenant_a.department, agents=[labelled, unlabelled])
    return live_url, secret, labelled, unlabelled


def openai_client(url: str, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0, timeout=60)


def assert_labelled(label: dict, run: Run) -> None:
    assert label["generated"] is True and label["text"] == VISIBLE
    assert (label["provider"], label["content_id"]) == (PROVIDER, run.uuid.hex)
    assert label["metadata"]["Label"] == "1"
    assert label["metadata"]["ContentProducer"] == PROVIDER and label["metadata"]["ProduceID"] == run.uuid.hex


def test_an_openai_completion_carries_the_label_in_a_header_and_an_extra_field(keyed, fake_openai):
    url, secret, labelled, _unlabelled = keyed
    fake_openai.script(Reply(text="每月3000元。"))
    raw = openai_client(url, secret).chat.completions.with_raw_response.create(
        model=labelled.identifier, messages=[{"role": "user", "content": "博士补贴每月多少？"}]
    )
    completion = raw.parse()  # the official client reads the answer as usual
    assert completion.choices[0].message.content == "每月3000元。"
    run = Run.objects.get(uuid=completion.id.removeprefix("chatcmpl-"))
    assert raw.headers["X-AI-Generated"] == "1"
    assert raw.headers["X-AI-Produce-ID"] == run.uuid.hex
    assert httpx2.URL("?p=" + raw.headers["X-AI-Content-Producer"]).params["p"] == PROVIDER
    assert_labelled(completion.model_extra["shuzhi"]["ai_label"], run)
    # Delivered without the visible label next to it: logged in the (append-only) audit log.
    (entry,) = AuditEntry.objects.filter(kind=AuditEntry.Kind.API_OUTPUT, object_id=str(run.pk))
    assert entry.department_id == run.department_id and entry.object_repr == run.uuid.hex
    assert entry.changes["implicit_label"] is True and entry.changes["visible_label"] is False
    assert entry.changes["via"] == "openai" and entry.actor_name.endswith("…)")


def test_a_streamed_completion_carries_the_label_in_its_headers_and_last_chunk(keyed, fake_openai):
    url, secret, labelled, _unlabelled = keyed
    fake_openai.script(Reply(text="每月3000元。"))
    raw = openai_client(url, secret).chat.completions.with_raw_response.create(
        model=labelled.identifier, messages=[{"role": "user", "content": "博士补贴每月多少？"}], stream=True
    )
    assert raw.headers["X-AI-Generated"] == "1"
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "每月3000元。"
    run = Run.objects.get(uuid=chunks[0].id.removeprefix("chatcmpl-"))
    assert raw.headers["X-AI-Produce-ID"] == run.uuid.hex
    assert_labelled(chunks[-1].model_extra["shuzhi"]["ai_label"], run)


def test_a_rest_run_carries_the_label_now_and_when_read_later(keyed, fake_openai):
    url, secret, labelled, _unlabelled = keyed
    fake_openai.script(Reply(text="每月3000元。"))
    headers = {"Authorization": f"Bearer {secret}"}
    response = httpx2.post(
        f"{url}/api/v1/agents/{labelled.identifier}/runs", json={"message": "博士补贴？"}, headers=headers, timeout=60
    )
    assert response.status_code == 200, response.text
    body = response.json()
    run = Run.objects.get(pk=body["id"])
    assert response.headers["X-AI-Generated"] == "1" and response.headers["X-AI-Produce-ID"] == run.uuid.hex
    assert_labelled(body["ai_label"], run)
    later = httpx2.get(f"{url}/api/v1/runs/{run.pk}/", headers=headers, timeout=60).json()
    assert later["ai_label"] == body["ai_label"]
    (entry,) = AuditEntry.objects.filter(kind=AuditEntry.Kind.API_OUTPUT, object_id=str(run.pk))
    assert entry.changes["via"] == "api" and entry.changes["content_id"] == run.uuid.hex


def test_an_agent_that_does_not_label_its_output_says_so(keyed, fake_openai):
    url, secret, _labelled, unlabelled = keyed
    fake_openai.script(Reply(text="每月3000元。"))
    raw = openai_client(url, secret).chat.completions.with_raw_response.create(
        model=unlabelled.identifier, messages=[{"role": "user", "content": "博士补贴每月多少？"}]
    )
    assert raw.headers["X-AI-Generated"] == "0" and "X-AI-Produce-ID" not in raw.headers
    label = raw.parse().model_extra["shuzhi"]["ai_label"]
    assert label == {"generated": False, "text": "", "provider": "", "content_id": "", "metadata": None}
    (entry,) = AuditEntry.objects.filter(kind=AuditEntry.Kind.API_OUTPUT)
    assert entry.changes["implicit_label"] is False and entry.changes["visible_label"] is False
