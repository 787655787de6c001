"""The messages sent to the model: the published template filled with the caller's form values,
the retrieved passages to cite, the conversation so far, attachments and the question."""

from __future__ import annotations

import json

from django.utils.translation import gettext as _

from ..prompts.templates import render

KNOWLEDGE_CHARS = 8000  # passages beyond this are left out of the prompt (they stay in the trace)
ATTACHMENT_CHARS = 20000
HISTORY_TURNS = 6
HISTORY_CHARS = 6000


class RunInputInvalid(ValueError):
    """The caller's input cannot run: a sentence (or several) in the caller's language."""


def form_render(*, snapshot: dict, values: dict) -> str:
    """The template body with the form values in place; RunInputInvalid lists what is wrong."""
    template = snapshot["template"]
    unknown = sorted(set(values or {}) - {v["name"] for v in template["variables"]})
    if unknown:
        raise RunInputInvalid(_("表单中有未定义的字段：%(names)s。") % {"names": "、".join(unknown)})
    try:
        return render(template["body"], template["variables"], values or {})
    except ValueError as exc:
        raise RunInputInvalid(str(exc)) from None


def knowledge_block(hits: list[dict]) -> str:
    if not hits:
        return ""
    lines = [
        _(
            "以下是从知识库检索到的参考资料。回答时依据这些资料，在引用处用 [编号] 标注出处；"
            "资料中没有的内容不要编造，可以说明资料未涉及。"
        )
    ]
    used = 0
    for hit in hits:
        piece = f"[{hit['n']}] {hit['citation']}\n{hit['text']}"
        if used + len(piece) > KNOWLEDGE_CHARS and used:
            break
        lines.append(piece)
        used += len(piece)
    return "\n\n".join(lines)


def structured_instructions(schema: dict) -> str:
    return _("只输出一个符合下列 JSON Schema 的 JSON 对象，不要输出解释、代码块标记或其他文字：\n%(schema)s") % {
        "schema": json.dumps(schema, ensure_ascii=False)
    }


def attachments_block(attachments: list[dict]) -> str:
    parts = []
    used = 0
    for item in attachments:
        text = item.get("text") or ""
        room = ATTACHMENT_CHARS - used
        if room <= 0:
            break
        parts.append(_("附件《%(name)s》：\n%(text)s") % {"name": item.get("name", ""), "text": text[:room]})
        used += min(len(text), room)
    return "\n\n".join(parts)


def build_messages(
    *,
    system_text: str,
    snapshot: dict,
    hits: list[dict],
    history: list[tuple[str, str]],
    question: str,
    attachments: list[dict],
) -> list[dict]:
    """OpenAI chat messages. Every text handed in is already masked."""
    system_parts = [system_text.strip()]
    knowledge = knowledge_block(hits)
    if knowledge:
        system_parts.append(knowledge)
    output = snapshot.get("output") or {}
    if output.get("mode") == "structured" and output.get("schema"):
        system_parts.append(structured_instructions(output["schema"]))
    messages = [{"role": "system", "content": "\n\n".join(p for p in system_parts if p)}]
    budget = HISTORY_CHARS
    kept: list[dict] = []
    for asked, answered in reversed(history[-HISTORY_TURNS:]):
        size = len(asked) + len(answered)
        if size > budget and kept:
            break
        budget -= size
        kept[:0] = [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
    messages.extend(kept)
    user_parts = []
    files = attachments_block(attachments)
    if files:
        user_parts.append(files)
    user_parts.append(question.strip() or _("请根据以上要求和材料完成任务。"))
    messages.append({"role": "user", "content": "\n\n".join(user_parts)})
    return messages
