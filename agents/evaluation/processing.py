"""Running a test set in a Celery worker: every case through the one runtime, at the endpoint's concurrency.

``eval_run_process`` runs a pool of threads (one database connection each) sized like a batch job's: the
evaluated snapshot's endpoint's ``max_concurrency`` (capped by ``SHUZHI_BATCH_MAX_THREADS``; a small fixed
pool without a model). Each thread takes the next case, runs it with ``run_stream`` (``via`` "eval": never
reviewed, never counted as usage), grades the stored run (``checks.run_grade``), stores its result and adds
it to the run's counters. The gateway keeps the endpoint's limit across every process as for any call.

A publish check then settles its gate: the draft it tested is published unless its pass rate fell more than
the agent's ``eval_max_drop`` below the version in use (run first, in the same job, on the same cases).
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants import audit
from tenants.quotas import QuotaExceeded

from ..builder.services import agent_publish
from ..builder.snapshot import agent_snapshot
from ..models import AgentVersion, EvalCase, EvalResult, EvalRun, ModelEndpoint, Run
from ..runtime.access import AgentNotAvailable, DepartmentPrincipal
from ..runtime.events import RunFinished, RunStarted
from ..runtime.pipeline import run_stream
from ..runtime.prompting import RunInputInvalid
from .checks import run_grade

log = logging.getLogger(__name__)

RETRIEVAL_ONLY_THREADS = 4
QUOTA_ATTEMPTS = 3  # tries of a case refused by a per-minute limit
PER_MINUTE_WAIT_MAX = 61  # a limit that frees within this many seconds is waited for


class Tester(DepartmentPrincipal):
    """Whom a test set's runs are made for: the agent's department, on behalf of the admin who started it
    (recorded as the runs' user). Only for the agent's own admins' tests: it may use and manage the agent."""

    def __init__(self, department_id: int, user=None):
        super().__init__(department_id)
        self.user = user


def eval_run_process(*, eval_run_id: int) -> str:
    """Run the set (its baseline first, when the job holds one) and settle a publish check; returns the status.

    Safe to call again: a finished run is left alone, and a run interrupted midway goes on with the cases
    that have no result yet.
    """
    eval_run = (
        EvalRun.objects.select_related("agent", "version", "baseline", "created_by").filter(pk=eval_run_id).first()
    )
    if eval_run is None:
        return "missing"
    baseline = eval_run.baseline
    try:
        if baseline is not None and baseline.purpose == EvalRun.Purpose.BASELINE and baseline.status in _OPEN:
            _process(baseline)
        if eval_run.status in _OPEN:
            _process(eval_run)
    except Exception:
        log.exception("evaluation %s failed", eval_run.pk)
        EvalRun.objects.filter(pk__in=[eval_run.pk, getattr(baseline, "pk", 0)], status__in=_OPEN).update(
            status=EvalRun.Status.FAILED,
            error=_("运行出错，请稍后重试；如果反复出现，请联系管理员。"),
            finished_at=timezone.now(),
        )
        raise
    eval_run.refresh_from_db()
    if eval_run.purpose == EvalRun.Purpose.PUBLISH and not eval_run.gate:
        _gate_settle(eval_run)
    return eval_run.status


_OPEN = (EvalRun.Status.QUEUED, EvalRun.Status.RUNNING)


def _process(eval_run: EvalRun) -> None:
    EvalRun.objects.filter(pk=eval_run.pk).update(status=EvalRun.Status.RUNNING, started_at=timezone.now())
    agent = eval_run.agent
    snapshot = eval_run.version.snapshot if eval_run.version_id else agent_snapshot(agent=agent)
    done = set(EvalResult.objects.filter(eval_run=eval_run).values_list("case_id", flat=True))
    cases = [c for c in EvalCase.objects.filter(agent=agent, is_active=True).order_by("pk") if c.pk not in done]
    EvalRun.objects.filter(pk=eval_run.pk).update(total=len(done) + len(cases))
    work: queue.Queue[EvalCase] = queue.Queue()
    for case in cases:
        work.put(case)
    principal = Tester(agent.department_id, eval_run.created_by)
    threads = [
        threading.Thread(target=_work, args=(eval_run, principal, work), name=f"eval-{eval_run.pk}-{n}", daemon=True)
        for n in range(min(_threads(snapshot), max(1, len(cases))))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    EvalRun.objects.filter(pk=eval_run.pk, status=EvalRun.Status.RUNNING).update(
        status=EvalRun.Status.FINISHED, finished_at=timezone.now()
    )


def _threads(snapshot: dict) -> int:
    model = snapshot.get("model") or {}
    endpoint = None
    if model.get("endpoint_id") and model.get("model_name"):
        endpoint = ModelEndpoint.objects.filter(
            pk=model["endpoint_id"], is_active=True, kind=ModelEndpoint.Kind.CHAT
        ).first()
    if endpoint is None:
        return RETRIEVAL_ONLY_THREADS
    return max(1, min(endpoint.max_concurrency, settings.SHUZHI_BATCH_MAX_THREADS))


def _work(eval_run: EvalRun, principal: Tester, work: queue.Queue) -> None:
    try:
        while True:
            try:
                case = work.get_nowait()
            except queue.Empty:
                return
            try:
                _case_run(eval_run, principal, case)
            except Exception:
                log.exception("evaluation %s: case %s failed", eval_run.pk, case.pk)
                _record(eval_run, case, None, error=_("运行出错，请稍后重试；如果反复出现，请联系管理员。"))
    finally:
        connections.close_all()


def _case_run(eval_run: EvalRun, principal: Tester, case: EvalCase) -> None:
    run = None
    for attempt in range(QUOTA_ATTEMPTS):
        try:
            for event in run_stream(
                principal=principal,
                agent=eval_run.agent,
                message=case.message,
                form_values={k: str(v) for k, v in (case.form_values or {}).items()},
                via=Run.Via.EVAL,
                draft=eval_run.version_id is None,
                version=eval_run.version,
            ):
                if isinstance(event, (RunStarted, RunFinished)):
                    run = event.run
            break
        except QuotaExceeded as exc:
            # A per-minute limit frees within the minute: the case waits for it, as a batch row does, rather
            # than failing (which would read as the agent's regression).
            if exc.retry_after > PER_MINUTE_WAIT_MAX or attempt + 1 == QUOTA_ATTEMPTS:
                _record(eval_run, case, None, error=str(exc))
                return
            time.sleep(exc.retry_after)
        except (AgentNotAvailable, RunInputInvalid) as exc:
            _record(eval_run, case, None, error=str(exc))
            return
    run.refresh_from_db()
    _record(eval_run, case, run)


def _record(eval_run: EvalRun, case: EvalCase, run: Run | None, *, error: str = "") -> None:
    if run is not None:
        grade = run_grade(case=case, run=run, agent=eval_run.agent)
        checks, passed = grade.checks, grade.passed
        expected, found = grade.sources_expected, grade.sources_found
        latency, input_tokens, output_tokens = run.latency_ms or 0, run.input_tokens, run.output_tokens
    else:
        checks, passed = [{"check": "status", "passed": False, "detail": error}], False
        expected = found = latency = input_tokens = output_tokens = 0
    _result, created = EvalResult.objects.get_or_create(
        eval_run=eval_run,
        case=case,
        defaults={
            "run": run,
            "passed": passed,
            "checks": checks,
            "sources_expected": expected,
            "sources_found": found,
            "latency_ms": latency,
            "tokens": input_tokens + output_tokens,
            "error": error[:500],
        },
    )
    if created:
        EvalRun.objects.filter(pk=eval_run.pk).update(
            done=F("done") + 1,
            passed=F("passed") + int(passed),
            sources_expected=F("sources_expected") + expected,
            sources_found=F("sources_found") + found,
            latency_ms_sum=F("latency_ms_sum") + latency,
            input_tokens=F("input_tokens") + input_tokens,
            output_tokens=F("output_tokens") + output_tokens,
        )


def regression(*, eval_run: EvalRun) -> tuple[float, float | None, float]:
    """(pass rate, the baseline's pass rate or None, the drop in percentage points; 0 without a baseline)."""
    rate = eval_run.pass_rate if eval_run.pass_rate is not None else 100.0
    baseline = eval_run.baseline
    if baseline is None or baseline.status != EvalRun.Status.FINISHED or baseline.pass_rate is None:
        return rate, None, 0.0
    return rate, baseline.pass_rate, round(max(0.0, baseline.pass_rate - rate), 1)


def _gate_settle(eval_run: EvalRun) -> None:
    """Publish the tested draft, or block it, saying why."""
    agent = eval_run.agent
    agent.refresh_from_db()
    rate, base, drop = regression(eval_run=eval_run)
    if drop > agent.eval_max_drop:
        EvalRun.objects.filter(pk=eval_run.pk).update(
            gate=EvalRun.Gate.BLOCKED,
            gate_reason=_(
                "通过率 %(rate)s%%，比正在使用的版本（%(base)s%%）下降 %(drop)s 个百分点，"
                "超过允许的 %(max)s 个百分点，未发布。"
            )
            % {"rate": f"{rate:g}", "base": f"{base:g}", "drop": f"{drop:g}", "max": agent.eval_max_drop},
        )
        return
    if AgentVersion.canonical(agent_snapshot(agent=agent)) != eval_run.draft_text:
        EvalRun.objects.filter(pk=eval_run.pk).update(
            gate=EvalRun.Gate.STALE, gate_reason=_("测试期间草稿又有修改，未发布；请重新发布以再次运行测试集。")
        )
        return
    with audit.context(actor=eval_run.created_by, via="task"):
        try:
            version = agent_publish(
                agent=agent, user=eval_run.created_by, note=eval_run.publish_note, refuse_unusable=True
            )
        except ValidationError as exc:
            EvalRun.objects.filter(pk=eval_run.pk).update(
                gate=EvalRun.Gate.STALE, gate_reason=" ".join(exc.messages)[:500]
            )
            return
    EvalRun.objects.filter(pk=eval_run.pk).update(
        gate=EvalRun.Gate.PUBLISHED,
        published_version=version,
        gate_reason=_("通过率 %(rate)s%%，已发布为 v%(n)s。") % {"rate": f"{rate:g}", "n": version.number},
    )
