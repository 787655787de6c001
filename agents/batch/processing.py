"""Processing a batch job in a Celery worker: every row run once, with the endpoint's concurrency, resumable.

A processor (``batch_job_process``) runs a pool of threads, one database connection each, sized to the
agent's model endpoint's ``max_concurrency`` (retrieval-only agents: a small fixed pool). Each thread
takes one of the endpoint's concurrency *slots* (``agents/llm/limits.py``: PostgreSQL advisory locks, so
the limit holds across processes, hosts, jobs and every other call to the endpoint), claims the next
pending row with ``FOR UPDATE SKIP LOCKED``, runs it through ``run_stream`` and records the outcome. Several processors may work on one job at once.

Exactly once, across crashes: a claimed row is "running" and its claimer holds the row's advisory lock
(session-level, so it vanishes with the claimer's connection when its process dies). The row points at
its run as soon as the run is stored. A "running" row whose lock is free was therefore abandoned: if its
run finished, the row takes that result; if not, the run is closed as incomplete and the row runs again
(``attempts`` counts the claims, and fences a late writer). Each processor holds the job's advisory lock
shared, so "running" with a free job lock means no processor is alive: ``batch_jobs_resume`` (Celery beat,
and a worker coming up) queues such jobs again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.quotas import QuotaExceeded

from ..llm.limits import slot_give, slot_take, slot_wanted
from ..models import BatchJob, BatchRow, ModelEndpoint, Run
from ..runtime.access import AgentNotAvailable
from ..runtime.events import RunFinished, RunStarted
from ..runtime.metering import run_meter
from ..runtime.pipeline import run_stream
from ..runtime.prompting import RunInputInvalid
from .services import batch_principal, batch_principal_problem

log = logging.getLogger(__name__)

# Advisory lock keys (one bigint each): a namespace in the high 32 bits, the object's id in the low ones.
JOB_LOCKS = 7_000_913 << 32
ROW_LOCKS = 7_000_911 << 32

TICK_SECONDS = 1.0  # how often a processor reads the job's status, checks its principal and beats
MAX_ATTEMPTS = 3  # claims of one row before it is given up as failed
SLOT_HOLD_SECONDS = 5.0  # a thread keeps its endpoint slot across rows for this long, then lets others have it
SLOT_POLL_MAX_SECONDS = 0.2  # the longest a thread waiting for a slot sleeps between tries
SLOT_STEP_BACK_SECONDS = 0.1  # after letting a slot go, before trying again: a waiting thread may take it
SLOT_YIELD_SECONDS = 0.8  # after giving a slot to a waiting caller: longer than its longest poll (0.3 s)
RETRIEVAL_ONLY_THREADS = 4
MODEL_FAILURES_BEFORE_PAUSE = 5  # consecutive runs that never reached the model
PER_MINUTE_WAIT_MAX = 61  # a quota that frees within this many seconds is waited for, not paused on

_CLAIM = """
WITH next AS (
    SELECT id FROM agents_batchrow
    WHERE job_id = %(job)s AND status = 'pending'
    ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE agents_batchrow r
    SET status = 'running', attempts = r.attempts + 1, claimed_at = now(), finished_at = NULL, run_id = NULL, error = ''
    FROM next WHERE r.id = next.id AND pg_try_advisory_lock(%(locks)s + next.id)
    RETURNING r.id, r.number, r.values, r.attempts
)
SELECT next.id, claimed.number, claimed.values, claimed.attempts FROM next LEFT JOIN claimed ON claimed.id = next.id
"""

# A row's outcome and the job's counters in one statement, which then lets go of the row's lock (after
# the updates: the lock is read from their results). Nothing changes unless the row is still this
# claim's (status and attempts), so a late or second writer cannot count a row twice.
_FINISH = """
WITH finished AS (
    UPDATE agents_batchrow SET status = %(status)s, error = %(error)s, finished_at = now(), run_id = %(run)s
    WHERE id = %(row)s AND status = 'running' AND attempts = %(attempts)s
    RETURNING 1
), counted AS (
    UPDATE agents_batchjob SET done = done + %(done)s * (SELECT count(*) FROM finished),
        failed = failed + %(failed)s * (SELECT count(*) FROM finished)
    WHERE id = %(job)s
    RETURNING 1
)
SELECT pg_advisory_unlock(%(lock)s) FROM (SELECT count(*) FROM counted) AS settled
"""

# The row waits for another claim; its lock is let go.
_RELEASE = """
WITH released AS (
    UPDATE agents_batchrow SET status = 'pending', run_id = NULL, claimed_at = NULL, attempts = attempts - %(uncount)s
    WHERE id = %(row)s AND status = 'running' AND attempts = %(attempts)s
    RETURNING 1
)
SELECT pg_advisory_unlock(%(lock)s) FROM (SELECT count(*) FROM released) AS settled
"""

_FINALIZE = """
UPDATE agents_batchjob j SET status = 'finished', finished_at = now(), status_reason = '',
    done = (SELECT count(*) FROM agents_batchrow WHERE job_id = j.id AND status = 'succeeded'),
    failed = (SELECT count(*) FROM agents_batchrow WHERE job_id = j.id AND status = 'failed')
WHERE j.id = %(job)s AND j.status = 'running'
    AND NOT EXISTS (SELECT 1 FROM agents_batchrow WHERE job_id = j.id AND status IN ('pending', 'running'))
RETURNING j.status
"""


def _execute(sql: str, params: dict | list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def _close_if_broken() -> None:
    """Drop this thread's connection only if it no longer works (never merely for its age: it holds locks)."""
    if connection.connection is not None and not connection.is_usable():
        connection.close()


def _unlock(*keys: int) -> None:
    if keys:
        _execute("SELECT " + ", ".join(["pg_advisory_unlock(%s)"] * len(keys)), list(keys))


def batch_job_process(*, job_id: int) -> str:
    """Process the job's rows until none is left or the job is paused or cancelled; returns its status then.

    Safe to call for any job at any time, from several processes at once: a job that is not queued or
    running is left alone, and rows are shared out by the database.
    """
    _execute("SELECT pg_advisory_lock_shared(%s)", [JOB_LOCKS + job_id])
    try:
        return _Processor(job_id).run()
    finally:
        try:
            _execute("SELECT pg_advisory_unlock_shared(%s)", [JOB_LOCKS + job_id])
        except Exception:  # the connection is gone, and the lock with it
            log.warning("batch job %s: could not release the job lock", job_id, exc_info=True)


def batch_jobs_resume(*, stale_after: timedelta | None = None) -> list[int]:
    """Queue again the jobs no processor is working on: "running" with no live processor, or (with
    ``stale_after``) queued but forgotten: a lost message, its heartbeat at least that old.

    Returns the ids queued. Queueing touches the heartbeat, so a job waiting in the queue is not queued
    twice by the next beat.
    """
    from ..tasks import process_batch_job

    now = timezone.now()
    # "Running" with nobody holding the job's lock is a dead processor whatever its heartbeat says (the
    # lock is taken before the job turns running and let go after it stops), so it is queued again at once.
    jobs = BatchJob.objects.filter(status=BatchJob.Status.RUNNING)
    if stale_after is not None:
        cutoff = now - stale_after
        queued_jobs = BatchJob.objects.filter(status=BatchJob.Status.QUEUED)
        jobs = (
            jobs
            | queued_jobs.filter(heartbeat_at__lt=cutoff)
            | queued_jobs.filter(heartbeat_at__isnull=True, created_at__lt=cutoff)
        )
    queued = []
    processes = max(1, settings.SHUZHI_BATCH_PROCESSES)
    for job_id, status in jobs.values_list("pk", "status"):
        if status == BatchJob.Status.RUNNING and not _nobody_processing(job_id):
            continue
        # Queued again (with a fresh heartbeat): the next beat leaves it to its message for a while.
        if BatchJob.objects.filter(pk=job_id, status=status).update(status=BatchJob.Status.QUEUED, heartbeat_at=now):
            for _n in range(processes):
                process_batch_job.delay(job_id)
            queued.append(job_id)
    return queued


def _nobody_processing(job_id: int) -> bool:
    ((taken,),) = _execute("SELECT pg_try_advisory_lock(%s)", [JOB_LOCKS + job_id])
    if taken:
        _execute("SELECT pg_advisory_unlock(%s)", [JOB_LOCKS + job_id])
    return bool(taken)


class _Row:
    __slots__ = ("attempts", "id", "number", "values")

    def __init__(self, row_id, number, values, attempts):
        self.id, self.number, self.values, self.attempts = row_id, number, values, attempts


_VALUES_FIELD = BatchRow._meta.get_field("values")


def _decrypt(raw) -> dict:
    if isinstance(raw, str):
        return _VALUES_FIELD.to_python(raw) or {}
    return _VALUES_FIELD._decrypt_values(raw) if raw else {}


class _Processor:
    """One process's work on one job: the main thread steers, the pool's threads run rows."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.stop = threading.Event()
        self.not_before = 0.0  # time.monotonic() before which no row starts (a per-minute quota)
        self.model_failures = 0
        self.lock = threading.Lock()
        self.job: BatchJob | None = None
        self.principal = None
        self.endpoint: ModelEndpoint | None = None

    # ------------------------------------------------------------------ steering (main thread)

    def run(self) -> str:
        job = BatchJob.objects.select_related("agent__current_version").filter(pk=self.job_id).first()
        if job is None:
            return "missing"
        started = _execute(
            """
            UPDATE agents_batchjob SET status = 'running', heartbeat_at = now(), started_at = COALESCE(started_at, now())
            WHERE id = %s AND status IN ('queued', 'running') RETURNING status
            """,
            [self.job_id],
        )
        if not started:
            return job.status
        self.job = job
        if not self._check_principal():
            return BatchJob.Status.PAUSED
        self.endpoint = self._endpoint()
        if self.endpoint is not None:
            threads = min(self.endpoint.max_concurrency, settings.SHUZHI_BATCH_MAX_THREADS)
        else:
            threads = RETRIEVAL_ONLY_THREADS
        while not self.stop.is_set():
            self._recover()
            if not BatchRow.objects.filter(job_id=self.job_id, status=BatchRow.Status.PENDING).exists():
                break
            self._run_pool(threads)
        self._recover()
        finished = _execute(_FINALIZE, {"job": self.job_id})
        if finished:
            return BatchJob.Status.FINISHED
        return BatchJob.objects.filter(pk=self.job_id).values_list("status", flat=True).first() or "missing"

    def _endpoint(self) -> ModelEndpoint | None:
        snapshot = self.job.agent.current_version.snapshot if self.job.agent.current_version else {}
        model = snapshot.get("model") or {}
        if not (model.get("endpoint_id") and model.get("model_name")):
            return None
        return ModelEndpoint.objects.filter(
            pk=model["endpoint_id"], is_active=True, kind=ModelEndpoint.Kind.CHAT
        ).first()

    def _run_pool(self, size: int) -> None:
        threads = [
            threading.Thread(target=self._work, name=f"batch-{self.job_id}-{n}", daemon=True) for n in range(size)
        ]
        for thread in threads:
            thread.start()
        next_tick = time.monotonic() + TICK_SECONDS
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(max(0.0, next_tick - time.monotonic()))
                if time.monotonic() >= next_tick:
                    break
            if time.monotonic() >= next_tick:
                try:
                    self._tick()
                except Exception:  # the threads go on; the next tick tries again
                    log.exception("batch job %s: heartbeat failed", self.job_id)
                    _close_if_broken()
                next_tick = time.monotonic() + TICK_SECONDS

    def _tick(self) -> None:
        """Beat, notice a pause or cancel from elsewhere, and notice a principal that stopped working."""
        status = _execute(
            "UPDATE agents_batchjob SET heartbeat_at = now() WHERE id = %s RETURNING status", [self.job_id]
        )
        if not status or status[0][0] != BatchJob.Status.RUNNING:
            self.stop.set()
            return
        self._check_principal()

    def _check_principal(self) -> bool:
        principal = batch_principal(job=self.job)
        problem = batch_principal_problem(job=self.job, principal=principal)
        if problem:
            self.pause(problem)
            return False
        self.principal = principal  # fresh each tick: a user's cached scope never outlives a second
        return True

    def pause(self, reason: str) -> None:
        BatchJob.objects.filter(pk=self.job_id, status=BatchJob.Status.RUNNING).update(
            status=BatchJob.Status.PAUSED, status_reason=reason[:300]
        )
        self.stop.set()

    def _recover(self) -> None:
        """Settle the rows left "running" by processors that died (their row locks are free)."""
        for row_id in BatchRow.objects.filter(job_id=self.job_id, status=BatchRow.Status.RUNNING).values_list(
            "pk", flat=True
        ):
            ((taken,),) = _execute("SELECT pg_try_advisory_lock(%s)", [ROW_LOCKS + row_id])
            if not taken:
                continue  # a live claimer is on it
            settled = False
            try:
                settled = self._recover_row(row_id)
            finally:
                if not settled:
                    _unlock(ROW_LOCKS + row_id)

    def _recover_row(self, row_id: int) -> bool:
        """Settle one abandoned row whose lock this processor holds; True when that also let go of the lock."""
        row = BatchRow.objects.filter(pk=row_id, status=BatchRow.Status.RUNNING).values("run_id", "attempts").first()
        if row is None:
            return False
        run = Run.objects.filter(pk=row["run_id"]).first() if row["run_id"] else None
        if run is not None and run.status != Run.Status.RUNNING:
            # The run finished after (or just before) its worker died: take its result, do not run again.
            self._finish_from_run(_Row(row_id, None, None, row["attempts"]), run)
            return True
        if run is not None:
            closed = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(
                status=Run.Status.INCOMPLETE,
                error=_("运行被中断（处理进程退出或超时），已保留中断前的内容。"),
                finished_at=timezone.now(),
            )
            if closed:
                run_meter(run=Run.objects.get(pk=run.pk))
        if row["attempts"] >= MAX_ATTEMPTS:
            self._finish(
                _Row(row_id, None, None, row["attempts"]),
                BatchRow.Status.FAILED,
                _("该行处理了 %(n)s 次都没有完成（处理进程退出）。") % {"n": row["attempts"]},
                run,
            )
        else:
            self._release(row_id, row["attempts"])
        return True

    # ------------------------------------------------------------------ rows (pool threads)

    def _work(self) -> None:
        slot = None
        try:
            while not self.stop.is_set():
                if slot and self.not_before > time.monotonic():
                    self._give_slot()  # waiting out a quota: the slot is of use to other jobs meanwhile
                    slot = None
                self._wait_for_quota()
                if slot is None:
                    slot = self._take_slot()
                    if slot is None:
                        return
                    held_since = time.monotonic()
                row = self._claim()
                if row is None:
                    return
                if row == "retry":
                    self.stop.wait(0.05)
                    continue
                self._process(row)  # settling the row lets go of its lock
                if slot and self.endpoint is not None and slot_wanted(self.endpoint):
                    # Someone is waiting for the endpoint (a person in the workspace, an API call): they go first.
                    self._give_slot()
                    slot = None
                    self.stop.wait(SLOT_YIELD_SECONDS * (0.5 + random.random()))  # noqa: S311
                elif slot and time.monotonic() - held_since >= SLOT_HOLD_SECONDS:
                    # Other jobs (and other processes) on the same endpoint get their turn at the slots.
                    self._give_slot()
                    slot = None
                    self.stop.wait(SLOT_STEP_BACK_SECONDS * (0.5 + random.random()))  # noqa: S311
        except Exception:
            log.exception("batch job %s: a worker thread failed", self.job_id)
        finally:
            if slot:
                try:
                    self._give_slot()
                except Exception:
                    log.debug("batch job %s: endpoint slot already gone", self.job_id)
            try:  # every lock still held (a pooled connection would keep them), then the connection
                _execute("SELECT pg_advisory_unlock_all()")
            except Exception:
                log.debug("batch job %s: connection already gone", self.job_id)
            connections.close_all()

    def _wait_for_quota(self) -> None:
        waited = False
        while not self.stop.is_set():
            remaining = self.not_before - time.monotonic()
            if remaining <= 0:
                break
            waited = True
            self.stop.wait(min(remaining, TICK_SECONDS))
        if waited and not self.stop.is_set():
            BatchJob.objects.filter(pk=self.job_id, status=BatchJob.Status.RUNNING).update(status_reason="")

    def _take_slot(self) -> int | None:
        """One of the endpoint's slots (its lock key), waiting while all are taken; 0 without an endpoint."""
        if self.endpoint is None:
            return 0
        pause = 0.02
        while not self.stop.is_set():
            key = slot_take(self.endpoint)
            if key is not None:
                return key
            self.stop.wait(pause + random.random() * pause)  # noqa: S311
            pause = min(pause * 2, SLOT_POLL_MAX_SECONDS)
        return None

    def _give_slot(self) -> None:
        if self.endpoint is not None:
            slot_give(self.endpoint)

    def _claim(self):
        found = _execute(_CLAIM, {"job": self.job_id, "locks": ROW_LOCKS})
        if not found:
            return None
        row_id, number, values, attempts = found[0]
        if number is None:
            return "retry"  # its row lock is held for a moment by a processor settling it
        return _Row(row_id, number, _decrypt(values), attempts)

    def _process(self, row: _Row) -> None:
        job = self.job
        values = row.values
        message = values.get(job.message_column, "") if job.message_column else ""
        form_values = {name: values.get(column, "") for name, column in (job.form_columns or {}).items()}
        run = None
        try:
            events = run_stream(
                principal=self.principal, agent=job.agent, message=message, form_values=form_values, via=Run.Via.BATCH
            )
            # The run is stored and the row points at it in one transaction: a worker dying in between
            # leaves neither, never a run no row knows about. Nothing has been asked of the model yet.
            with transaction.atomic():
                started = next(events)
                if not isinstance(started, RunStarted):
                    raise RuntimeError("run_stream did not start with RunStarted")
                BatchRow.objects.filter(pk=row.id, status=BatchRow.Status.RUNNING, attempts=row.attempts).update(
                    run=started.run
                )
            run = started.run
            for event in events:
                if isinstance(event, RunFinished):
                    run = event.run
        except QuotaExceeded as exc:
            self._release(row.id, row.attempts, uncount=True)
            if exc.retry_after <= PER_MINUTE_WAIT_MAX:
                with self.lock:
                    self.not_before = max(self.not_before, time.monotonic() + exc.retry_after)
                # Said on the job, so whoever watches its progress knows why it stands still.
                BatchJob.objects.filter(pk=self.job_id, status=BatchJob.Status.RUNNING).update(
                    status_reason=(_("%(reason)s 任务将自动继续。") % {"reason": exc})[:300]
                )
            else:
                self.pause(str(exc))
            return
        except AgentNotAvailable as exc:
            self._release(row.id, row.attempts, uncount=True)
            self.pause(batch_principal_problem(job=job, principal=batch_principal(job=job)) or str(exc))
            return
        except RunInputInvalid as exc:
            self._finish(row, BatchRow.Status.FAILED, str(exc), None)
            return
        except Exception:
            log.exception("batch job %s: row %s failed", self.job_id, row.number)
            if run is None and row.attempts < MAX_ATTEMPTS:
                _close_if_broken()
                self._release(row.id, row.attempts)
            else:
                self._finish(row, BatchRow.Status.FAILED, _("运行出错，请稍后重试；如果反复出现，请联系管理员。"), run)
            return
        if self._model_unreachable(run) and row.attempts < MAX_ATTEMPTS:
            # The model was never reached: the row waits for another attempt instead of failing.
            self._release(row.id, row.attempts)
            return
        self._finish_from_run(row, run)

    def _model_unreachable(self, run: Run) -> bool:
        unreachable = run.status == Run.Status.FAILED and run.model_calls == 0 and not run.retrieval_only
        with self.lock:
            self.model_failures = self.model_failures + 1 if unreachable else 0
            streak = self.model_failures
        if unreachable and streak >= MODEL_FAILURES_BEFORE_PAUSE:
            self.pause(
                _("模型服务连续 %(n)s 次调用失败，任务已自动暂停，请检查模型服务后继续：%(error)s")
                % {"n": streak, "error": run.error}
            )
        return unreachable

    def _finish_from_run(self, row: _Row, run: Run) -> None:
        if run.status == Run.Status.SUCCEEDED:
            self._finish(row, BatchRow.Status.SUCCEEDED, "", run)
        else:
            self._finish(row, BatchRow.Status.FAILED, run.error or run.get_status_display(), run)

    def _release(self, row_id: int, attempts: int, *, uncount: bool = False) -> None:
        """Back to pending (``uncount``: the claim does not count as an attempt), and let go of the row's lock."""
        _execute(_RELEASE, {"row": row_id, "attempts": attempts, "uncount": int(uncount), "lock": ROW_LOCKS + row_id})

    def _finish(self, row: _Row, status: str, error: str, run: Run | None) -> None:
        succeeded = status == BatchRow.Status.SUCCEEDED
        _execute(
            _FINISH,
            {
                "status": status,
                "error": (error or "")[:500],
                "run": run.pk if run is not None else None,
                "row": row.id,
                "attempts": row.attempts,
                "done": int(succeeded),
                "failed": int(not succeeded),
                "job": self.job_id,
                "lock": ROW_LOCKS + row.id,
            },
        )
