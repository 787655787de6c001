"""Builders for agent-builder objects in a department."""

from __future__ import annotations

import itertools

from agents.builder.services import builtin_tools_sync
from agents.models import (
    Agent,
    AllowedHost,
    Document,
    KnowledgeBase,
    ModelEndpoint,
    PromptTemplate,
    PromptVariable,
    SensitiveWordList,
    Tool,
)

_n = itertools.count(1)
ALLOWED_HOST = "api.allowed.example"


def make_endpoint(department, base_url="http://10.0.0.8:8000/v1", models="fake-chat", **extra) -> ModelEndpoint:
    return ModelEndpoint.objects.create(
        department=department, name=f"模型服务{next(_n)}", base_url=base_url, model_names=models, **extra
    )


def make_template(department, body="你是{{ org }}的助手。请处理：{{ task }}", variables=None) -> PromptTemplate:
    template = PromptTemplate.objects.create(department=department, name=f"模板{next(_n)}", body=body)
    for i, v in enumerate(
        variables
        if variables is not None
        else [
            {"name": "org", "label": "单位", "type": "short_text", "example": "示范区应急管理局"},
            {"name": "task", "label": "事项", "type": "long_text", "example": "起草防汛通知"},
        ]
    ):
        PromptVariable.objects.create(template=template, position=i, **v)
    return template


def make_http_tool(department, **extra) -> Tool:
    AllowedHost.objects.get_or_create(pattern=ALLOWED_HOST)
    return Tool.objects.create(
        department=department,
        name=f"天气查询{next(_n)}",
        function_name=f"weather_{next(_n)}",
        description="查询天气",
        http_method="GET",
        url_template=f"https://{ALLOWED_HOST}/weather?city={{city}}",
        parameters_schema={"type": "object", "properties": {"city": {"type": "string"}}},
        **extra,
    )


def make_agent(department, **extra) -> Agent:
    builtin_tools_sync()
    template = extra.pop("template", None) or make_template(department)
    agent = Agent.objects.create(
        department=department,
        name=extra.pop("name", f"智能体{next(_n)}"),
        slug=f"agent-{next(_n)}",
        template=template,
        **extra,
    )
    return agent


def make_word_list(department) -> SensitiveWordList:
    return SensitiveWordList.objects.create(department=department, name=f"词表{next(_n)}", words="敏感词甲\n敏感词乙")


def make_knowledge_base(department) -> KnowledgeBase:
    return KnowledgeBase.objects.create(department=department, name=f"知识库{next(_n)}")


def make_document(
    knowledge_base, title="文档", text="第一条 为规范管理，制定本办法。", name="policy.txt", **extra
) -> Document:
    """A document record with its file stored (not ingested)."""
    import hashlib

    from django.core.files.base import ContentFile

    data = text.encode()
    document = Document(
        knowledge_base=knowledge_base,
        title=title,
        original_name=name,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        **extra,
    )
    document.file.save(name, ContentFile(data), save=False)
    document.save()
    return document
