"""Published agents, knowledge bases and the fake model endpoint for the runtime tests."""

from __future__ import annotations

from agents.builder.services import agent_publish, builtin_tools_sync
from agents.knowledge.ingestion import document_ingest
from agents.models import AllowedHost, Tool
from agents.privacy.detectors import id_check_char
from tests.agents.factories import make_agent, make_document, make_endpoint, make_knowledge_base, make_template

POLICY = (
    "第一条 博士研究生来本区工作的，给予每人每月3000元安居补贴，最长发放36个月。\n"
    "第二条 申请安居补贴需提交学位证书、劳动合同和社保缴纳证明。\n"
)
PLAIN_TEMPLATE = {"body": "你是示范区的政策咨询助手。", "variables": []}


def valid_id_number(first17: str = "11010119900307123") -> str:
    return first17 + id_check_char(first17)


def model_endpoint(department, fake, **extra):
    """A chat endpoint on the loopback fake server (allow-listed, as a platform admin would)."""
    AllowedHost.objects.get_or_create(pattern="127.0.0.1")
    return make_endpoint(department, base_url=fake.base_url, models="fake-chat", **extra)


def policy_knowledge_base(department, text: str = POLICY, title: str = "人才安居补贴办法"):
    kb = make_knowledge_base(department)
    document = make_document(kb, title=title, text=text, number="示人社〔2025〕3号")
    document_ingest(document_id=document.pk)
    return kb


def published_agent(department, *, endpoint=None, knowledge_bases=(), tools=(), template=None, **extra):
    """An agent every member of ``department`` may use, published."""
    builtin_tools_sync()
    template = template or make_template(department, **PLAIN_TEMPLATE)
    agent = make_agent(
        department,
        template=template,
        endpoint=endpoint,
        model_name="fake-chat" if endpoint else "",
        assign_all_members=True,
        **extra,
    )
    if knowledge_bases:
        agent.knowledge_bases.add(*knowledge_bases)
    for key in tools:
        agent.tools.add(Tool.objects.get(builtin=key) if isinstance(key, str) else key)
    agent_publish(agent=agent, user=None)
    agent.refresh_from_db()
    return agent
