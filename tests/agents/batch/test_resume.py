"""Taking over a batch job whose worker died: finished runs are taken, unfinished rows run again, nothing twice.

The states a dead worker leaves behind are built here directly (a "running" row with a finished run, with
an unfinished run, with none); a live worker elsewhere is played by a connection holding its locks. A real
worker then resumes the job, and the loopback model server counts what was asked again.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from agents.batch.processing import JOB_LOCKS, ROW_LOCKS, batch_jobs_resume
from agents.models import BatchJob, BatchRow, Run
from tests.agents.batch.helpers import HEADER, chat_agent, key_for, tickets

pytestmark = pytest.mark.django_db(transaction=True)


class HeldLock:
    """An advisory lock held by another database session (a live worker elsewhere) until released."""

    def __init__(self, key: int, *, shared: bool = False):
        self.key, self.shared = key, shared
        self.taken, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)
        self.thread.start()
        assert self.taken.wait(10)

    def _hold(self):
        suffix = "_shared" if self.shared else ""
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_lock{suffix}(%s)", [self.key])
                self.taken.set()
                self.release.wait(60)
                cursor.execute(f"SELECT pg_advisory_unlock{suffix}(%s)", [self.key])
        finally:
            connections.close_all()

    def free(self):
        self.release.set()
        self.thread.join(10)


def stored_job(key, agent, rows, **fields) -> BatchJob:
    """A job as ``batch_job_create`` stores it, without queueing it (the test decides when a worker looks)."""
    job = BatchJob.objects.create(
        department=key.department,
        agent=agent,
        api_key=key,
        file_name="工单.csv",
        columns=HEADER,
        message_column="来电内容",
        total=len(rows),
        **fields,
    )
    BatchRow.objects.bulk_create(
        BatchRow(job=job, number=n, values=dict(zip(HEADER, row, strict=True))) for n, row in enumerate(rows, start=2)
    )
    return job


def left_by_a_dead_worker(job, agent, key):
    """Put ``job`` in the state a worker killed mid-job leaves; returns the rows by number."""
    rows = {r.number: r for r in BatchRow.objects.filter(job=job)}

    def run(status, answer="", model_calls=1):
        return Run.objects.create(
            department=agent.department,
            caller_department=agent.department,
            agent=agent,
            api_key=key,
            via=Run.Via.BATCH,
            input_text="早先的运行",
            answer=answer,
            status=status,
            model_calls=model_calls,
            error="" if status == Run.Status.SUCCEEDED else "模型返回内容被拦截",
        )

    def put(number, status, run=None, attempts=1):
        BatchRow.objects.filter(pk=rows[number].pk).update(status=status, run=run, attempts=attempts)

    for number in (2, 3, 4):
        put(number, BatchRow.Status.SUCCEEDED, run(Run.Status.SUCCEEDED, "早先的回答"))
    put(5, BatchRow.Status.RUNNING, run(Run.Status.SUCCEEDED, "死前刚写完的回答"))
    put(6, BatchRow.Status.RUNNING, run(Run.Status.BLOCKED, "已拦截"))
    put(7, BatchRow.Status.RUNNING, run(Run.Status.RUNNING, "写了一半"))
    put(8, BatchRow.Status.RUNNING)
    put(9, BatchRow.Status.RUNNING, run(Run.Status.RUNNING, "第三次也没写完"), attempts=3)
    put(10, BatchRow.Status.RUNNING)  # its claimer is alive (the test holds its lock)
    BatchJob.objects.filter(pk=job.pk).update(
        status=BatchJob.Status.RUNNING,
        done=3,
        started_at=timezone.now() - timedelta(minutes=10),
        heartbeat_at=timezone.now() - timedelta(minutes=5),
    )
    return {n: BatchRow.objects.get(pk=r.pk) for n, r in rows.items()}


def test_a_resumed_job_takes_finished_runs_and_reruns_only_unfinished_rows(
    celery_worker, fake_openai, tenant_a, tenant_b, wait_for
):
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=2)
    key, _secret = key_for(agent)
    job = stored_job(key, agent, tickets(12))
    rows = left_by_a_dead_worker(job, agent, key)
    live_row = HeldLock(ROW_LOCKS + rows[10].pk)
    assert fake_openai.chat_requests == []

    assert batch_jobs_resume() == [job.pk]
    # Rows 7, 8 and 11–13 run; 5 and 6 take their finished runs; 9 has had its three attempts.
    wait_for(
        lambda: (
            len(fake_openai.chat_requests) >= 5
            and not BatchRow.objects.filter(job=job, status=BatchRow.Status.PENDING).exists()
        )
    )
    wait_for(lambda: BatchRow.objects.filter(job=job, status=BatchRow.Status.RUNNING).count() == 1)
    job.refresh_from_db()
    assert job.status == BatchJob.Status.RUNNING  # row 10 is still someone else's
    after = {r.number: r for r in BatchRow.objects.filter(job=job)}
    assert (after[5].status, after[5].run_id) == (BatchRow.Status.SUCCEEDED, rows[5].run_id)
    assert (after[6].status, after[6].run_id) == (BatchRow.Status.FAILED, rows[6].run_id)
    assert after[6].error == "模型返回内容被拦截"
    assert after[7].status == BatchRow.Status.SUCCEEDED and after[7].run_id != rows[7].run_id
    assert after[7].attempts == 2
    assert Run.objects.get(pk=rows[7].run_id).status == Run.Status.INCOMPLETE
    assert after[9].status == BatchRow.Status.FAILED and "3 次" in after[9].error
    assert Run.objects.get(pk=rows[9].run_id).status == Run.Status.INCOMPLETE
    assert (after[10].status, after[10].run_id) == (BatchRow.Status.RUNNING, None)
    asked = sorted(r["body"]["messages"][-1]["content"] for r in fake_openai.chat_requests)
    assert asked == sorted(f"第{i}号工单：小区路灯坏了" for i in (6, 7, 10, 11, 12))  # rows 7, 8, 11, 12, 13

    # The other claimer dies too: the next resume finishes the job.
    live_row.free()
    assert batch_jobs_resume() == [job.pk]

    def finished():
        job.refresh_from_db()
        return job.status == BatchJob.Status.FINISHED

    wait_for(finished)
    assert (job.done, job.failed) == (10, 2)
    assert len(fake_openai.chat_requests) == 6
    assert Run.objects.filter(api_key=key, status=Run.Status.SUCCEEDED).count() == 3 + 1 + 6


def test_only_jobs_nobody_processes_are_resumed(celery_worker, fake_openai, tenant_a, tenant_b):
    agent = chat_agent(tenant_a.department, fake_openai)
    key, _secret = key_for(agent)
    now = timezone.now()
    states = {
        "alive": (BatchJob.Status.RUNNING, now - timedelta(minutes=10)),
        "dead-recent": (BatchJob.Status.RUNNING, now - timedelta(seconds=20)),
        "dead-old": (BatchJob.Status.RUNNING, now - timedelta(minutes=3)),
        "lost-message": (BatchJob.Status.QUEUED, now - timedelta(minutes=3)),
        "just-queued": (BatchJob.Status.QUEUED, now - timedelta(seconds=5)),
        "paused": (BatchJob.Status.PAUSED, now - timedelta(minutes=10)),
        "finished": (BatchJob.Status.FINISHED, now - timedelta(minutes=10)),
    }
    jobs = {
        name: stored_job(key, agent, tickets(1), name=name, status=status, heartbeat_at=heartbeat)
        for name, (status, heartbeat) in states.items()
    }
    alive = HeldLock(JOB_LOCKS + jobs["alive"].pk, shared=True)  # a processor in another process
    # A worker coming up: every running job nobody processes, however recent its heartbeat.
    assert sorted(batch_jobs_resume()) == [jobs["dead-recent"].pk, jobs["dead-old"].pk]
    # The beat: no heartbeat for two minutes and nobody processing it, or queued long ago (a lost message).
    # Queueing touched the heartbeats of the two just resumed, so they are not queued twice.
    assert batch_jobs_resume(stale_after=timedelta(minutes=2)) == [jobs["lost-message"].pk]
    alive.free()
