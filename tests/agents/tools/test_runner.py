"""Running tool calls end to end: every built-in tool on real data (database, retrieval, masking), HTTP tools
through the executor, and every kind of bad call coming back as a Chinese error the model can act on."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest

from agents.builder.services import builtin_tools_sync
from agents.knowledge.ingestion import document_ingest
from agents.models import AllowedHost, Tool
from agents.privacy.masking import Masker
from agents.tools.builtin import BUILTIN_TOOLS
from agents.tools.runner import ToolContext, ToolOutcome, tool_definitions, tool_execute
from tests.agents.factories import make_document, make_knowledge_base
from tests.agents.tools.test_doc_format import NOTICE
from tests.fakes.web_server import WebServer

MOBILE = "13912345678"
POLICY = f"""示范区高层次人才安居补贴办法

第一条 博士研究生学历人才，给予每人30万元安居补贴，分三年发放。
第二条 硕士研究生学历人才，给予每人10万元安居补贴，分两年发放。
第三条 咨询电话：{MOBILE}（区人才服务中心）。
"""
OTHER_POLICY = "示范区人才公寓管理办法\n\n第一条 博士研究生学历人才可申请人才公寓，租金减半，安居补贴另行发放。\n"


def builtin(key: str) -> Tool:
    builtin_tools_sync()
    return Tool.objects.get(builtin=key, department=None)


def context(tenant, **extra) -> ToolContext:
    return ToolContext(
        department_id=tenant.department.pk,
        principal=tenant.staff,
        knowledge_base_ids=extra.pop("knowledge_base_ids", []),
        masker=extra.pop("masker", Masker()),
        **extra,
    )


def run(key: str, arguments, ctx: ToolContext) -> ToolOutcome:
    outcome = tool_execute(tool=builtin(key), arguments=arguments, context=ctx)
    assert isinstance(outcome.elapsed_ms, int) and outcome.elapsed_ms >= 0
    json.dumps(outcome.data)  # what the trace records is JSON
    return outcome


def test_the_builtin_tools_are_offered_to_the_model_with_valid_schemas(tenant_a, tenant_b):
    builtin_tools_sync()
    tools = list(Tool.objects.filter(department=None).exclude(builtin=""))
    assert {t.builtin for t in tools} == set(BUILTIN_TOOLS)
    definitions = tool_definitions(tools)
    assert len(definitions) == len(BUILTIN_TOOLS)
    for definition, tool in zip(definitions, tools, strict=True):
        assert definition["type"] == "function"
        function = definition["function"]
        assert function["name"] == tool.function_name and function["description"] == tool.description
        jsonschema.Draft202012Validator.check_schema(function["parameters"])
        assert function["parameters"]["type"] == "object"


# --------------------------------------------------------------------------- knowledge_search


def ingested(kb, title, text):
    document = make_document(kb, title=title, text=text, number="示人社发〔2025〕3号")
    assert document_ingest(document_id=document.pk) == "ready"
    return document


def test_knowledge_search_returns_numbered_passages_with_citations_masked(tenant_a, tenant_b):
    kb = make_knowledge_base(tenant_a.department)
    document = ingested(kb, "高层次人才安居补贴办法", POLICY)
    elsewhere = make_knowledge_base(tenant_b.department)  # not among the agent's knowledge bases
    ingested(elsewhere, "乙局人才公寓办法", OTHER_POLICY)
    masker = Masker()
    outcome = run(
        "knowledge_search",
        {"query": "博士安居补贴多少钱，咨询电话是多少", "top_k": 3},
        context(tenant_a, knowledge_base_ids=[kb.pk], masker=masker),
    )
    assert outcome.ok and outcome.error == ""
    content = json.loads(outcome.content)
    passages = content["passages"]
    assert passages and passages[0]["n"] == 1
    assert all(p["citation"].startswith("《高层次人才安居补贴办法》 （示人社发〔2025〕3号）") for p in passages), (
        passages
    )
    assert "30万元" in " ".join(p["text"] for p in passages)
    assert MOBILE not in outcome.content and MOBILE not in json.dumps(outcome.data, ensure_ascii=False)
    assert "【手机号1】" in outcome.content and masker.mapping["【手机号1】"] == MOBILE  # recoverable
    citation = outcome.citations[0]
    assert citation["document_id"] == document.pk and citation["knowledge_base_id"] == kb.pk
    assert citation["document_title"] == "高层次人才安居补贴办法"
    assert set(citation) >= {"passage_id", "citation", "snippet", "score"}
    assert MOBILE not in json.dumps(outcome.citations, ensure_ascii=False)
    assert "人才公寓" not in outcome.content  # the other department's knowledge base was not searched


def test_knowledge_search_without_masking_shows_the_text_as_stored(tenant_a, tenant_b):
    kb = make_knowledge_base(tenant_a.department)
    ingested(kb, "高层次人才安居补贴办法", POLICY)
    outcome = run("knowledge_search", {"query": "咨询电话"}, context(tenant_a, knowledge_base_ids=[kb.pk], masker=None))
    assert outcome.ok and MOBILE in outcome.content


def test_knowledge_search_with_nothing_to_search(tenant_a, tenant_b):
    outcome = run("knowledge_search", {"query": "补贴"}, context(tenant_a))
    assert not outcome.ok and "没有可检索的知识库" in outcome.error
    kb = make_knowledge_base(tenant_a.department)
    ingested(kb, "高层次人才安居补贴办法", POLICY)
    found = run("knowledge_search", {"query": "   "}, context(tenant_a, knowledge_base_ids=[kb.pk]))
    assert not found.ok and "不能为空" in found.error


# --------------------------------------------------------------------------- mask_personal_data


def test_masking_returns_masked_text_and_counts_never_the_values(tenant_a, tenant_b):
    text = f"来电人张先生，手机{MOBILE}，备用手机139 1234 5678，住幸福路88号3单元，邮箱zhang@example.com。"
    masker = Masker()
    outcome = run("mask_personal_data", {"text": text}, context(tenant_a, masker=masker))
    assert outcome.ok
    content = json.loads(outcome.content)
    assert content["text"] == "来电人张先生，手机【手机号1】，备用手机【手机号1】，住【地址1】，邮箱【邮箱1】。"
    assert content["counts"] == {"手机号": 1, "邮箱": 1, "地址": 1}
    assert outcome.data == {"text": content["text"], "counts": {"mobile": 1, "email": 1, "address": 1}, "total": 3}
    for value in (MOBILE, "139 1234 5678", "zhang@example.com", "幸福路88号"):
        assert value not in outcome.content and value not in json.dumps(outcome.data, ensure_ascii=False)
    # The run's masker keeps the originals, so the same number later gets the same placeholder.
    assert masker.mask(f"再打{MOBILE}") == "再打【手机号1】"


def test_masking_works_when_the_agent_does_not_mask_by_itself(tenant_a, tenant_b):
    outcome = run("mask_personal_data", {"text": f"电话{MOBILE}"}, context(tenant_a, masker=None))
    assert json.loads(outcome.content)["text"] == "电话【手机号1】" and MOBILE not in outcome.content


# --------------------------------------------------------------------------- document_format_check


def test_format_check_through_the_runner(tenant_a, tenant_b):
    clean = run("document_format_check", {"text": NOTICE}, context(tenant_a))
    assert clean.ok and clean.data["problems"] == [] and "未发现" in json.loads(clean.content)["summary"]
    sloppy = NOTICE.replace("〔2025〕12号", "[2025]12号").replace("  2025年6月3日\n", "  2025年06月03日\n")
    outcome = run("document_format_check", json.dumps({"text": sloppy, "doc_type": "通知"}), context(tenant_a))
    assert outcome.ok
    assert [p["code"] for p in outcome.data["problems"]] == ["number.brackets", "date.leading_zero"]
    assert outcome.data["errors"] == 2 and outcome.data["warnings"] == 0
    shown = json.loads(outcome.content)["problems"]
    assert [(p["line"], p["column"]) for p in shown] == [(3, 5), (31, 43)]
    assert shown[1]["suggestion"] == "2025年6月3日" and "虚位" in shown[1]["message"]


# --------------------------------------------------------------------------- ticket_classify


def test_ticket_classification_with_and_without_a_model(tenant_a, tenant_b):
    ticket = f"幸福小区门口的垃圾桶一个星期没人清运了，臭气熏天，我的电话{MOBILE}。"
    outcome = run("ticket_classify", {"text": ticket}, context(tenant_a))
    assert outcome.ok
    content = json.loads(outcome.content)
    assert content["category"] == "市容环境" and "环境卫生" in content["department"]
    assert len(content["candidates"]) == 3 and content["decided_by"] == "按与已标注工单的相似度"
    assert outcome.data["method"] == "embedding"

    prompts = []

    def model(messages):
        prompts.append(messages)
        return outcome.data["candidates"][1]["category"]

    chosen = run("ticket_classify", {"text": ticket, "top_k": 2}, context(tenant_a, complete=model))
    assert chosen.data["method"] == "model"
    assert json.loads(chosen.content)["category"] == outcome.data["candidates"][1]["category"]
    assert len(prompts) == 1


# --------------------------------------------------------------------------- extract_fields

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "phone": {"type": "string"},
        "amount": {"type": "number"},
    },
    "required": ["name", "amount"],
    "additionalProperties": False,
}
TRANSCRIPT = "当事人王五，联系电话【手机号1】，被拖欠工资12000元。"


class Model:
    """Stands in for the agent's language model: gives canned answers in turn and records the prompts."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls: list[list[dict]] = []

    def __call__(self, messages):
        self.calls.append(messages)
        return self.answers.pop(0)


def test_extract_fields_needs_a_model(tenant_a, tenant_b):
    outcome = run("extract_fields", {"text": TRANSCRIPT, "schema": SCHEMA}, context(tenant_a))
    assert not outcome.ok and "需要连接大语言模型" in outcome.error
    assert json.loads(outcome.content) == {"error": outcome.error}


def test_extract_fields_validates_the_models_answer(tenant_a, tenant_b):
    model = Model('```json\n{"name": "王五", "phone": "【手机号1】", "amount": 12000}\n```')
    outcome = run("extract_fields", {"text": TRANSCRIPT, "schema": SCHEMA}, context(tenant_a, complete=model))
    assert outcome.ok
    assert json.loads(outcome.content)["fields"] == {"name": "王五", "phone": "【手机号1】", "amount": 12000}
    assert outcome.data["attempts"] == 1
    (messages,) = model.calls
    assert TRANSCRIPT in messages[-1]["content"] and '"amount"' in messages[-1]["content"]


def test_extract_fields_repairs_once(tenant_a, tenant_b):
    model = Model('{"name": "王五", "amount": "一万二"}', '{"name": "王五", "amount": 12000}')
    outcome = run("extract_fields", {"text": TRANSCRIPT, "schema": SCHEMA}, context(tenant_a, complete=model))
    assert outcome.ok and outcome.data == {"fields": {"name": "王五", "amount": 12000}, "attempts": 2}
    repair = model.calls[1][-1]["content"]
    assert "amount" in repair and "数字" in repair  # the model is told what was wrong

    stubborn = Model("好的，当事人是王五。", '{"name": "王五"}')
    failed = run("extract_fields", {"text": TRANSCRIPT, "schema": SCHEMA}, context(tenant_a, complete=stubborn))
    assert not failed.ok and "amount" in failed.error and len(stubborn.calls) == 2


def test_extract_fields_rejects_an_invalid_schema(tenant_a, tenant_b):
    model = Model("{}")
    outcome = run(
        "extract_fields",
        {"text": TRANSCRIPT, "schema": {"type": "object", "properties": {"a": {"type": "no-such-type"}}}},
        context(tenant_a, complete=model),
    )
    assert not outcome.ok and "JSON Schema" in outcome.error and model.calls == []
    listing = run(
        "extract_fields", {"text": TRANSCRIPT, "schema": {"type": "array"}}, context(tenant_a, complete=model)
    )
    assert not listing.ok and "object" in listing.error and model.calls == []


# --------------------------------------------------------------------------- current_datetime


def test_current_datetime_is_beijing_time(tenant_a, tenant_b):
    outcome = run("current_datetime", {}, context(tenant_a, now=datetime(2025, 6, 30, 17, 5, tzinfo=UTC)))
    assert outcome.ok
    assert json.loads(outcome.content) == {
        "date": "2025-07-01",
        "time": "01:05:00",
        "weekday": "星期二",
        "datetime": "2025-07-01T01:05:00+08:00",
        "timezone": "Asia/Shanghai",
        "text": "2025年7月1日 星期二 01:05",
    }
    assert run("current_datetime", "", context(tenant_a)).ok  # no arguments at all is fine


# --------------------------------------------------------------------------- bad calls


@pytest.mark.parametrize(
    ("key", "arguments", "says"),
    [
        ("ticket_classify", '{"text": "路灯坏了"', "不是有效的 JSON"),
        ("ticket_classify", "[1, 2]", "JSON 对象"),
        ("ticket_classify", {}, "缺少必填参数“text”"),
        ("ticket_classify", {"text": 12345}, "参数“text”应为字符串"),
        ("ticket_classify", {"text": "路灯坏了", "top_k": 50}, "参数“top_k”不能大于 10"),
        ("knowledge_search", {"query": "补贴", "top_k": 0}, "参数“top_k”不能小于 1"),
        ("document_format_check", {"text": "x", "doc_type": "通知书"}, "参数“doc_type”只能取以下值之一"),
        ("extract_fields", {"text": "x", "schema": "name,phone"}, "参数“schema”应为对象"),
    ],
)
def test_bad_arguments_come_back_as_errors_the_model_can_read(tenant_a, tenant_b, key, arguments, says):
    outcome = run(key, arguments, context(tenant_a))
    assert not outcome.ok and says in outcome.error
    assert json.loads(outcome.content) == {"error": outcome.error}


def test_switched_off_and_unknown_tools(tenant_a, tenant_b):
    tool = builtin("current_datetime")
    tool.is_active = False
    outcome = tool_execute(tool=tool, arguments={}, context=context(tenant_a))
    assert not outcome.ok and "已停用" in outcome.error
    ghost = Tool(builtin="teleport", name="传送", function_name="teleport", description="")
    outcome = tool_execute(tool=ghost, arguments={}, context=context(tenant_a))
    assert not outcome.ok and "未知的内置工具" in outcome.error


# --------------------------------------------------------------------------- HTTP tools


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


def http_tool(department, path) -> Tool:
    return Tool.objects.create(
        department=department,
        name="工单查询",
        function_name="ticket_lookup",
        description="按编号查询工单",
        http_method="GET",
        url_template=path,
        parameters_schema={
            "type": "object",
            "properties": {"number": {"type": "string", "pattern": "^[0-9]{6}$"}, "caller": {"type": "string"}},
            "required": ["number"],
        },
        timeout_seconds=5,
    )


def test_http_tools_go_through_the_executor_and_their_answers_are_masked(tenant_a, tenant_b, web):
    tool = http_tool(tenant_a.department, web.url("/json/tickets/{number}"))
    masker = Masker()
    outcome = tool_execute(
        tool=tool, arguments={"number": "202501", "caller": MOBILE}, context=context(tenant_a, masker=masker)
    )
    assert outcome.ok and web.requests[-1]["path"] == "/json/tickets/202501"
    assert web.requests[-1]["query"] == {"caller": MOBILE}  # the service gets what the model sent
    assert "202501" in outcome.content
    assert MOBILE not in outcome.content and MOBILE not in json.dumps(outcome.data, ensure_ascii=False)
    assert "【手机号1】" in outcome.content
    assert tool_definitions([tool])[0]["function"]["parameters"] == tool.parameters_schema


def test_http_tool_arguments_are_validated_before_any_request(tenant_a, tenant_b, web):
    tool = http_tool(tenant_a.department, web.url("/json/tickets/{number}"))
    outcome = tool_execute(tool=tool, arguments={"number": "12"}, context=context(tenant_a))
    assert not outcome.ok and "number" in outcome.error and web.requests == []


def test_http_tool_failures_come_back_as_errors(tenant_a, tenant_b, web):
    tool = http_tool(tenant_a.department, web.url("/status/503?n={number}"))
    outcome = tool_execute(tool=tool, arguments={"number": "202501"}, context=context(tenant_a))
    assert not outcome.ok and "503" in outcome.error
