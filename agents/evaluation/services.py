"""Writes of the test sets: cases (by hand, from a file, from a stored run), the gate's settings, starting a
run of the set, publishing through the gate, and an admin's override of a blocked gate.

Every function takes the acting admin and refuses (``EvalRefused``, a sentence) an agent they may not
manage; the run of a set itself is ``agents.evaluation.processing``, in a Celery worker.
"""

from __future__ import annotations

import json
import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from tenants.roles import Action

from ..batch.parsing import BatchInputInvalid, table_read
from ..builder.readiness import publish_problems
from ..builder.services import agent_publish
from ..builder.snapshot import agent_snapshot
from ..models import Agent, AgentVersion, ApprovedAnswer, EvalCase, EvalRun, ModelEndpoint, Run

# The columns a test-set file may have (Chinese or English headers); any other column named like one of
# the agent's form fields fills that field.
COLUMNS = {
    "name": ("名称", "name"),
    "message": ("问题", "message", "question"),
    "form_values": ("表单", "form", "form_values"),
    "expected_sources": ("应引用", "应引用的段落或条文", "expected_sources", "sources"),
    "must_include": ("必须出现", "必须出现的词句", "must_include"),
    "must_exclude": ("不得出现", "不得出现的词句", "must_exclude"),
    "expected_fields": ("字段值", "expected_fields", "fields"),
    "expected_schema": ("JSON Schema", "json_schema", "schema"),
    "format_verdict": ("格式检查", "format_verdict", "format"),
    "reference_answer": ("参考答案", "reference_answer", "reference"),
}
VERDICTS = {
    "": EvalCase.Verdict.ANY,
    "无错误": EvalCase.Verdict.CLEAN,
    "无格式错误": EvalCase.Verdict.CLEAN,
    "clean": EvalCase.Verdict.CLEAN,
    "有错误": EvalCase.Verdict.PROBLEMS,
    "有格式错误": EvalCase.Verdict.PROBLEMS,
    "problems": EvalCase.Verdict.PROBLEMS,
}
_CITED = re.compile(r"\[(\d+)\]")


class EvalRefused(Exception):
    """The change cannot be made (a sentence for the admin)."""


def _managed(*, agent: Agent, user) -> Agent:
    found = Agent.objects.restrict(user, Action.MANAGE).filter(pk=agent.pk).first()
    if found is None:
        raise EvalRefused(_("找不到该智能体，或您没有管理权限。"))
    return found


# ---------------------------------------------------------------------------------- cases


def eval_case_from_run(*, run: Run, user) -> EvalCase:
    """A case of the run's agent made from a stored run: its input, the answer as finally approved as the
    reference answer, and the passages the answer cited as expected sources.

    The texts stay as stored (masked). Refuses a run of an agent ``user`` may not manage.
    """
    agent = _managed(agent=run.agent, user=user)
    if run.review_status in (Run.Review.APPROVED, Run.Review.EDITED) and run.final_text:
        reference = run.final_text
    elif run.review_status == Run.Review.REJECTED:
        reference = ""
    else:
        reference = run.answer
    cited = {int(n) for n in _CITED.findall(reference or "")}
    sources = list(
        dict.fromkeys(
            hit.get("citation") or hit.get("document_title") or ""
            for hit in run.retrieved or []
            if hit.get("n") in cited
        )
    )
    label = run.input_text or " ".join(str(v) for v in (run.form_values or {}).values())
    return EvalCase.objects.create(
        agent=agent,
        name=(label.strip().replace("\n", " ")[:60] or _("来自运行记录 #%(n)s") % {"n": run.pk}),
        message=run.input_text,
        form_values=run.form_values or {},
        expected_sources="\n".join(s for s in sources if s),
        expected_fields=run.output_data if isinstance(run.output_data, dict) else None,
        reference_answer=reference or "",
        source_run=run,
        created_by=user,
    )


def eval_case_from_approved_answer(*, approved_answer: ApprovedAnswer, user) -> EvalCase:
    """A case made from an approved answer: its question as the message, the approved answer as the
    reference answer, and an approved answer as the source the agent must retrieve.

    The case belongs to the agent whose run the pair corrected, or else to the one agent ``user`` manages
    that uses the pair's knowledge base. Refuses when there is none, or several to choose from.
    """
    if approved_answer.source_run_id:
        agent = _managed(agent=approved_answer.source_run.agent, user=user)
    else:
        using = Agent.objects.restrict(user, Action.MANAGE).filter(knowledge_bases=approved_answer.knowledge_base_id)
        agents = list(using.distinct()[:2])
        if len(agents) != 1:
            raise EvalRefused(
                _(
                    "该问答不是由某个智能体的回答修改而来，且其知识库被多个或零个您管理的智能体使用：请在测试集页面手动添加。"
                )
            )
        agent = agents[0]
    question = approved_answer.question.strip()
    return EvalCase.objects.create(
        agent=agent,
        name=question.replace("\n", " ")[:60] or _("来自经审核的问答 #%(n)s") % {"n": approved_answer.pk},
        message=question,
        # An approved answer's hit carries this title whoever approved it (see knowledge.retrieval).
        expected_sources=_("经审核的问答"),
        reference_answer=approved_answer.answer,
        source_run=approved_answer.source_run,
        created_by=user,
    )


def eval_cases_import(*, agent: Agent, data: bytes, user) -> list[EvalCase]:
    """The cases of a CSV or Excel file (first row: column names, see ``COLUMNS``), all or none.

    Raises ``BatchInputInvalid`` naming every row at fault.
    """
    agent = _managed(agent=agent, user=user)
    table = table_read(data=data)
    by_header = {}
    for name, headers in COLUMNS.items():
        for header in headers:
            for column in table.columns:
                if column.strip().lower() == header.lower():
                    by_header.setdefault(name, column)
    form_fields = [v["name"] for v in (agent_snapshot(agent=agent)["template"] or {}).get("variables") or []]
    form_columns = {f: c for f in form_fields for c in table.columns if c.strip() == f}
    if "message" not in by_header and not form_columns and "form_values" not in by_header:
        raise BatchInputInvalid.on(
            "file",
            _("文件中没有“问题”列，也没有与智能体表单字段同名的列。文件中的列：%(columns)s。")
            % {"columns": "、".join(table.columns)},
        )
    cases, problems = [], []
    for number, values in table.rows:
        cell = {name: (values.get(column) or "").strip() for name, column in by_header.items()}
        try:
            form = json.loads(cell["form_values"]) if cell.get("form_values") else {}
            fields = json.loads(cell["expected_fields"]) if cell.get("expected_fields") else None
            schema = json.loads(cell["expected_schema"]) if cell.get("expected_schema") else None
        except json.JSONDecodeError:
            problems.append(_("第 %(n)s 行：表单、字段值或 JSON Schema 不是有效的 JSON。") % {"n": number})
            continue
        if not isinstance(form, dict) or (fields is not None and not isinstance(fields, dict)):
            problems.append(_("第 %(n)s 行：表单和字段值应为 JSON 对象。") % {"n": number})
            continue
        form.update(
            {f: (values.get(c) or "").strip() for f, c in form_columns.items() if (values.get(c) or "").strip()}
        )
        verdict = VERDICTS.get(cell.get("format_verdict", "").lower())
        if verdict is None:
            problems.append(_("第 %(n)s 行：格式检查应填“无错误”或“有错误”。") % {"n": number})
            continue
        message = cell.get("message", "")
        if not message and not form:
            problems.append(_("第 %(n)s 行：没有问题，也没有表单值。") % {"n": number})
            continue
        cases.append(
            EvalCase(
                agent=agent,
                name=(cell.get("name") or message or " ".join(form.values()))[:200],
                message=message,
                form_values=form,
                expected_sources=cell.get("expected_sources", ""),
                must_include=cell.get("must_include", ""),
                must_exclude=cell.get("must_exclude", ""),
                expected_fields=fields,
                expected_schema=schema,
                format_verdict=verdict,
                reference_answer=cell.get("reference_answer", ""),
                created_by=user,
            )
        )
    if problems:
        raise BatchInputInvalid({"file": problems})
    with transaction.atomic():
        # One save each, so that the audit log records every case with who imported it.
        for case in cases:
            case.save()
    return cases


def agent_eval_configure(*, agent: Agent, user, max_drop: int, judge_endpoint=None, judge_model: str = "") -> Agent:
    """Set the gate's threshold (percentage points of pass rate a new version may lose) and the judge model."""
    agent = _managed(agent=agent, user=user)
    if not 0 <= int(max_drop) <= 100:
        raise EvalRefused(_("允许的下降应在 0 到 100 个百分点之间。"))
    if judge_endpoint is not None:
        usable = ModelEndpoint.objects.restrict(user, Action.MANAGE).filter(
            pk=judge_endpoint.pk, kind=ModelEndpoint.Kind.CHAT, is_active=True
        )
        if not usable.exists():
            raise EvalRefused(_("请选择可用的对话模型服务作为评分模型。"))
        if judge_model not in judge_endpoint.models_list():
            raise EvalRefused(
                _("模型名称必须是该模型服务提供的模型之一：%(names)s。")
                % {"names": "、".join(judge_endpoint.models_list())}
            )
    agent.eval_max_drop = int(max_drop)
    agent.eval_judge_endpoint = judge_endpoint
    agent.eval_judge_model = judge_model if judge_endpoint is not None else ""
    agent.save(update_fields=["eval_max_drop", "eval_judge_endpoint", "eval_judge_model", "updated_at"])
    return agent


# ---------------------------------------------------------------------------------- runs


def eval_run_start(
    *,
    agent: Agent,
    user,
    version: AgentVersion | None = None,
    purpose: str = EvalRun.Purpose.MANUAL,
    note: str = "",
) -> EvalRun:
    """Queue a run of the agent's active cases against ``version`` (None: the draft) for a Celery worker.

    A run of the draft is compared with the version in use: a publish check runs that version too, in
    the same job, so both meet the same cases; a manual run reuses the version's latest finished run.
    """
    agent = _managed(agent=agent, user=user)
    if version is not None and version.agent_id != agent.pk:
        raise EvalRefused(_("找不到该版本。"))
    total = agent.eval_cases.filter(is_active=True).count()
    if not total:
        raise EvalRefused(_("该智能体的测试集还没有启用的用例。"))
    current = AgentVersion.objects.filter(pk=agent.current_version_id).first()
    with transaction.atomic():
        baseline = None
        if version is None and current is not None:
            if purpose == EvalRun.Purpose.PUBLISH:
                baseline = EvalRun.objects.create(
                    agent=agent, version=current, purpose=EvalRun.Purpose.BASELINE, total=total, created_by=user
                )
            else:
                baseline = (
                    EvalRun.objects.filter(agent=agent, version=current, status=EvalRun.Status.FINISHED)
                    .order_by("-finished_at")
                    .first()
                )
        eval_run = EvalRun.objects.create(
            agent=agent,
            version=version,
            purpose=purpose,
            baseline=baseline,
            draft_text=AgentVersion.canonical(agent_snapshot(agent=agent)) if version is None else "",
            publish_note=(note or "")[:200],
            total=total,
            created_by=user,
        )
        _enqueue_on_commit(eval_run.pk)
    return eval_run


def _enqueue_on_commit(eval_run_id: int) -> None:
    from ..background import task_send
    from ..tasks import process_eval_run

    # With the broker down the run stays queued and can be started again.
    transaction.on_commit(lambda: task_send(process_eval_run, eval_run_id))


def _publish_refusal(agent: Agent) -> str:
    """Why the draft cannot be published now (the builder's own refusals), or ""."""
    problems = publish_problems(agent=agent)
    if problems:
        return _("未发布：") + " ".join(problems)
    live = AgentVersion.objects.filter(pk=agent.current_version_id).first()
    if live is not None and live.snapshot_text == AgentVersion.canonical(agent_snapshot(agent=agent)):
        return _(
            "草稿与正在使用的版本 v%(n)s 相同，没有需要发布的修改。标有“保存即生效”的修改（如使用范围）保存后已经生效。"
        ) % {"n": live.number}
    return ""


def agent_publish_gated(*, agent: Agent, user, note: str = "") -> AgentVersion | EvalRun:
    """Publish the draft through the gate: with a test set, run it first (returns the queued run, which
    publishes when it passes); without one, publish at once (returns the version).

    Raises ValidationError, as ``agent_publish`` does, for a draft that cannot be published.
    """
    agent = _managed(agent=agent, user=user)
    refusal = _publish_refusal(agent)
    if refusal:
        raise ValidationError(refusal)
    if not agent.eval_cases.filter(is_active=True).exists():
        return agent_publish(agent=agent, user=user, note=note, refuse_unusable=True)
    return eval_run_start(agent=agent, user=user, purpose=EvalRun.Purpose.PUBLISH, note=note)


def eval_run_override(*, eval_run: EvalRun, user, reason: str) -> AgentVersion:
    """Publish the draft a blocked publish check tested, with the admin's reason (recorded on the run and in
    the audit log). Refused without a reason, for a run that is not blocked, or when the draft changed since."""
    _managed(agent=eval_run.agent, user=user)
    reason = (reason or "").strip()
    if not reason:
        raise EvalRefused(_("强制发布时请填写理由。"))
    with transaction.atomic():
        locked = EvalRun.objects.select_for_update().get(pk=eval_run.pk)
        if locked.gate != EvalRun.Gate.BLOCKED:
            raise EvalRefused(_("只有被阻止的发布可以强制发布。"))
        agent = Agent.objects.get(pk=locked.agent_id)
        if AgentVersion.canonical(agent_snapshot(agent=agent)) != locked.draft_text:
            raise EvalRefused(_("测试之后草稿又有修改，请重新发布以再次运行测试集。"))
        version = agent_publish(agent=agent, user=user, note=locked.publish_note, refuse_unusable=True)
        locked.gate = EvalRun.Gate.OVERRIDDEN
        locked.override_reason = reason
        locked.overridden_by = user
        locked.published_version = version
        locked.save(update_fields=["gate", "override_reason", "overridden_by", "published_version"])
    return version
