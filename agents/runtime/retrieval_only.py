"""The answer when no chat model is connected: the best passages with their citations, and the
results of the agent's tools that need no language model, under a clear notice."""

from __future__ import annotations

from django.utils.translation import gettext as _

# Tools that work on the caller's text without a model; in retrieval-only mode they run directly on it.
DIRECT_TOOLS = ("document_format_check", "ticket_classify", "mask_personal_data")
PASSAGES_IN_FULL = 3
PASSAGE_CHARS = 700


def notice(*, has_knowledge: bool) -> str:
    if has_knowledge:
        return _(
            "> 提示：本智能体当前未连接大语言模型，以下内容直接摘自知识库（按相关度排序），"
            "不是模型生成的回答，请以原文为准。"
        )
    return _("> 提示：本智能体当前未连接大语言模型。")


def passages_text(hits: list[dict]) -> str:
    if not hits:
        return _("知识库中没有找到与问题相关的内容。可以换个说法，或使用更具体的关键词（如文件名称、事项名称）。")
    parts = [_("**最相关的内容**")]
    for hit in hits[:PASSAGES_IN_FULL]:
        text = hit["text"].strip()
        if len(text) > PASSAGE_CHARS:
            text = text[: PASSAGE_CHARS - 1] + "…"
        parts.append(f"[{hit['n']}] {hit['citation']}\n\n{text}")
    rest = hits[PASSAGES_IN_FULL:]
    if rest:
        parts.append(_("**其他相关出处**") + "\n" + "\n".join(f"- [{h['n']}] {h['citation']}" for h in rest))
    return "\n\n".join(parts)


def tool_text(step: dict) -> str:
    """A tool's result as readable text for the answer."""
    title = f"**{step['name']}**"
    if not step.get("ok"):
        return f"{title}\n\n{step.get('error') or _('工具运行失败。')}"
    data = step.get("result")
    key = step.get("builtin")
    if key == "document_format_check":
        return f"{title}\n\n{_format_problems(data)}"
    if key == "ticket_classify":
        return f"{title}\n\n{_ticket_candidates(data)}"
    if key == "mask_personal_data" and isinstance(data, dict) and "text" in data:
        return f"{title}\n\n{data['text']}"
    return f"{title}\n\n{step.get('content', '')}"


def _format_problems(data) -> str:
    problems = (data or {}).get("problems") if isinstance(data, dict) else None
    if not problems:
        return _("未发现格式问题。")
    lines = [_("发现 %(n)s 处格式问题：") % {"n": len(problems)}]
    for i, problem in enumerate(problems, 1):
        where = _("第 %(line)s 行") % {"line": problem.get("line")} if problem.get("line") else ""
        excerpt = f"“{problem['excerpt']}”" if problem.get("excerpt") else ""
        line = f"{i}. {where} {excerpt} {problem.get('message', '')}".replace("  ", " ").strip()
        if problem.get("suggestion"):
            line += " " + _("建议改为：%(s)s") % {"s": problem["suggestion"]}
        lines.append(line)
    return "\n".join(lines)


def _ticket_candidates(data) -> str:
    candidates = (data or {}).get("candidates") if isinstance(data, dict) else None
    if not candidates:
        return _("没有找到相近的工单类别。")
    lines = [
        _("建议类别：%(category)s；建议承办部门：%(department)s。")
        % {"category": data.get("category", ""), "department": data.get("department", "")},
        _("候选："),
    ]
    for i, c in enumerate(candidates, 1):
        department = c.get("department") or ""
        score = c.get("score")
        score_text = f"（{_('相似度')} {score:.2f}）" if isinstance(score, int | float) else ""
        lines.append(f"{i}. {c.get('category', '')} → {department}{score_text}")
    return "\n".join(lines)


def compose(*, hits: list[dict], tool_steps: list[dict], has_knowledge: bool) -> str:
    parts = [notice(has_knowledge=has_knowledge or not tool_steps)]
    parts.extend(tool_text(step) for step in tool_steps)
    if has_knowledge or not tool_steps:
        if has_knowledge:
            parts.append(passages_text(hits))
        else:
            parts.append(_("此智能体没有关联知识库，暂时无法回答。请联系部门管理员为它配置模型服务或知识库。"))
    return "\n\n".join(parts)
