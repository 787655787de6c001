"""MCP servers' tools used by agents: registered and synced by admins, chosen per agent, called through the
egress guard with the SDK's client, recorded in the trace; against a loopback MCP server (the SDK's own
``MCPServer``) and the scripted loopback model."""

from __future__ import annotations

import pytest
from django.db import connection

from agents.mcp.services import mcp_server_sync
from agents.models import AllowedHost, McpServer, Run, Tool
from agents.runtime.pipeline import run_execute
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.fakes.mcp_server import stdio_command
from tests.fakes.openai_server import Reply

PHONE = "13800138000"


def _server(department, url, **extra) -> McpServer:
    return McpServer.objects.create(department=department, name=extra.pop("name", "案件系统"), url=url, **extra)


def _synced(server) -> dict[str, Tool]:
    ok, message = mcp_server_sync(server=server)
    assert ok, message
    return {t.mcp_tool_name: t for t in Tool.objects.filter(mcp_server=server)}


def test_syncing_a_server_lists_its_tools_as_tools_of_its_department(tenant_a, tenant_b, fake_mcp):
    server = _server(tenant_a.department, fake_mcp.url)
    tools = _synced(server)
    assert sorted(tools) == ["broken", "case_status", "echo", "environment", "slow"]
    status = tools["case_status"]
    assert status.department == tenant_a.department and status.is_mcp and not status.is_http and status.is_active
    assert status.description == "按案件编号查询案件办理进度。"
    assert status.parameters_schema["required"] == ["case_no"]
    assert set(status.parameters_schema["properties"]) == {"case_no", "phone", "region"}
    assert status.function_name.startswith(f"mcp{server.pk}_") and status.function_name.endswith("case_status")
    # Tools of A's server are A's: B's admins and agents never see them.
    assert not Tool.objects.restrict(tenant_b.admin, "use").filter(mcp_server=server).exists()

    # Synced again after the admin fixed an argument and one tool disappeared from the server.
    status.fixed_arguments = {"region": "示范区"}
    status.save()
    Tool.objects.filter(pk=tools["echo"].pk).update(mcp_tool_name="retired_tool")
    ok, message = mcp_server_sync(server=server)
    assert ok and "新增 1 个" in message and "停用 1 个" in message
    assert Tool.objects.get(pk=status.pk).fixed_arguments == {"region": "示范区"}
    assert not Tool.objects.get(pk=tools["echo"].pk).is_active
    server.refresh_from_db()
    assert server.synced_at and server.sync_message == message


def test_an_agent_calls_an_mcp_tool_with_placeholders_never_unmasked_and_fixed_arguments(
    tenant_a, tenant_b, fake_openai, fake_mcp
):
    server = _server(tenant_a.department, fake_mcp.url, auth_header_value="Bearer mcp-secret-1")
    status = _synced(server)["case_status"]
    status.fixed_arguments = {"region": "示范区"}
    status.save()
    agent = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), tools=[status]
    )
    call = {
        "name": status.function_name,
        "arguments": {"case_no": "A-2026-17", "phone": "【手机号1】", "region": "别处"},
    }
    fake_openai.script(Reply(text="", tool_calls=[call]), Reply(text="案件A-2026-17已受理。"))

    run = run_execute(principal=tenant_a.staff, agent=agent, message=f"我的案件A-2026-17办得怎样？电话{PHONE}")

    assert run.status == Run.Status.SUCCEEDED and run.answer == "案件A-2026-17已受理。"
    # The model was offered the tool without its fixed argument, and the MCP server got the placeholder.
    offered = {t["function"]["name"]: t["function"] for t in fake_openai.chat_requests[0]["body"]["tools"]}
    assert set(offered[status.function_name]["parameters"]["properties"]) == {"case_no", "phone"}
    assert fake_mcp.calls == [("case_status", {"case_no": "A-2026-17", "phone": "【手机号1】", "region": "示范区"})]
    assert PHONE not in str(fake_mcp.calls) and PHONE not in str(fake_openai.chat_requests)
    assert any(h.get("authorization") == "Bearer mcp-secret-1" for h in fake_mcp.headers)
    # The trace records the call; personal data in the result is masked before the model sees it.
    step = run.steps[0]
    assert step["tool"] == status.function_name and step["ok"] and step["arguments"]["case_no"] == "A-2026-17"
    assert step["result"]["status"] == "已受理" and "13912345678" not in str(step)
    tool_message = fake_openai.chat_requests[1]["body"]["messages"][-1]
    assert tool_message["role"] == "tool" and "已受理" in tool_message["content"]
    assert "13912345678" not in tool_message["content"] and "【手机号" in tool_message["content"]


def test_a_failing_mcp_tool_and_a_destination_off_the_allow_list_are_told_to_the_model(
    tenant_a, tenant_b, fake_openai, fake_mcp
):
    server = _server(tenant_a.department, fake_mcp.url)
    broken = _synced(server)["broken"]
    elsewhere = _server(tenant_a.department, fake_mcp.url.replace("127.0.0.1", "127.0.0.2"), name="别处")
    echo = Tool.objects.create(
        department=tenant_a.department,
        mcp_server=elsewhere,
        mcp_tool_name="echo",
        name="别处 · echo",
        function_name="mcp_elsewhere_echo",
        description="回显",
        parameters_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    )
    agent = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), tools=[broken, echo]
    )
    fake_openai.script(
        Reply(
            text="",
            tool_calls=[
                {"name": broken.function_name, "arguments": {"reason": "试"}},
                {"name": echo.function_name, "arguments": {"text": "你好"}},
            ],
        ),
        Reply(text="暂时查不到。"),
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="查一下")

    assert run.status == Run.Status.SUCCEEDED and run.answer == "暂时查不到。"
    failed, denied = run.steps
    assert not failed["ok"] and "数据源暂不可用" in failed["error"]
    assert not denied["ok"] and "出网访问被拒绝" in denied["error"]
    assert [name for name, _args in fake_mcp.calls] == ["broken"]  # nothing reached the address not allowed
    assert "出网访问被拒绝" in fake_openai.chat_requests[1]["body"]["messages"][-1]["content"]


def test_a_server_that_does_not_answer_in_time_is_cut_off_with_a_clear_error(tenant_a, tenant_b, fake_mcp):
    from agents.mcp.client import mcp_tool_call

    server = _server(tenant_a.department, fake_mcp.url, timeout_seconds=1)
    result = mcp_tool_call(server=server, name="slow", arguments={"seconds": 4})
    assert not result.ok and result.error == "MCP 服务器在 1 秒内没有完成响应，已中止。"


def test_the_servers_auth_header_is_encrypted_at_rest(tenant_a, tenant_b, fake_mcp):
    server = _server(tenant_a.department, fake_mcp.url, auth_header_value="Bearer mcp-secret-2")
    with connection.cursor() as cursor:
        cursor.execute("SELECT auth_header_value FROM agents_mcpserver WHERE id = %s", [server.pk])
        stored = cursor.fetchone()[0]
    assert stored and "mcp-secret-2" not in stored
    assert McpServer.objects.get(pk=server.pk).auth_header_value == "Bearer mcp-secret-2"


def test_a_stdio_server_runs_the_command_a_platform_admin_configured(tenant_a, tenant_b, fake_openai):
    server = McpServer.objects.create(
        department=None, name="本地工具", transport=McpServer.Transport.STDIO, command=stdio_command()
    )
    echo = _synced(server)["echo"]
    agent = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), tools=[echo]
    )
    fake_openai.script(
        Reply(text="", tool_calls=[{"name": echo.function_name, "arguments": {"text": "测试"}}]), Reply(text="好的。")
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="回显")
    assert run.steps[0]["ok"] and "收到：测试" in run.steps[0]["content"]


def test_a_stdio_command_gets_none_of_the_platforms_environment(tenant_a, tenant_b, monkeypatch):
    from agents.mcp.client import mcp_tool_call

    monkeypatch.setenv("SHUZHI_TEST_SECRET", "do-not-pass-on")
    server = McpServer.objects.create(department=None, name="本地", transport="stdio", command=stdio_command())
    result = mcp_tool_call(server=server, name="environment", arguments={})
    names = set(result.content.split())
    assert result.ok and "PATH" in names
    assert not names & {"SHUZHI_TEST_SECRET", "DJANGO_SECRET_KEY", "DATABASE_URL", "OPENAI_API_KEY"}


def test_a_stdio_server_must_be_platform_wide(tenant_a, tenant_b):
    from django.core.exceptions import ValidationError

    server = McpServer(department=tenant_a.department, name="本地", transport="stdio", command="/bin/true")
    with pytest.raises(ValidationError) as caught:
        server.full_clean()
    assert "平台管理员" in str(caught.value)


def test_the_allow_list_is_checked_when_a_server_is_synced(tenant_a, tenant_b, fake_mcp):
    AllowedHost.objects.filter(pattern="127.0.0.1").delete()
    server = _server(tenant_a.department, fake_mcp.url)
    ok, message = mcp_server_sync(server=server)
    assert not ok and "出网访问被拒绝" in message
    assert not Tool.objects.filter(mcp_server=server).exists() and not fake_mcp.calls
