"""Real worker processes: the endpoint's concurrency holds across them, and a worker killed mid-job (SIGKILL)
is replaced by a new one that finishes the job without running any row twice.

The workers are ``celery worker`` processes of their own, on the test database and a message folder of
their own; the model server is the loopback fake in this process, which records every request. A row whose
answer was being generated when the worker died is asked again (its run is closed as incomplete); a row that
had finished is never asked again; every row ends with exactly one finished run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from kombu import Connection

from agents.batch.processing import _nobody_processing
from agents.models import BatchJob, BatchRow, Run
from agents.tasks import process_batch_job
from tests.agents.batch.helpers import chat_agent, key_for, tickets
from tests.agents.batch.test_resume import stored_job
from tests.config.served import database_url

pytestmark = pytest.mark.django_db(transaction=True)


def worker_script(*options: str) -> str:
    """A celery worker on the broker folder given as its first argument, started with ``options``."""
    return f"""
import os, sys
sys.path.insert(0, os.getcwd())
from config.celery import app
folder = sys.argv[1]
app.conf.update(
    broker_url="filesystem://",
    broker_transport_options={{
        "data_folder_in": folder,
        "data_folder_out": folder,
        "processed_folder": folder + "-done",
        "control_folder": folder + "-control",
    }},
)
app.worker_main(["worker", {", ".join(repr(o) for o in options)}, "--without-mingle", "--without-gossip", "--loglevel=INFO"])
"""


WORKER = worker_script("--pool=solo")


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


def enqueue(folder: Path, *job_ids: int) -> None:
    with Connection(
        "filesystem://",
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder) + "-control",
        },
    ) as broker:
        for job_id in job_ids:
            process_batch_job.apply_async(args=[job_id], connection=broker)


def broker_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "broker"
    folder.mkdir()
    (tmp_path / "broker-done").mkdir()
    return folder


def test_two_workers_on_one_job_share_the_endpoints_concurrency_and_run_each_row_once(
    fake_openai, tenant_a, tenant_b, tmp_path, wait_for
):
    fake_openai.first_token_delay = 0.3
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=2)
    key, _secret = key_for(agent)
    shared = stored_job(key, agent, tickets(24))
    other = stored_job(key, agent, tickets(4, start=100))
    folder = broker_folder(tmp_path)
    logs = [tmp_path / "worker1.log", tmp_path / "worker2.log"]
    workers = [Worker(folder, log) for log in logs]
    try:
        wait_for(lambda: all(log.exists() and "ready" in log.read_text() for log in logs), timeout=60)
        enqueue(folder, shared.pk, shared.pk, other.pk)  # both workers take the first job at once

        def finished():
            return BatchJob.objects.filter(status=BatchJob.Status.FINISHED).count() == 2

        wait_for(finished, timeout=120)
    finally:
        for worker in workers:
            worker.stop()
    # Each worker took one of the shared job's two messages (they come first), and both worked on it at once.
    events = sorted(
        (stamp, event, worker)
        for worker, log in enumerate(logs)
        for stamp, event in re.findall(
            r"\[([\d\- :,]+): INFO/MainProcess\] Task agents\.tasks\.process_batch_job\[[^\]]+\] (received|succeeded)",
            log.read_text(),
        )
    )
    received = [(stamp, worker) for stamp, event, worker in events if event == "received"]
    first_done = min(stamp for stamp, event, _worker in events if event == "succeeded")
    assert len(received) == 3 and {worker for _stamp, worker in received[:2]} == {0, 1}, events
    assert received[1][0] < first_done, events
    # Four threads in two processes, two slots: never more than two model calls at once.
    assert fake_openai.max_active == 2
    asked = Counter(r["body"]["messages"][-1]["content"] for r in fake_openai.chat_requests)
    assert len(asked) == 28 and set(asked.values()) == {1}
    for job in (shared, other):
        job.refresh_from_db()
        assert job.failed == 0 and job.done == job.total


def test_a_worker_killed_mid_job_is_replaced_and_no_row_runs_twice(fake_openai, tenant_a, tenant_b, tmp_path, wait_for):
    fake_openai.first_token_delay = 0.3
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=3)
    key, _secret = key_for(agent)
    job = stored_job(key, agent, tickets(40))
    folder = broker_folder(tmp_path)
    log = tmp_path / "workers.log"

    first = Worker(folder, log)
    second = None
    try:
        with Connection(
            "filesystem://",
            transport_options={
                "data_folder_in": str(folder),
                "data_folder_out": str(folder),
                "control_folder": str(folder) + "-control",
            },
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
