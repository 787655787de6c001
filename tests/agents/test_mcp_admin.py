"""MCP servers in the admin: who may register which kind, the secret that never comes back, syncing tools,
and the fixed arguments of a synced tool."""

from __future__ import annotations

import json

from django.urls import reverse

from agents.models import McpServer, Tool
from tests.fakes.mcp_server import stdio_command

SECRET = "Bearer mcp-live-9a8b7c"


def server_post(tenant, url, **overrides):
    data = {
        "department": tenant.department.pk if tenant else "",
        "name": "案件系统",
        "transport": "http",
        "url": url,
        "auth_header_name": "Authorization",
        "auth_header_value": SECRET,
        "timeout_seconds": 20,
        "is_active": "on",
    }
    return {**data, **overrides}


def test_a_department_admin_registers_a_server_syncs_it_and_its_tools_appear(login, tenant_a, tenant_b, fake_mcp):
    client = login(tenant_a.admin)
    page = client.get(reverse("admin:agents_mcpserver_add"))
    assert page.status_code == 200 and 'name="command"' not in page.text  # commands are for platform admins
    assert client.post(reverse("admin:agents_mcpserver_add"), server_post(tenant_a, fake_mcp.url)).status_code == 302
    server = McpServer.objects.get(name="案件系统")
    assert server.department == tenant_a.department and server.auth_header_value == SECRET
    change = client.get(reverse("admin:agents_mcpserver_change", args=[server.pk]))
    assert SECRET not in change.text and "mcp-live" not in change.text

    answer = client.post(
        reverse("admin:agents_mcpserver_changelist"),
        {"action": "sync_tools", "_selected_action": [server.pk]},
        follow=True,
    )
    assert "共 5 个工具：新增 5 个" in answer.text
    assert any(h.get("authorization") == SECRET for h in fake_mcp.headers)
    tools = client.get(reverse("admin:agents_tool_changelist"))
    assert "案件系统 · case_status" in tools.text and "MCP" in tools.text
    # Another department's admin sees neither the server nor its tools.
    other = login(tenant_b.admin)
    assert other.get(reverse("admin:agents_mcpserver_change", args=[server.pk])).status_code == 404
    assert "case_status" not in other.get(reverse("admin:agents_tool_changelist")).text


def test_a_department_admin_cannot_register_a_stdio_command(login, tenant_a, tenant_b):
    client = login(tenant_a.admin)
    answer = client.post(
        reverse("admin:agents_mcpserver_add"),
        server_post(tenant_a, "", transport="stdio", command="/bin/sh -c id"),
    )
    assert answer.status_code == 200 and "只有平台管理员可以注册本地命令" in answer.text
    assert not McpServer.objects.exists()


def test_a_platform_admin_registers_a_stdio_server_for_the_whole_platform(login, platform_admin, tenant_a):
    client = login(platform_admin)
    data = server_post(None, "", name="本地工具", transport="stdio", command=stdio_command(), auth_header_value="")
    assert client.post(reverse("admin:agents_mcpserver_add"), data).status_code == 302
    server = McpServer.objects.get(name="本地工具")
    assert server.department is None and server.transport == "stdio"
    answer = client.post(
        reverse("admin:agents_mcpserver_changelist"),
        {"action": "sync_tools", "_selected_action": [server.pk]},
        follow=True,
    )
    assert "新增 5 个" in answer.text
    # Platform-wide tools are there for every department's agents.
    assert Tool.objects.restrict(tenant_a.admin, "use").filter(mcp_server=server, mcp_tool_name="echo").exists()


def test_a_url_off_the_allow_list_is_refused_when_saved(login, tenant_a, tenant_b):
    client = login(tenant_a.admin)
    answer = client.post(reverse("admin:agents_mcpserver_add"), server_post(tenant_a, "http://10.99.0.1:9000/mcp"))
    assert answer.status_code == 200 and "主机 10.99.0.1 不在出网白名单中" in answer.text
    assert not McpServer.objects.exists()


def test_fixed_arguments_of_a_synced_tool_are_checked_against_its_parameters(login, tenant_a, tenant_b, fake_mcp):
    from agents.mcp.services import mcp_server_sync

    server = McpServer.objects.create(department=tenant_a.department, name="案件系统", url=fake_mcp.url)
    assert mcp_server_sync(server=server)[0]
    tool = Tool.objects.get(mcp_server=server, mcp_tool_name="case_status")
    client = login(tenant_a.admin)
    url = reverse("admin:agents_tool_change", args=[tool.pk])
    page = client.get(url)
    assert 'name="fixed_arguments"' in page.text and 'name="url_template"' not in page.text

    refused = client.post(url, {"fixed_arguments": json.dumps({"district": "东区"}), "is_active": "on"})
    assert refused.status_code == 200 and "工具没有这些参数：district" in refused.text
    refused = client.post(url, {"fixed_arguments": json.dumps({"region": 7}), "is_active": "on"})
    assert refused.status_code == 200 and "取值不符合参数定义" in refused.text
    assert client.post(url, {"fixed_arguments": json.dumps({"region": "示范区"}), "is_active": "on"}).status_code == 302
    tool.refresh_from_db()
    assert tool.fixed_arguments == {"region": "示范区"} and tool.mcp_tool_name == "case_status"


def test_synced_tools_are_offered_on_the_agent_form_of_their_department_only(login, tenant_a, tenant_b, fake_mcp):
    from agents.mcp.services import mcp_server_sync
    from tests.agents.factories import make_agent

    server = McpServer.objects.create(department=tenant_a.department, name="案件系统", url=fake_mcp.url)
    assert mcp_server_sync(server=server)[0]
    mine, theirs = make_agent(tenant_a.department), make_agent(tenant_b.department)
    page = login(tenant_a.admin).get(reverse("admin:agents_agent_change", args=[mine.pk]))
    assert "案件系统 · case_status" in page.text
    page = login(tenant_b.admin).get(reverse("admin:agents_agent_change", args=[theirs.pk]))
    assert page.status_code == 200 and "case_status" not in page.text


def test_the_run_trace_shows_the_mcp_call_with_its_arguments_as_the_model_sent_them(
    login, tenant_a, tenant_b, fake_openai, fake_mcp
):
    from agents.mcp.services import mcp_server_sync
    from agents.runtime.pipeline import run_execute
    from tests.agents.runtime.helpers import model_endpoint, published_agent
    from tests.fakes.openai_server import Reply

    server = McpServer.objects.create(department=tenant_a.department, name="案件系统", url=fake_mcp.url)
    assert mcp_server_sync(server=server)[0]
    status = Tool.objects.get(mcp_server=server, mcp_tool_name="case_status")
    agent = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), tools=[status]
    )
    call = {"name": status.function_name, "arguments": {"case_no": "C-31", "phone": "【手机号1】"}}
    fake_openai.script(Reply(text="", tool_calls=[call]), Reply(text="已受理。"))
    run = run_execute(principal=tenant_a.staff, agent=agent, message="C-31进度？电话13800138000")

    page = login(tenant_a.admin).get(reverse("admin:agents_run_change", args=[run.pk]))
    assert page.status_code == 200
    assert "案件系统 · case_status" in page.text and "C-31" in page.text and "已受理" in page.text
    assert "【手机号1】" in page.text and "13800138000" not in page.text
