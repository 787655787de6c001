"""Model endpoints and tools: encrypted secrets that never come back, connection tests, validation."""

import json

from django.db import connection
from django.urls import reverse

from agents.models import AllowedHost, ModelEndpoint, Tool
from tenants.models import AuditEntry
from tests.agents.factories import ALLOWED_HOST, make_endpoint

SECRET = "sk-live-7f3a9c1d2e4b"


def endpoint_post(tenant, **overrides):
    data = {
        "department": tenant.department.pk,
        "name": "DeepSeek 内网",
        "kind": "chat",
        "base_url": "http://10.0.0.8:8000/v1",
        "api_key": SECRET,
        "model_names": "deepseek-chat",
        "timeout_seconds": 30,
        "max_concurrency": 4,
        "price_input_per_1k": "0.002",
        "price_output_per_1k": "0.008",
        "is_active": "on",
    }
    return {**data, **overrides}


def test_api_key_is_encrypted_at_rest_and_never_shown_again(login, tenant_a, tenant_b):
    client = login(tenant_a.admin)
    assert client.post(reverse("admin:agents_modelendpoint_add"), endpoint_post(tenant_a)).status_code == 302
    endpoint = ModelEndpoint.objects.get(name="DeepSeek 内网")
    assert endpoint.api_key == SECRET
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM agents_modelendpoint WHERE id = %s", [endpoint.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored and len(stored) > 40

    page = client.get(reverse("admin:agents_modelendpoint_change", args=[endpoint.pk])).content.decode()
    assert SECRET not in page and "已设置" in page
    listing = client.get(reverse("admin:agents_modelendpoint_changelist")).content.decode()
    assert SECRET not in listing

    # Saving the form without typing the key keeps it.
    client.post(
        reverse("admin:agents_modelendpoint_change", args=[endpoint.pk]),
        endpoint_post(tenant_a, api_key="", name="DeepSeek 内网（改）"),
    )
    endpoint.refresh_from_db()
    assert endpoint.api_key == SECRET and endpoint.name == "DeepSeek 内网（改）"

    entries = AuditEntry.objects.filter(model="agents.ModelEndpoint", object_id=str(endpoint.pk))
    assert entries.count() == 2
    assert all(SECRET not in json.dumps(e.changes, ensure_ascii=False) for e in entries)
    audit_page = client.get(reverse("admin:agents_modelendpoint_history", args=[endpoint.pk])).content.decode()
    assert SECRET not in audit_page


def test_a_changed_key_shows_as_changed_in_the_audit_log_without_its_value(tenant_a, tenant_b):
    endpoint = make_endpoint(tenant_a.department, api_key="old-key-123")
    endpoint.api_key = "new-key-456"
    endpoint.save()
    change = AuditEntry.objects.get(model="agents.ModelEndpoint", object_id=str(endpoint.pk), kind="update")
    before, after = change.changes["api_key"]
    assert before != after and "key" not in before + after


def test_connection_test_reports_success_and_speed(login, tenant_a, tenant_b, fake_openai):
    fake_openai.api_key = SECRET
    endpoint = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, models="fake-chat", api_key=SECRET)
    response = login(tenant_a.admin).post(
        reverse("admin:agents_modelendpoint_changelist"),
        {"action": "test_connection", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "连接成功，用时" in text and "毫秒" in text
    endpoint.refresh_from_db()
    assert endpoint.last_check_ok is True
    assert fake_openai.requests[-1]["headers"]["authorization"] == f"Bearer {SECRET}"


def test_connection_test_explains_failures(login, tenant_a, tenant_b, fake_openai):
    client = login(tenant_a.admin)

    def run(endpoint):
        response = client.post(
            reverse("admin:agents_modelendpoint_changelist"),
            {"action": "test_connection", "_selected_action": [endpoint.pk]},
            follow=True,
        )
        return response.content.decode()

    fake_openai.api_key = "the-right-key"
    wrong_key = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, api_key="wrong")
    assert "API 密钥无效" in run(wrong_key)

    fake_openai.api_key = None
    missing_model = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, models="deepseek-r1")
    assert "没有这些模型：deepseek-r1" in run(missing_model)

    down = make_endpoint(tenant_a.department, base_url="http://127.0.0.1:9/v1")
    assert "无法连接到" in run(down)
    fake_openai.status = 503
    broken = make_endpoint(tenant_a.department, base_url=fake_openai.base_url)
    assert "服务返回错误 503" in run(broken)
    assert ModelEndpoint.objects.get(pk=broken.pk).last_check_ok is False


def test_shared_endpoints_are_choosable_by_every_department_but_changed_only_by_platform_admins(
    login, tenant_a, tenant_b, platform_admin
):
    shared = ModelEndpoint.objects.create(
        name="全市 DeepSeek", base_url="http://10.1.1.1/v1", model_names="deepseek-chat"
    )
    client = login(tenant_a.admin)
    form = client.get(reverse("admin:agents_agent_add")).context["adminform"].form
    assert shared in form.fields["endpoint"].queryset
    assert client.get(reverse("admin:agents_modelendpoint_change", args=[shared.pk])).status_code == 200
    refused = client.post(
        reverse("admin:agents_modelendpoint_change", args=[shared.pk]), endpoint_post(tenant_a, name="被改")
    )
    assert refused.status_code == 403
    assert ModelEndpoint.objects.get(pk=shared.pk).name == "全市 DeepSeek"
    assert (
        login(platform_admin)
        .post(
            reverse("admin:agents_modelendpoint_change", args=[shared.pk]),
            {**endpoint_post(tenant_a, name="全市 DeepSeek v2"), "department": ""},
        )
        .status_code
        == 302
    )


def tool_post(tenant, **overrides):
    data = {
        "department": tenant.department.pk,
        "name": "天气查询",
        "function_name": "weather",
        "description": "查询城市天气",
        "http_method": "GET",
        "url_template": f"https://{ALLOWED_HOST}/weather?city={{city}}",
        "parameters_schema": json.dumps({"type": "object", "properties": {"city": {"type": "string"}}}),
        "secret_header_name": "X-Api-Key",
        "secret_header_value": "tool-secret-999",
        "timeout_seconds": 10,
        "is_active": "on",
    }
    return {**data, **overrides}


def test_http_tool_is_saved_with_its_secret_hidden(login, tenant_a, tenant_b):
    AllowedHost.objects.create(pattern=ALLOWED_HOST)
    client = login(tenant_a.admin)
    assert client.post(reverse("admin:agents_tool_add"), tool_post(tenant_a)).status_code == 302
    tool = Tool.objects.get(function_name="weather")
    assert tool.secret_header_value == "tool-secret-999"
    page = client.get(reverse("admin:agents_tool_change", args=[tool.pk])).content.decode()
    assert "tool-secret-999" not in page


def test_http_tool_validation_errors_are_clear(login, tenant_a, tenant_b):
    AllowedHost.objects.create(pattern="*.gov.example")
    client = login(tenant_a.admin)

    def errors(**overrides):
        response = client.post(reverse("admin:agents_tool_add"), tool_post(tenant_a, **overrides))
        assert response.status_code == 200
        return str(response.context["adminform"].form.errors)

    assert "不在出网白名单中" in errors(url_template="https://evil.example.com/x?city={city}")
    assert "不在出网白名单中" in errors(url_template="https://gov.example/x?city={city}")
    assert "JSON Schema 无效" in errors(
        parameters_schema=json.dumps({"type": "object", "properties": {"a": {"type": 5}}})
    )
    assert "顶层必须是 object" in errors(parameters_schema=json.dumps({"type": "string"}))
    assert "{day}" in errors(url_template="https://api.gov.example/x?city={city}&d={day}")
    assert "只允许访问 http 或 https" in errors(url_template="ftp://api.gov.example/x")
    assert not Tool.objects.filter(function_name="weather").exists()
    ok = client.post(
        reverse("admin:agents_tool_add"), tool_post(tenant_a, url_template="https://api.gov.example/w?c={city}")
    )
    assert ok.status_code == 302


def test_builtin_tools_are_listed_for_everyone_and_read_only(login, tenant_a, tenant_b, platform_admin):
    from agents.builder.services import builtin_tools_sync

    builtin_tools_sync()
    builtin = Tool.objects.get(builtin="knowledge_search")
    client = login(tenant_a.admin)
    assert builtin in client.get(reverse("admin:agents_agent_add")).context["adminform"].form.fields["tools"].queryset
    assert client.post(reverse("admin:agents_tool_delete", args=[builtin.pk]), {"post": "yes"}).status_code == 403
    assert (
        login(platform_admin).post(reverse("admin:agents_tool_delete", args=[builtin.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert Tool.objects.filter(pk=builtin.pk).exists()
    assert set(Tool.objects.filter(department=None).values_list("builtin", flat=True)) >= {
        "knowledge_search",
        "mask_personal_data",
        "document_format_check",
        "ticket_classify",
        "extract_fields",
        "current_datetime",
    }
