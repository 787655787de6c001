"""The built-in tools every department can give its agents.

Each entry is what the model sees (a name, a description, JSON-schema parameters) plus what an
admin sees. ``agents.tools.handlers`` implements them and ``agents.tools.runner`` runs them; the
parameters here are also what the model's arguments are validated against.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .doc_format import DOC_TYPES

BUILTIN_TOOLS: dict[str, dict] = {
    "knowledge_search": {
        "name": _("知识库检索"),
        "description": _("在智能体关联的知识库中检索与问题最相关的段落，返回内容与出处。"),
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "description": "检索问题，用完整的一句话描述要查找的内容"},
                "top_k": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5, "description": "返回段落数"},
            },
            "required": ["query"],
        },
    },
    "mask_personal_data": {
        "name": _("个人信息脱敏"),
        "description": _(
            "把文本中的身份证号、手机号、固定电话、银行卡号、邮箱、车牌和详细地址替换为占位符，返回脱敏后的文本和各类数量。"
        ),
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string", "description": "要脱敏的文本"}},
            "required": ["text"],
        },
    },
    "document_format_check": {
        "name": _("公文格式检查"),
        "description": _(
            "按 GB/T 9704-2012《党政机关公文格式》检查公文的标题、发文字号、主送机关、结构层次序数、附件说明、"
            "成文日期和版记，逐条给出问题所在的行、列和修改建议。不需要大语言模型。"
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1, "description": "公文全文（纯文本，保留换行）"},
                "doc_type": {
                    "type": "string",
                    "enum": list(DOC_TYPES),
                    "description": "文种（可选），不填时按标题末尾判断",
                },
            },
            "required": ["text"],
        },
    },
    "ticket_classify": {
        "name": _("工单分类"),
        "description": _("根据已标注的 12345 热线工单样例，给出工单最可能的类别和建议承办部门，并列出相近的候选类别。"),
        "parameters": {
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1, "description": "工单内容（市民诉求）"},
                "top_k": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3, "description": "候选类别数"},
            },
            "required": ["text"],
        },
    },
    "extract_fields": {
        "name": _("结构化字段抽取"),
        "description": _("按给定的 JSON Schema 从文本中抽取字段，返回校验通过的 JSON。需要连接大语言模型。"),
        "parameters": {
            "type": "object",
            "properties": {
                "text": {"type": "string", "description": "要从中抽取字段的文本"},
                "schema": {"type": "object", "description": "要抽取的字段（JSON Schema，type 为 object）"},
            },
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
