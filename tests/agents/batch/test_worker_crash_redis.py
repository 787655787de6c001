"""On Redis, a batch job whose worker is killed (SIGKILL) is taken over by a worker that was already running,
at its beat's next look for abandoned work, and no row that had finished is run again.

(``test_worker_processes`` covers a worker coming up after the kill, on the filesystem broker.)
"""

from __future__ import annotations

from collections import Counter

import pytest

from agents.batch.processing import _nobody_processing
from agents.models import BatchJob, BatchRow, Run
from agents.tasks import process_batch_job
from tests.agents.batch.helpers import chat_agent, key_for, tickets
from tests.agents.batch.test_resume import stored_job
from tests.celery_workers import CeleryWorker, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


def test_a_running_worker_takes_over_the_job_of_a_killed_one(
    redis_server, fake_openai, tenant_a, tenant_b, tmp_path, wait_for
):
    fake_openai.first_token_delay = 0.3
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=2)
    key, _secret = key_for(agent)
    job = stored_job(key, agent, tickets(16))
    # Two workers are up; the one that receives the job is killed, so only the other's beat can notice.
    workers = [
        CeleryWorker(redis_server.url, tmp_path / "a.log", beat=True),
        CeleryWorker(redis_server.url, tmp_path / "b.log", beat=True),
    ]
    try:
        for worker in workers:
            worker.wait_ready()
        send(redis_server.url, process_batch_job, job.pk)
        wait_for(lambda: BatchRow.objects.filter(job=job, status=BatchRow.Status.SUCCEEDED).count() >= 4, timeout=90)
        dead, survivor = sorted(workers, key=lambda w: "process_batch_job" not in w.text())
        dead.kill()
        finished_before = set(
            BatchRow.objects.filter(job=job, status=BatchRow.Status.SUCCEEDED).values_list("number", flat=True)
        )
        assert len(finished_before) < 16
        wait_for(lambda: _nobody_processing(job.pk), timeout=30)

        def finished():
            job.refresh_from_db()
            return job.status == BatchJob.Status.FINISHED

        wait_for(finished, timeout=120)
    finally:
        for worker in workers:
            worker.stop()

    assert (job.done, job.failed) == (16, 0), survivor.text()[-3000:]
    assert "process_batch_job" in survivor.text()  # the survivor did the rest
    asked = Counter(r["body"]["messages"][-1]["content"] for r in fake_openai.chat_requests)
    message = {n: f"第{n - 1}号工单：小区路灯坏了" for n in range(2, 18)}  # row n holds ticket n-1
    assert set(asked) == set(message.values())
    assert all(asked[message[number]] == 1 for number in finished_before)
    runs = Run.objects.filter(api_key=key, via=Run.Via.BATCH, status=Run.Status.SUCCEEDED)
    assert set(Counter(runs.values_list("input_text", flat=True)).values()) == {1}
