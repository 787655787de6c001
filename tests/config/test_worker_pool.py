"""Celery's prefork worker with each process's own connection pool, as served.

Worker processes are forked from the worker's main process, which uses the database itself (it takes
over batch jobs when it comes up). A forked process must open its own pool, never use the one it
inherited: here every job runs in a freshly forked process (one task per process), several threads
each, and every row finishes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

from agents.models import BatchJob, BatchRow
from tests.agents.batch.helpers import chat_agent, key_for, tickets
from tests.agents.batch.test_resume import stored_job
from tests.agents.batch.test_worker_processes import broker_folder, enqueue, worker_script
from tests.config.served import database_url

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = worker_script("--pool=prefork", "--concurrency=2", "--max-tasks-per-child=1")


def test_forked_worker_processes_each_use_a_pool_of_their_own(fake_openai, tenant_a, tenant_b, tmp_path, wait_for):
    fake_openai.first_token_delay = 0.1
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=3)
    key, _secret = key_for(agent)
    jobs = [stored_job(key, agent, tickets(6, start=10 * n)) for n in range(4)]
    folder = broker_folder(tmp_path)
    log = tmp_path / "worker.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}  # as served: with the pool
    env.update(
        DATABASE_URL=database_url(),
        DJANGO_SETTINGS_MODULE="config.settings",
        SHUZHI_DB_POOL_MAX="5",
        SHUZHI_DB_POOL_TIMEOUT="10",
    )
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(folder)], cwd=settings.BASE_DIR, env=env, stdout=out, stderr=out
        )
    try:
        wait_for(lambda: "ready" in log.read_text(), timeout=60)
        enqueue(folder, *[job.pk for job in jobs])

        def all_finished():
            return BatchJob.objects.filter(pk__in=[j.pk for j in jobs], status=BatchJob.Status.FINISHED).count() == 4

        wait_for(all_finished, timeout=120)
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert BatchRow.objects.filter(job__in=jobs, status=BatchRow.Status.SUCCEEDED).count() == 24, log.read_text()[
        -3000:
    ]
    assert "PoolTimeout" not in log.read_text() and "couldn't get a connection" not in log.read_text()
