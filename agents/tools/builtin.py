"""The built-in tools every department can give its agents.

Each entry is what the model sees (a name, a description, JSON-schema parameters) plus what an
admin sees. Their behaviour runs in the runtime; here they are declared, configurable and valid.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

BUILTIN_TOOLS: dict[str, dict] = {
    "knowledge_search": {
        "name": _("知识库检索"),
        "description": _("在智能体关联的知识库中检索与问题最相关的段落，返回内容与出处。"),
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "检索问题"},
                "top_k": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
            },
            "required": ["query"],
        },
    },
    "mask_personal_data": {
        "name": _("个人信息脱敏"),
        "description": _("把文本中的身份证号、手机号、银行卡号、邮箱、车牌和详细地址替换为占位符。"),
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    },
    "document_format_check": {
        "name": _("公文格式检查"),
        "description": _(
            "按 GB/T 9704《党政机关公文格式》检查公文的标题、文号、主送机关、正文层次、落款和日期等要素。"
        ),
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}, "doc_type": {"type": "string"}},
            "required": ["text"],
        },
    },
    "ticket_classify": {
        "name": _("工单分类"),
        "description": _("根据已标注的历史工单，给出最相近的类别和承办部门建议。"),
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}, "top_k": {"type": "integer", "minimum": 1, "maximum": 10}},
            "required": ["text"],
        },
    },
    "extract_fields": {
        "name": _("结构化字段抽取"),
        "description": _("按给定的 JSON Schema 从文本中抽取字段。"),
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}, "schema": {"type": "object"}},
            "required": ["text", "schema"],
        },
    },
    "current_datetime": {
        "name": _("当前日期时间"),
        "description": _("返回当前的日期、时间和星期（北京时间）。"),
        "parameters": {"type": "object", "properties": {}},
    },
}

HTTP_TOOL_KIND = "http"


def builtin_keys() -> list[str]:
    return list(BUILTIN_TOOLS)
