"""Grading one stored run against one test case: each check's verdict, with a sentence saying why.

Every check but the judge's grade needs no model: sources are matched against the passages the run
retrieved, phrases against the answer, structured results against a JSON Schema and field values, and
the GB/T 9704 checker reads the answer itself. So retrieval-only agents and deterministic tools are
graded without one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import jsonschema
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from ..llm import ModelError, Target, chat_complete
from ..models import Agent, EvalCase, ModelEndpoint, Run
from ..tools.doc_format import ERROR, format_check

log = logging.getLogger(__name__)

JUDGE_PASS_GRADE = 6  # of 10
JUDGE_MAX_TOKENS = 200
# Sent to the judge model as it is, whatever the admin's language (the grade is read back from its answer).
JUDGE_PROMPT = (
    "请对照参考答案，为待评回答打分（0 到 10 分，10 分表示与参考答案要点完全一致）。只回答“评分：X”。"
    "\n\n问题：{question}\n\n参考答案：{reference}\n\n待评回答：{answer}"
)
_GRADE = re.compile(r"(?:评分|分数|grade|score)\s*[:：]?\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_NUMBER = re.compile(r"\b(\d+(?:\.\d+)?)\b")
_SPLIT = re.compile(r"[\n\r；;|]+")


def lines_of(text: str) -> list[str]:
    """The non-empty entries of a one-per-line field (also split on ；, ; and |, as spreadsheets hold them)."""
    return [part.strip() for part in _SPLIT.split(text or "") if part.strip()]


@dataclass
class Grade:
    """The verdict of every check a case sets on one run."""

    checks: list[dict] = field(default_factory=list)
    sources_expected: int = 0
    sources_found: int = 0

    @property
    def passed(self) -> bool:
        return all(c["passed"] for c in self.checks)

    def add(self, check: str, passed: bool, detail: str) -> None:
        self.checks.append({"check": check, "passed": bool(passed), "detail": detail})


def _source_found(expected: str, hits: list[dict]) -> bool:
    wanted = expected.replace(" ", "")
    for hit in hits:
        haystack = "".join(
            str(hit.get(key) or "") for key in ("citation", "document_title", "document_number", "heading_path")
        ).replace(" ", "")
        if wanted in haystack:
            return True
    return False


def run_grade(*, case: EvalCase, run: Run, agent: Agent) -> Grade:
    """Every check ``case`` sets, on ``run`` (a finished run); a run that did not succeed fails."""
    grade = Grade()
    if run.status != Run.Status.SUCCEEDED:
        grade.add("status", False, _("运行未成功：%(error)s") % {"error": run.error or run.get_status_display()})
    answer = run.answer or ""
    expected = lines_of(case.expected_sources)
    if expected:
        found = [s for s in expected if _source_found(s, run.retrieved or [])]
        missing = [s for s in expected if s not in found]
        grade.sources_expected, grade.sources_found = len(expected), len(found)
        grade.add(
            "sources",
            not missing,
            _("未检索到：%(missing)s") % {"missing": "、".join(missing)}
            if missing
            else _("检索到全部 %(n)s 处应引用的段落。") % {"n": len(expected)},
        )
    include = lines_of(case.must_include)
    if include:
        absent = [p for p in include if p not in answer]
        grade.add(
            "must_include",
            not absent,
            _("回答中没有：%(p)s") % {"p": "、".join(absent)} if absent else _("必须出现的词句都已出现。"),
        )
    exclude = lines_of(case.must_exclude)
    if exclude:
        present = [p for p in exclude if p in answer]
        grade.add(
            "must_exclude",
            not present,
            _("回答中出现了：%(p)s") % {"p": "、".join(present)} if present else _("没有出现不得出现的词句。"),
        )
    if case.expected_schema:
        _schema_check(grade, case.expected_schema, run.output_data)
    if case.expected_fields:
        _fields_check(grade, case.expected_fields, run.output_data)
    if case.format_verdict:
        errors = [p for p in format_check(answer) if p.severity == ERROR]
        clean = not errors
        wanted_clean = case.format_verdict == EvalCase.Verdict.CLEAN
        detail = (
            _("格式检查未发现错误。")
            if clean
            else _("格式检查发现 %(n)s 处错误，如：%(first)s") % {"n": len(errors), "first": errors[0].message}
        )
        grade.add("format", clean == wanted_clean, detail)
    if case.reference_answer.strip():
        judged = judge_grade(agent=agent, case=case, answer=answer)
        if judged is not None:
            grade.add(*judged)
    return grade


def _schema_check(grade: Grade, schema: dict, data) -> None:
    if data is None:
        grade.add("schema", False, _("没有结构化结果。"))
        return
    try:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    except jsonschema.SchemaError as exc:
        grade.add("schema", False, _("用例的 JSON Schema 无效：%(e)s") % {"e": exc.message})
        return
    grade.add("schema", error is None, error.message if error else _("结构化结果符合 JSON Schema。"))


def _fields_check(grade: Grade, fields: dict, data) -> None:
    if not isinstance(data, dict):
        grade.add("fields", False, _("没有结构化结果。"))
        return
    wrong = [
        _("%(name)s 应为 %(want)s，实际为 %(got)s") % {"name": k, "want": v, "got": data.get(k, "—")}
        for k, v in fields.items()
        if data.get(k) != v
    ]
    grade.add("fields", not wrong, "；".join(wrong) if wrong else _("字段值都符合。"))


def judge_grade(*, agent: Agent, case: EvalCase, answer: str) -> tuple[str, bool, str] | None:
    """The judge model's grade (0–10) of ``answer`` against the case's reference answer, as a check;
    None when the agent has no judge. A judge that cannot be reached or answers no grade fails the check."""
    endpoint_id, model = agent.eval_judge_endpoint_id, agent.eval_judge_model
    if not endpoint_id or not model:
        return None
    endpoint = ModelEndpoint.objects.filter(pk=endpoint_id, is_active=True).first()
    if endpoint is None:
        return ("judge", False, _("评分模型服务已停用。"))
    prompt = JUDGE_PROMPT.format(
        question=case.message or case.form_values, reference=case.reference_answer, answer=answer
    )
    try:
        completed = chat_complete(
            targets=[Target(endpoint=endpoint, model=model)],
            messages=[{"role": "user", "content": prompt}],
            temperature=0,
            max_tokens=JUDGE_MAX_TOKENS,
        )
    except ModelError as exc:
        return ("judge", False, _("评分模型调用失败：%(e)s") % {"e": exc})
    match = _GRADE.search(completed.text) or _NUMBER.search(completed.text)
    if match is None:
        return ("judge", False, _("评分模型没有给出分数：%(text)s") % {"text": completed.text[:100]})
    score = float(match.group(1))
    verdict = pgettext("evaluation", "通过") if score >= JUDGE_PASS_GRADE else pgettext("evaluation", "未通过")
    return (
        "judge",
        score >= JUDGE_PASS_GRADE,
        _("评分模型打分 %(score)s / 10（%(verdict)s）") % {"score": f"{score:g}", "verdict": verdict},
    )
