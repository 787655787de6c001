"""The HTTP tool: safe URL filling, the secret header, parsed answers, and failures the model can read."""

from __future__ import annotations

import json
import logging

import pytest

from agents.models import AllowedHost, Tool
from agents.tools.http import TEXT_LIMIT, http_tool_call
from tests.fakes.web_server import WebServer

SECRET = "tool-secret-7f3a"


@pytest.fixture(scope="module")
def _server():
    server = WebServer("127.0.0.1").start()
    yield server
    server.stop()


@pytest.fixture
def web(_server, db):
    _server.requests.clear()
    AllowedHost.objects.create(pattern="127.0.0.1")
    return _server


def make_tool(department, url_template, **extra) -> Tool:
    return Tool.objects.create(
        department=department,
        name="城市天气",
        function_name="weather",
        description="查询城市天气",
        http_method=extra.pop("http_method", "GET"),
        url_template=url_template,
        parameters_schema=extra.pop(
            "parameters_schema", {"type": "object", "properties": {"city": {"type": "string"}}}
        ),
        secret_header_name="X-Api-Key",
        secret_header_value=SECRET,
        timeout_seconds=extra.pop("timeout_seconds", 5),
        **extra,
    )


def test_a_get_call_fills_the_template_sends_the_secret_and_returns_parsed_json(tenant_a, tenant_b, web, caplog):
    caplog.set_level(logging.DEBUG)
    tool = make_tool(tenant_a.department, web.url("/json/weather/{city}?unit={unit}"))
    result = http_tool_call(tool=tool, arguments={"city": "北京 朝阳", "unit": "c&d=1", "days": 3, "hourly": True})
    assert result.ok and result.status == 200 and result.error == ""
    seen = web.requests[-1]
    assert seen["path"] == "/json/weather/北京 朝阳"
    assert seen["query"] == {"unit": "c&d=1", "days": "3", "hourly": "true"}
    assert seen["headers"]["x-api-key"] == SECRET
    assert result.data["path"] == "/json/weather/北京 朝阳"  # the JSON answer came back parsed
    assert isinstance(result.elapsed_ms, int) and result.elapsed_ms >= 0
    assert "北京" in result.for_model()
    assert SECRET not in result.url and SECRET not in caplog.text


def test_a_post_call_sends_the_remaining_arguments_as_json(tenant_a, tenant_b, web):
    tool = make_tool(tenant_a.department, web.url("/json/tickets/{city}"), http_method="POST")
    result = http_tool_call(tool=tool, arguments={"city": "sh", "title": "路灯不亮", "tags": ["市政", "夜间"]})
    assert result.ok
    assert web.requests[-1]["method"] == "POST"
    assert json.loads(web.requests[-1]["body"]) == {"title": "路灯不亮", "tags": ["市政", "夜间"]}


@pytest.mark.parametrize("value", ["x@evil.example/", "127.0.0.2:80/x", "a/b?c=d#e"])
def test_placeholder_values_cannot_change_the_host_or_the_path_shape(tenant_a, tenant_b, web, value):
    tool = make_tool(tenant_a.department, web.url("/json/items/{city}"))
    result = http_tool_call(tool=tool, arguments={"city": value})
    assert result.ok
    seen = web.requests[-1]
    assert seen["reached"] == "127.0.0.1" and seen["headers"]["host"] == f"127.0.0.1:{web.port}"
    assert seen["raw_path"].count("/") == 3  # the value stayed one path segment, its / and ? encoded
    assert seen["path"] == f"/json/items/{value}"


@pytest.mark.parametrize("value", ["..", ".", "../admin", "a/../../etc", "..\\x"])
def test_placeholder_values_cannot_climb_the_path(tenant_a, tenant_b, web, value):
    tool = make_tool(tenant_a.department, web.url("/json/items/{city}"))
    result = http_tool_call(tool=tool, arguments={"city": value})
    assert not result.ok and "路径跳转" in result.error and result.status is None
    assert web.requests == []


def test_templates_with_placeholders_in_the_host_are_refused(tenant_a, tenant_b, web):
    tool = make_tool(tenant_a.department, "http://{city}.gov.example/x")
    result = http_tool_call(tool=tool, arguments={"city": "127.0.0.1"})
    assert not result.ok and "主机" in result.error


def test_a_missing_argument_is_explained(tenant_a, tenant_b, web):
    tool = make_tool(tenant_a.department, web.url("/json/{city}"))
    result = http_tool_call(tool=tool, arguments={})
    assert not result.ok and "缺少参数 city" in result.error and result.error in result.for_model()
    assert web.requests == []


def test_text_answers_are_returned_and_long_ones_cut_for_the_model(tenant_a, tenant_b, web):
    short = http_tool_call(tool=make_tool(tenant_a.department, web.url("/text")), arguments={})
    assert short.ok and short.data == "今日晴，气温 20 度。" and not short.truncated
    long = http_tool_call(tool=make_tool(tenant_a.department, web.url(f"/text?n={TEXT_LIMIT * 2}")), arguments={})
    assert long.ok and long.truncated and long.data.endswith("已截断）")
    assert len(long.for_model()) < TEXT_LIMIT + 20


def test_error_statuses_come_back_as_results_with_the_body(tenant_a, tenant_b, web):
    result = http_tool_call(tool=make_tool(tenant_a.department, web.url("/status/404")), arguments={})
    assert not result.ok and result.status == 404
    assert result.error == "工具服务返回错误 404。"
    assert result.data["error"] == "找不到该城市"
    assert "找不到该城市" in result.for_model() and "404" in result.for_model()


def test_a_host_not_listed_is_refused_in_chinese(tenant_a, tenant_b, web):
    AllowedHost.objects.all().delete()
    result = http_tool_call(tool=make_tool(tenant_a.department, web.url("/json")), arguments={})
    assert not result.ok and result.status is None
    assert result.error.startswith("出网访问被拒绝") and "127.0.0.1" in result.error
    assert web.requests == []


def test_slow_and_oversized_answers_are_stopped(tenant_a, tenant_b, web, settings):
    slow = make_tool(tenant_a.department, web.url("/slow?every=0.2&count=40"), timeout_seconds=1)
    web.slow_finished = False
    result = http_tool_call(tool=slow, arguments={})
    assert not result.ok and result.error == "工具服务在 1 秒内没有完成响应，已中止。"
    assert not web.slow_finished
    settings.SHUZHI_TOOL_RESPONSE_MAX_BYTES = 2048
    big = http_tool_call(tool=make_tool(tenant_a.department, web.url("/big?n=5000")), arguments={})
    assert not big.ok and "过大" in big.error and "2 KB" in big.error


def test_a_tool_that_is_not_an_http_tool_says_so(tenant_a, tenant_b, web):
    from agents.builder.services import builtin_tools_sync

    builtin_tools_sync()
    builtin = Tool.objects.get(builtin="knowledge_search")
    result = http_tool_call(tool=builtin, arguments={"query": "x"})
    assert not result.ok and "不是 HTTP 工具" in result.error


def test_fixed_arguments_are_hidden_from_the_model_and_win_over_what_it_sends(tenant_a, tenant_b, web):
    from agents.tools.runner import ToolContext, tool_definitions, tool_execute

    tool = make_tool(
        tenant_a.department,
        web.url("/json/weather/{city}?unit={unit}"),
        parameters_schema={
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city", "unit"],
        },
        fixed_arguments={"unit": "c"},
    )
    offered = tool_definitions([tool])[0]["function"]["parameters"]
    assert set(offered["properties"]) == {"city"} and offered["required"] == ["city"]
    context = ToolContext(
        department_id=tenant_a.department.pk, principal=tenant_a.staff, knowledge_base_ids=[], masker=None
    )
    outcome = tool_execute(tool=tool, arguments={"city": "北京", "unit": "f"}, context=context)
    assert outcome.ok and web.requests[-1]["query"] == {"unit": "c"}
