"""What each built-in tool does. Every handler takes the validated arguments and the run's context and
returns a ``BuiltinResult`` (or raises ``ToolError`` with a sentence for the model); the runner masks
and serialises the result."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import jsonschema
from django.utils import timezone
from django.utils.translation import gettext as _

from ..knowledge.retrieval import retrieve
from ..models import KnowledgeBase
from ..privacy.detectors import PLACEHOLDER_LABELS, PLACEHOLDER_RE
from ..privacy.masking import Masker
from .common import BuiltinResult, ToolError, dumps, schema_error_message
from .doc_format import ERROR, format_check
from .tickets import ticket_classify

if TYPE_CHECKING:
    from .runner import ToolContext

logger = logging.getLogger(__name__)

PASSAGE_CHARS = 1200  # of one passage shown to the model
PROBLEMS_SHOWN = 60  # format problems listed for the model (all are counted)
BEIJING = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
_KIND_OF_LABEL = {label: kind for kind, label in PLACEHOLDER_LABELS.items()}


# --------------------------------------------------------------------------- knowledge_search


def knowledge_search(*, arguments: dict, context: ToolContext) -> BuiltinResult:
    query = arguments["query"].strip()
    if not query:
        raise ToolError(_("检索问题不能为空。"))
    if not context.knowledge_base_ids:
        raise ToolError(_("此智能体没有可检索的知识库。"))
    top_k = int(arguments.get("top_k") or 5)
    knowledge_bases = KnowledgeBase.objects.filter(pk__in=context.knowledge_base_ids)
    try:
        hits = retrieve(knowledge_bases=knowledge_bases, query=query, top_k=top_k)
    except Exception as exc:  # an embeddings endpoint down must not end the run; the model can go on without
        logger.warning("knowledge_search failed: %r", exc)
        raise ToolError(_("知识库检索暂时不可用，请稍后再试或直接回答。")) from exc
    passages, citations = [], []
    for n, hit in enumerate(hits, start=1):
        text = hit.text.strip()
        if len(text) > PASSAGE_CHARS:
            text = text[: PASSAGE_CHARS - 1] + "…"
        passages.append({"n": n, "citation": hit.citation, "text": text})
        citations.append(
            {
                "n": n,
                "passage_id": hit.passage_id,
                "document_id": hit.document_id,
                "document_title": hit.document_title,
                "citation": hit.citation,
                "snippet": hit.snippet(),
                "score": hit.score,
                "knowledge_base_id": hit.knowledge_base_id,
            }
            | ({} if hit.rerank_score is None else {"rerank_score": hit.rerank_score})
            | ({"approved_answer_id": hit.approved_answer_id} if hit.approved_answer_id else {})
        )
    content: dict = {"query": query, "passages": passages}
    if not passages:
        content["message"] = _("知识库中没有找到与检索问题相关的内容，可换个说法再检索。")
    else:
        content["instruction"] = _("回答时请用 [序号] 标注所依据的段落。")
    return BuiltinResult(content=content, data={"query": query, "hits": citations}, citations=citations)


# --------------------------------------------------------------------------- mask_personal_data


def mask_personal_data(*, arguments: dict, context: ToolContext) -> BuiltinResult:
    # The run's own masker, when it has one, so the placeholders agree with the rest of the conversation
    # and the originals stay recoverable for the people entitled to them.
    masker = context.masker or Masker()
    masked = masker.mask(arguments["text"])
    distinct = {m.group(0): _KIND_OF_LABEL[m.group(1)] for m in PLACEHOLDER_RE.finditer(masked)}
    counts = Counter(distinct.values())
    by_kind = {kind: counts[kind] for kind in PLACEHOLDER_LABELS if counts[kind]}
    by_label = {PLACEHOLDER_LABELS[kind]: n for kind, n in by_kind.items()}
    return BuiltinResult(
        content={"text": masked, "counts": by_label},
        data={"text": masked, "counts": by_kind, "total": sum(by_kind.values())},
    )


# --------------------------------------------------------------------------- document_format_check


def document_format_check(*, arguments: dict, context: ToolContext) -> BuiltinResult:
    problems = format_check(arguments["text"], doc_type=arguments.get("doc_type"))
    errors = sum(1 for p in problems if p.severity == ERROR)
    warnings = len(problems) - errors
    if problems:
        summary = _("发现 %(n)s 处格式问题（错误 %(e)s 处，提醒 %(w)s 处）。") % {
            "n": len(problems),
            "e": errors,
            "w": warnings,
        }
    else:
        summary = _("未发现格式问题。")
    shown = [
        {k: v for k, v in p.as_dict().items() if v not in ("", None) and k != "code"} for p in problems[:PROBLEMS_SHOWN]
    ]
    return BuiltinResult(
        content={"summary": summary, "problems": shown},
        data={"summary": summary, "errors": errors, "warnings": warnings, "problems": [p.as_dict() for p in problems]},
    )


# --------------------------------------------------------------------------- ticket_classify


def ticket_classify_tool(*, arguments: dict, context: ToolContext) -> BuiltinResult:
    text = arguments["text"].strip()
    if not text:
        raise ToolError(_("工单内容不能为空。"))
    result = ticket_classify(text=text, top_k=int(arguments.get("top_k") or 3), complete=context.complete)
    decided_by = _("模型在候选类别中选定") if result.method == "model" else _("按与已标注工单的相似度")
    content = {
        "category": result.category,
        "department": result.department,
        "decided_by": decided_by,
        "candidates": [
            {"category": c.category, "department": c.department, "score": c.score} for c in result.candidates
        ],
    }
    if result.note:
        content["note"] = result.note
    return BuiltinResult(content=content, data=result.as_dict())


# --------------------------------------------------------------------------- extract_fields

_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


def _json_object(answer: str) -> dict:
    """The JSON object in a model's answer (tolerating a Markdown fence or words around it)."""
    text = _FENCE.sub("", (answer or "").strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError(_("回答中没有 JSON 对象"))
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(_("JSON 格式错误（%(msg)s）") % {"msg": exc.msg}) from exc
    if not isinstance(value, dict):
        raise ValueError(_("回答不是 JSON 对象"))
    return value


def _checked(answer: str, validator) -> dict:
    value = _json_object(answer)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        raise ValueError(schema_error_message(error))
    return value


def extract_fields(*, arguments: dict, context: ToolContext) -> BuiltinResult:
    schema = arguments["schema"]
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ToolError(_("给定的字段定义不是有效的 JSON Schema：%(msg)s") % {"msg": exc.message}) from exc
    if schema.get("type", "object") != "object":
        raise ToolError(_("字段定义的 type 应为 object（抽取结果是一个 JSON 对象）。"))
    complete: Callable[[list[dict]], str] | None = context.complete
    if complete is None:
        raise ToolError(_("字段抽取需要连接大语言模型，当前智能体未连接模型，无法抽取。"))
    validator = validator_class(schema)
    messages = [
        {
            "role": "system",
            "content": "你是信息抽取助手。按给定的 JSON Schema 从文本中抽取字段，只输出一个 JSON 对象，"
            "不要输出解释或 Markdown。只抽取文本中明确写出的信息，不要编造；文本中没有的可选字段省略。",
        },
        {"role": "user", "content": f"JSON Schema：\n{dumps(schema)}\n\n文本：\n{arguments['text']}"},
    ]
    attempts = 0
    problem = ""
    while attempts < 2:  # the first answer, and one repair
        attempts += 1
        try:
            answer = complete(messages)
        except Exception as exc:
            logger.warning("extract_fields: model call failed: %r", exc)
            raise ToolError(_("调用模型抽取字段失败，请稍后再试。")) from exc
        try:
            fields = _checked(answer, validator)
        except ValueError as exc:
            problem = str(exc)
            messages = [
                *messages,
                {"role": "assistant", "content": answer or ""},
                {
                    "role": "user",
                    "content": f"你的输出不符合要求：{problem}。请重新输出，只输出一个符合上述 JSON Schema 的 JSON 对象。",
                },
            ]
            continue
        return BuiltinResult(content={"fields": fields}, data={"fields": fields, "attempts": attempts})
    raise ToolError(_("模型两次输出都不符合给定的字段定义（%(problem)s），未能抽取。") % {"problem": problem})


# --------------------------------------------------------------------------- current_datetime


def current_datetime(*, arguments: dict, context: ToolContext) -> BuiltinResult:
    now = context.now or timezone.now()
    if timezone.is_naive(now):
        now = timezone.make_aware(now)
    local = now.astimezone(BEIJING)
    weekday = WEEKDAYS[local.weekday()]
    text = f"{local.year}年{local.month}月{local.day}日 {weekday} {local:%H:%M}"
    data = {
        "date": local.date().isoformat(),
        "time": f"{local:%H:%M:%S}",
        "weekday": weekday,
        "datetime": local.isoformat(timespec="seconds"),
        "timezone": "Asia/Shanghai",
        "text": text,
    }
    return BuiltinResult(content=data, data=data)


BUILTIN_HANDLERS: dict[str, Callable[..., BuiltinResult]] = {
    "knowledge_search": knowledge_search,
    "mask_personal_data": mask_personal_data,
    "document_format_check": document_format_check,
    "ticket_classify": ticket_classify_tool,
    "extract_fields": extract_fields,
    "current_datetime": current_datetime,
}
