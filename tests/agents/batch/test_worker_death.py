"""A real worker process killed mid-job (SIGKILL), and a new one that finishes the job: no row runs twice.

The workers are ``celery worker`` processes of their own, on the test database and a message folder of
their own; the model server is the loopback fake in this process, which records every request. A row whose
answer was being generated when the worker died is asked again (its run is closed as incomplete); a row that
had finished is never asked again; every row ends with exactly one finished run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from kombu import Connection

from agents.batch.processing import _nobody_processing
from agents.models import BatchJob, BatchRow, Run
from agents.tasks import process_batch_job
from tests.agents.batch.helpers import chat_agent, key_for, tickets
from tests.agents.batch.test_resume import stored_job

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = """
import os, sys
sys.path.insert(0, os.getcwd())
from config.celery import app
folder = sys.argv[1]
app.conf.update(
    broker_url="filesystem://",
    broker_transport_options={"data_folder_in": folder, "data_folder_out": folder, "processed_folder": folder + "-done"},
)
app.worker_main(["worker", "--pool=solo", "--without-mingle", "--without-gossip", "--loglevel=INFO"])
"""


def database_url() -> str:
    db = connection.settings_dict
    return f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}&port={db['PORT']}"


class Worker:
    def __init__(self, folder: Path, log: Path):
        env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"}
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(folder)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def test_a_worker_killed_mid_job_is_replaced_and_no_row_runs_twice(fake_openai, tenant_a, tenant_b, tmp_path, wait_for):
    fake_openai.first_token_delay = 0.3
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=3)
    key, _secret = key_for(agent)
    job = stored_job(key, agent, tickets(40))
    folder = tmp_path / "broker"
    folder.mkdir()
    (tmp_path / "broker-done").mkdir()
    log = tmp_path / "workers.log"

    first = Worker(folder, log)
    second = None
    try:
        with Connection(
            "filesystem://", transport_options={"data_folder_in": str(folder), "data_folder_out": str(folder)}
        ) as broker:
            process_batch_job.apply_async(args=[job.pk], connection=broker)
        wait_for(lambda: BatchRow.objects.filter(job=job, status=BatchRow.Status.SUCCEEDED).count() >= 6, timeout=90)
        wait_for(lambda: BatchRow.objects.filter(job=job, status=BatchRow.Status.RUNNING, run__isnull=False).exists())
        first.kill()

        finished_before = set(
            BatchRow.objects.filter(job=job, status=BatchRow.Status.SUCCEEDED).values_list("number", flat=True)
        )
        in_flight = set(
            BatchRow.objects.filter(job=job, status=BatchRow.Status.RUNNING).values_list("number", flat=True)
        )
        assert in_flight and len(finished_before) < 40
        job.refresh_from_db()
        assert job.status == BatchJob.Status.RUNNING
        # The dead worker's database sessions end, and its locks with them.
        wait_for(lambda: _nobody_processing(job.pk), timeout=30)

        second = Worker(folder, log)  # coming up, it takes the job over by itself

        def finished():
            job.refresh_from_db()
            return job.status == BatchJob.Status.FINISHED

        wait_for(finished, timeout=120)
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert (job.done, job.failed) == (40, 0), log.read_text()[-3000:]
    asked = Counter(r["body"]["messages"][-1]["content"] for r in fake_openai.chat_requests)
    message = {n: f"第{n - 1}号工单：小区路灯坏了" for n in range(2, 42)}  # row n holds ticket n-1
    assert set(asked) == set(message.values())
    for number in finished_before:
        assert asked[message[number]] == 1, number
    asked_twice = {n for n, text in message.items() if asked[text] > 1}
    assert asked_twice <= in_flight and max(asked.values()) <= 2
    runs = Run.objects.filter(api_key=key, via=Run.Via.BATCH)
    succeeded = Counter(runs.filter(status=Run.Status.SUCCEEDED).values_list("input_text", flat=True))
    assert sorted(succeeded) == sorted(message.values()) and set(succeeded.values()) == {1}
    # The runs cut off by the kill are closed, not left "running".
    assert not runs.filter(status=Run.Status.RUNNING).exists()
    assert runs.filter(status=Run.Status.INCOMPLETE).count() >= len(asked_twice)
    assert BatchRow.objects.filter(job=job, run__status=Run.Status.SUCCEEDED).count() == 40
