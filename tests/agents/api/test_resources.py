"""The REST API's resources as another system uses them: agents, runs, conversations, knowledge, usage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import Agent, Conversation, Document, Run
from agents.runtime.review import Decision, run_review
from tenants.api_keys import api_key_revoke
from tenants.models import DepartmentQuota
from tests.agents.api.isolation import api_agent, api_conversation, api_run
from tests.agents.factories import make_document, make_knowledge_base, make_template
from tests.agents.runtime.helpers import POLICY, model_endpoint, policy_knowledge_base
from tests.factories import bearer, make_api_key, make_user

ALL_SCOPES = ("run", "knowledge", "reports")


def get(client, url, secret, **params):
    return client.get(url, params, **bearer(secret))


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    return response.json()["results"]


def error_of(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    return response.json()["error"]


# --------------------------------------------------------------------------- agents


def test_a_key_lists_the_agents_it_may_call_as_their_published_version_defines_them(tenant_a, tenant_b, client):
    template = make_template(
        tenant_a.department,
        body="请起草关于{{ task }}的通知。",
        variables=[{"name": "task", "label": "事项", "type": "long_text", "help": "写明时间地点", "example": "防汛"}],
    )
    schema = {"type": "object", "properties": {"category": {"type": "string"}}, "required": ["category"]}
    drafting = api_agent(
        tenant_a.department, template=template, description="起草应急通知", area="emergency", requires_review=True
    )
    classifier = api_agent(tenant_a.department, output_mode="structured", output_schema=schema)
    unlisted = api_agent(tenant_a.department)
    granted = api_agent(tenant_b.department)
    granted.granted_departments.add(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, agents=[drafting, classifier, granted])
    # Editing the draft after publishing changes nothing for callers until the next version.
    Agent.objects.filter(pk=drafting.pk).update(name="尚未发布的新名字", description="草稿")

    listed = results(get(client, "/api/v1/agents/", secret))
    assert {a["id"] for a in listed} == {drafting.identifier, classifier.identifier, granted.identifier}

    detail = get(client, f"/api/v1/agents/{drafting.identifier}/", secret).json()
    assert detail["name"] == drafting.name and detail["description"] == "起草应急通知"
    assert detail["area"] == "emergency" and detail["area_label"] == "应急管理"
    assert detail["department"] == tenant_a.department.name and detail["version"] == 1
    assert detail["requires_review"] is True and detail["output_mode"] == "chat"
    assert detail["form_fields"] == [
        {
            "name": "task",
            "label": "事项",
            "type": "long_text",
            "required": True,
            "choices": [],
            "help": "写明时间地点",
            "example": "防汛",
        }
    ]
    structured = get(client, f"/api/v1/agents/{classifier.identifier}/", secret).json()
    assert structured["output_mode"] == "structured" and structured["output_schema"] == schema
    assert structured["requires_review"] is False

    for identifier in (unlisted.identifier, "no-such-department.agent", "nodot"):
        assert error_of(get(client, f"/api/v1/agents/{identifier}/", secret), 404)["code"] == "not_found"


# --------------------------------------------------------------------------- runs


def test_a_key_reads_its_own_runs_with_the_personal_data_it_sent(tenant_a, client):
    key, secret = make_api_key(tenant_a.department)
    agent = api_agent(tenant_a.department, knowledge_bases=[policy_knowledge_base(tenant_a.department)])
    run = api_run(key, agent, message="我的手机号是13812345678，博士研究生安居补贴怎么申请？")
    assert "13812345678" not in run.input_text  # stored masked

    data = get(client, f"/api/v1/runs/{run.pk}/", secret).json()
    assert data["input"] == "我的手机号是13812345678，博士研究生安居补贴怎么申请？"
    assert data["agent"] == agent.identifier and data["agent_name"] == agent.name
    assert data["via"] == "api" and data["status"] == "succeeded" and data["version"] == 1
    assert data["retrieval_only"] is True and "3000" in data["text"]
    assert data["sources"] and data["sources"][0]["document_number"] == "示人社〔2025〕3号"
    assert data["review_status"] == "" and data["data"] is None

    assert [r["id"] for r in results(get(client, "/api/v1/runs/", secret))] == [run.pk]


def test_runs_filter_by_agent_status_and_start_and_page(tenant_a, client):
    key, secret = make_api_key(tenant_a.department)
    first, second = api_agent(tenant_a.department), api_agent(tenant_a.department)
    old = api_run(key, first)
    failed = api_run(key, first)
    recent = api_run(key, second)
    Run.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=3))
    Run.objects.filter(pk=failed.pk).update(status=Run.Status.FAILED)

    def ids(**params):
        return [r["id"] for r in results(get(client, "/api/v1/runs/", secret, **params))]

    assert ids() == [recent.pk, failed.pk, old.pk]
    assert ids(agent=first.identifier) == [failed.pk, old.pk]
    assert ids(status="failed") == [failed.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(since=since) == [recent.pk, failed.pk]
    page = get(client, "/api/v1/runs/", secret, limit=2).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and "offset=2" in page["next"]

    bad = error_of(get(client, "/api/v1/runs/", secret, status="exploded"), 400)
    assert bad["type"] == "invalid_request_error" and bad["param"] == "status" and "status" in bad["fields"]
    assert error_of(get(client, "/api/v1/runs/", secret, since="yesterday"), 400)["param"] == "since"


def test_a_run_under_review_gives_its_text_only_once_approved(tenant_a, fake_openai, client):
    key, secret = make_api_key(tenant_a.department)
    agent = api_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), requires_review=True
    )
    run = api_run(key, agent, message="请答复市民关于停车收费的投诉。")
    waiting = get(client, f"/api/v1/runs/{run.pk}/", secret).json()
    assert waiting["review_status"] == "pending" and waiting["text"] == ""
    assert waiting["usage"]["input_tokens"] > 0

    run_review(run=run, reviewer=tenant_a.reviewer, decision=Decision.EDIT, text="经审核的答复：停车收费按规定执行。")
    approved = get(client, f"/api/v1/runs/{run.pk}/", secret).json()
    assert approved["review_status"] == "edited" and approved["text"] == "经审核的答复：停车收费按规定执行。"


def test_a_rejected_run_says_why_and_delivers_nothing(tenant_a, fake_openai, client):
    key, secret = make_api_key(tenant_a.department)
    agent = api_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), requires_review=True
    )
    run = api_run(key, agent)
    run_review(run=run, reviewer=tenant_a.reviewer, decision=Decision.REJECT, reason="引用的政策已废止")
    data = get(client, f"/api/v1/runs/{run.pk}/", secret).json()
    assert data["review_status"] == "rejected" and data["text"] == ""
    assert data["review_reason"] == "引用的政策已废止"


# --------------------------------------------------------------------------- conversations


def test_a_key_reads_its_conversations_with_their_runs_in_order(tenant_a, client):
    key, secret = make_api_key(tenant_a.department)
    conversation = api_conversation(key)
    api_run(key, conversation=conversation, message="还需要提交什么材料？")
    deleted = api_conversation(key)
    Conversation.objects.filter(pk=deleted.pk).update(is_deleted=True)

    listed = results(get(client, "/api/v1/conversations/", secret))
    assert [(c["id"], c["run_count"], c["agent"]) for c in listed] == [
        (conversation.pk, 2, conversation.agent.identifier)
    ]
    detail = get(client, f"/api/v1/conversations/{conversation.pk}/", secret).json()
    assert [r["input"] for r in detail["runs"]] == ["博士研究生的安居补贴怎么申请？", "还需要提交什么材料？"]
    assert all(r["conversation"] == conversation.pk for r in detail["runs"])
    assert error_of(get(client, f"/api/v1/conversations/{deleted.pk}/", secret), 404)["code"] == "not_found"


# --------------------------------------------------------------------------- knowledge


POLICY_BYTES = POLICY.encode()


def upload(client, secret, knowledge_base, *, name="talent.txt", content=POLICY_BYTES, **fields):
    return client.post(
        f"/api/v1/knowledge-bases/{knowledge_base.pk}/documents/",
        {"file": SimpleUploadedFile(name, content, content_type="application/octet-stream"), **fields},
        **bearer(secret),
    )


def test_a_document_uploaded_over_the_api_is_ingested_and_its_status_readable(
    tenant_a, client, celery_worker, wait_for
):
    knowledge_base = make_knowledge_base(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    response = upload(
        client,
        secret,
        knowledge_base,
        title="人才安居补贴办法",
        number="示人社〔2025〕3号",
        issuer="示范区人力资源和社会保障局",
        effective_date="2025-01-01",
        expiry_date="2035-12-31",
        tags=["人才", "补贴"],
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "queued" and created["knowledge_base"] == knowledge_base.pk
    url = f"/api/v1/documents/{created['id']}/"

    ready = wait_for(lambda: (d := get(client, url, secret).json())["status"] in ("ready", "failed") and d)
    assert ready["status"] == "ready", ready["error"]
    assert ready["passage_count"] >= 1 and ready["kind"] == "txt" and ready["in_force"] is True
    assert (ready["title"], ready["number"], ready["issuer"]) == (
        "人才安居补贴办法",
        "示人社〔2025〕3号",
        "示范区人力资源和社会保障局",
    )
    assert (ready["effective_date"], ready["expiry_date"], ready["tags"]) == (
        "2025-01-01",
        "2035-12-31",
        ["人才", "补贴"],
    )
    documents = results(get(client, f"/api/v1/knowledge-bases/{knowledge_base.pk}/documents/", secret))
    assert [d["id"] for d in documents] == [created["id"]]
    assert [(kb["id"], kb["document_count"]) for kb in results(get(client, "/api/v1/knowledge-bases/", secret))] == [
        (knowledge_base.pk, 1)
    ]


def test_a_failed_or_expired_document_says_so(tenant_a, client):
    knowledge_base = make_knowledge_base(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    expired = make_document(knowledge_base, expiry_date=timezone.localdate() - timedelta(days=1))
    Document.objects.filter(pk=expired.pk).update(
        status=Document.Status.FAILED, error="PDF 已加密，请上传未加密的文件。"
    )
    data = get(client, f"/api/v1/documents/{expired.pk}/", secret).json()
    assert data["status"] == "failed" and data["error"] == "PDF 已加密，请上传未加密的文件。"
    assert data["in_force"] is False and data["status_label"] == "失败"


@pytest.mark.parametrize(
    ("fields", "field", "needle"),
    [
        ({"name": "policy.pdf"}, "file", "扩展名"),
        ({"name": "setup.exe"}, "file", "不支持"),
        ({"name": "empty.txt", "content": b""}, "file", ""),
        ({"department": "1"}, "department", "未知字段"),
        ({"id": "7"}, "id", "未知字段"),
        ({"effective_date": "2026-01-01", "expiry_date": "2025-01-01"}, "expiry_date", "失效日期"),
        ({"effective_date": "明天"}, "effective_date", ""),
        ({"title": "标" * 301}, "title", ""),
    ],
)
def test_a_refused_upload_says_why_and_writes_nothing(tenant_a, client, fields, field, needle):
    knowledge_base = make_knowledge_base(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    error = error_of(upload(client, secret, knowledge_base, **fields), 400)
    assert error["param"] == field and needle in " ".join(error["fields"][field]), error
    assert not Document.objects.exists()


def test_a_bad_upload_is_refused_in_the_callers_language(tenant_a, client):
    knowledge_base = make_knowledge_base(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    program = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(300)

    def refused(name, content, **headers):
        response = client.post(
            f"/api/v1/knowledge-bases/{knowledge_base.pk}/documents/",
            {"file": SimpleUploadedFile(name, content, content_type="application/pdf")},
            **bearer(secret),
            **headers,
        )
        return error_of(response, 400)["message"]

    assert refused("annual-report.pdf", program, HTTP_ACCEPT_LANGUAGE="en") == (
        "“annual-report.pdf” was not uploaded: The file's content does not match its extension: "
        "the extension is .pdf, but the content is not a PDF (it looks like a program)."
    )
    assert refused("setup.exe", program, HTTP_ACCEPT_LANGUAGE="en") == (
        "“setup.exe” was not uploaded: Unsupported file type: .exe. "
        "Please upload a PDF, Word (.docx), OFD, TXT, Markdown or HTML file."
    )
    assert refused("annual-report.pdf", program) == (
        "未能上传“annual-report.pdf”：文件内容与扩展名不符：扩展名为 .pdf，但内容不是 PDF（看起来是可执行程序）。"
    )
    assert upload(client, secret, knowledge_base).status_code == 201
    duplicate = client.post(
        f"/api/v1/knowledge-bases/{knowledge_base.pk}/documents/",
        {"file": SimpleUploadedFile("again.txt", POLICY_BYTES)},
        **bearer(secret),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert error_of(duplicate, 400)["message"].startswith("File “again.txt”")
    assert Document.objects.count() == 1


def test_an_upload_over_the_size_limit_gets_413_naming_the_file(tenant_a, client, settings):
    settings.SHUZHI_UPLOAD_MAX_MB = 1
    knowledge_base = make_knowledge_base(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    error = error_of(upload(client, secret, knowledge_base, name="big.txt", content=b"x" * (1024 * 1024 + 1)), 413)
    assert error["code"] == "file_too_large" and error["message"] == "文件“big.txt”超过大小上限 1 MB。"
    assert not Document.objects.exists()


def test_the_same_file_twice_and_a_missing_file_are_refused(tenant_a, client):
    knowledge_base = make_knowledge_base(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    assert upload(client, secret, knowledge_base).status_code == 201
    again = error_of(upload(client, secret, knowledge_base, name="copy.txt"), 400)
    assert "内容相同" in again["message"]
    missing = client.post(
        f"/api/v1/knowledge-bases/{knowledge_base.pk}/documents/", {"title": "没有文件"}, **bearer(secret)
    )
    assert error_of(missing, 400)["param"] == "file"
    as_json = client.post(
        f"/api/v1/knowledge-bases/{knowledge_base.pk}/documents/",
        {"title": "JSON"},
        content_type="application/json",
        **bearer(secret),
    )
    assert error_of(as_json, 415)["code"] == "unsupported_media_type"
    assert Document.objects.count() == 1


# --------------------------------------------------------------------------- usage


def test_usage_shows_the_departments_figures_and_where_it_stands_against_its_quotas(tenant_a, fake_openai, client):
    DepartmentQuota.objects.create(department=tenant_a.department, tokens_per_day=100_000, tokens_per_month=2_000_000)
    key, secret = make_api_key(tenant_a.department, scopes=("run", "reports"), tokens_per_day=5_000)
    agent = api_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    run = api_run(key, agent)
    tokens = run.input_tokens + run.output_tokens
    assert tokens > 0

    usage = get(client, "/api/v1/usage/", secret).json()
    today = timezone.localdate()
    assert (usage["start"], usage["end"]) == (str(today - timedelta(days=6)), str(today))
    assert usage["overview"]["runs"]["value"] == 1
    assert usage["overview"]["input_tokens"]["value"] == run.input_tokens
    assert [(a["agent"], a["name"], a["runs"], a["tokens"]) for a in usage["agents"]] == [
        (agent.identifier, agent.name, 1, tokens)
    ]
    assert usage["quota"]["day"] == str(today)
    assert usage["quota"]["key"] == {
        "tokens_today": tokens,
        "tokens_this_month": tokens,
        "tokens_per_day": 5_000,
        "tokens_per_month": None,
        "requests_per_minute": None,
    }
    department = usage["quota"]["department"]
    assert (department["tokens_today"], department["tokens_per_day"], department["tokens_per_month"]) == (
        tokens,
        100_000,
        2_000_000,
    )

    earlier = get(client, "/api/v1/usage/", secret, start="2024-01-01", end="2024-01-31").json()
    assert earlier["overview"]["runs"]["value"] == 0 and earlier["agents"] == []
    assert error_of(get(client, "/api/v1/usage/", secret, start="2024-02-01", end="2024-01-01"), 400)["param"] == (
        "start"
    )
    assert error_of(get(client, "/api/v1/usage/", secret, start="2月1日"), 400)["param"] == "start"


# --------------------------------------------------------------------------- scopes and keys


@pytest.mark.parametrize(
    ("url", "scope", "label"),
    [
        ("/api/v1/agents/", "run", "运行智能体"),
        ("/api/v1/runs/", "run", "运行智能体"),
        ("/api/v1/conversations/", "run", "运行智能体"),
        ("/api/v1/knowledge-bases/", "knowledge", "管理知识库"),
        ("/api/v1/usage/", "reports", "读取用量"),
    ],
)
def test_a_key_without_the_scope_gets_403_in_the_error_format(tenant_a, client, url, scope, label):
    _key, without = make_api_key(tenant_a.department, scopes=[s for s in ALL_SCOPES if s != scope])
    error = error_of(get(client, url, without), 403)
    assert error["type"] == "permission_error" and label in error["message"]
    _key, with_scope = make_api_key(tenant_a.department, scopes=(scope,))
    assert get(client, url, with_scope).status_code == 200


def test_the_key_may_also_come_in_x_api_key(tenant_a, client):
    _key, secret = make_api_key(tenant_a.department)
    assert client.get("/api/v1/agents/", headers={"X-API-Key": secret}).status_code == 200


def _expired(tenant):
    return make_api_key(tenant.department, expires_at=timezone.now() - timedelta(minutes=1))[1]


def _revoked(tenant):
    key, secret = make_api_key(tenant.department)
    api_key_revoke(key=key, by=tenant.admin)
    return secret


def _creator_disabled(tenant):
    creator = make_user()
    _key, secret = make_api_key(tenant.department, created_by=creator)
    creator.is_active = False
    creator.save()
    return secret


def _department_disabled(tenant):
    _key, secret = make_api_key(tenant.department)
    tenant.department.is_active = False
    tenant.department.save()
    return secret


@pytest.mark.parametrize(
    "headers",
    [
        lambda tenant: {},
        lambda tenant: {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
        lambda tenant: {"HTTP_AUTHORIZATION": "Bearer"},
        lambda tenant: bearer("sk-sz-" + "x" * 43),
        lambda tenant: bearer(make_api_key(tenant.department)[1][:-1] + "?"),
        lambda tenant: bearer(_expired(tenant)),
        lambda tenant: bearer(_revoked(tenant)),
        lambda tenant: bearer(_creator_disabled(tenant)),
        lambda tenant: bearer(_department_disabled(tenant)),
    ],
    ids=["none", "basic", "empty", "unknown", "altered", "expired", "revoked", "creator-disabled", "dept-disabled"],
)
@pytest.mark.parametrize("url", ["/api/v1/agents/", "/api/v1/knowledge-bases/", "/api/v1/usage/", "/api/v1/runs/1/"])
def test_a_missing_wrong_or_dead_key_gets_401(tenant_a, client, headers, url):
    response = client.get(url, **headers(tenant_a))
    error = error_of(response, 401)
    assert error["type"] == "authentication_error"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_page_costs_the_same_queries_however_many_rows_it_has(tenant_a, client):
    key, secret = make_api_key(tenant_a.department, scopes=ALL_SCOPES)
    knowledge_base = make_knowledge_base(tenant_a.department)
    urls = [
        "/api/v1/agents/",
        "/api/v1/runs/",
        "/api/v1/conversations/",
        "/api/v1/knowledge-bases/",
        f"/api/v1/knowledge-bases/{knowledge_base.pk}/documents/",
    ]

    def add_rows():
        api_conversation(key, api_agent(tenant_a.department))
        make_document(knowledge_base, title=f"文档{Document.objects.count()}", text=f"第{Document.objects.count()}条")

    def queries_per_page() -> dict[str, int]:
        counts = {}
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert len(results(get(client, url, secret))) >= 1
            counts[url] = len(queries)
        return counts

    add_rows()
    get(client, "/api/v1/agents/", secret)  # the key's first use of the minute records it
    few = queries_per_page()
    for _ in range(4):
        add_rows()
    assert queries_per_page() == few
