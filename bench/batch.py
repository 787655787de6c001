"""A 10,000-row batch job through real Celery workers against a plain asyncio fan-out (see bench/README.md).

The platform side is the path a job takes in production: the file is read and its rows stored by
``batch_job_create``, a ``celery worker`` of its own (on a message folder of its own) takes the job, and
its threads — as many as the endpoint's ``max_concurrency`` — each hold one of the endpoint's
advisory-lock slots, claim a row, run it through ``run_stream`` (run row, masking, prompt, streamed model
call through the gateway, word filters, metering, trace) and record the outcome. It is measured with one
worker process on the job (the default) and with two (``SHUZHI_BATCH_PROCESSES=2``, the slots shared
between them). Throughput is the job's rows over the time between a worker starting it and its end.

The baseline, measured in the same run, is what a script would do without the platform: one asyncio
event loop with the official ``AsyncOpenAI`` client, as many coroutines as the endpoint's concurrency,
sending the same number of streamed chat requests with the very prompt the platform builds.

The model is the tests' fake OpenAI server in a child process, answering every request after a fixed
time (200 ms by default: fast for a language model). The baseline runs before and after the platform and
its mean is used, so a slow patch of the shared machine does not fall on one side only.

Usage: ``.venv/bin/python bench/batch.py [ROWS] [CONCURRENCY] [MODEL_MS] [PROCESSES,...]`` (defaults
10000 16 200 1,2).
"""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _db import ROOT, bench_database

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
CONCURRENCY = int(sys.argv[2]) if len(sys.argv) > 2 else 16
MODEL_SECONDS = (int(sys.argv[3]) if len(sys.argv) > 3 else 200) / 1000
# Worker processes taking the job at once (SHUZHI_BATCH_PROCESSES), one measurement each; the worker runs
# with as many pool processes.
PROCESSES = [int(p) for p in (sys.argv[4] if len(sys.argv) > 4 else "1,2").split(",")]
REPLY = "工单分类：市政设施（路灯）。建议派往区城管局。"

SERVER = """
import sys
sys.path.insert(0, sys.argv[1])
from tests.fakes.openai_server import FakeOpenAI
fake = FakeOpenAI().start()
fake.reply, fake.first_token_delay = sys.argv[2], float(sys.argv[3])
print(fake.base_url, flush=True)
sys.stdin.read()  # serve until the benchmark closes our stdin
"""

WORKER = """
import os, sys
sys.path.insert(0, os.getcwd())
from config.celery import app
folder = sys.argv[1]
app.conf.update(
    broker_url="filesystem://",
    broker_transport_options={
        "data_folder_in": folder,
        "data_folder_out": folder,
        "processed_folder": folder + "-done",
        "control_folder": folder + "-control",
    },
)
processes = int(sys.argv[2])
pool = ["--pool=solo"] if processes == 1 else ["--pool=prefork", f"--concurrency={processes}"]
app.worker_main(["worker", *pool, "--without-mingle", "--without-gossip", "--loglevel=WARNING"])
"""


def tickets_csv(n: int) -> bytes:
    lines = ["工单号,来电内容"]
    districts = ["东城", "西城", "南湖", "北岭", "新区"]
    for i in range(1, n + 1):
        lines.append(f"T{i:06d},{districts[i % 5]}街道第{i}号来电：小区路灯坏了三天，晚上出行不便，请尽快维修。")
    return "\r\n".join(lines).encode("utf-8-sig")


async def fan_out(base_url: str, prompt: list[dict], rows: int, concurrency: int) -> float:
    """``rows`` streamed chat requests from ``concurrency`` coroutines; returns the seconds taken."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(rows):
        queue.put_nowait(n)
    answers = 0

    async def worker() -> None:
        nonlocal answers
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            stream = await client.chat.completions.create(
                model="fake-chat", messages=prompt, stream=True, stream_options={"include_usage": True}
            )
            text = ""
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
            if text == REPLY:
                answers += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    await client.close()
    if answers != rows:
        raise RuntimeError(f"the baseline got {answers} answers of {rows}")
    return seconds


def main(base_url: str, folder: Path) -> None:
    from agents.models import AllowedHost, Run
    from agents.runtime.pipeline import run_execute
    from tests.agents.factories import make_endpoint
    from tests.agents.runtime.helpers import published_agent
    from tests.factories import make_api_key, make_tenant

    tenant = make_tenant("基准")
    department = tenant.department
    AllowedHost.objects.get_or_create(pattern="127.0.0.1")  # the egress guard, as a platform admin would
    endpoint = make_endpoint(department, base_url=base_url, models="fake-chat", max_concurrency=CONCURRENCY)
    agent = published_agent(department, endpoint=endpoint)
    key, _secret = make_api_key(department, agents=[agent])

    # The prompt the platform builds for a row, which the baseline sends as it is.
    sample = run_execute(
        principal=key, agent=agent, message="南湖街道第1号来电：小区路灯坏了三天，晚上出行不便，请尽快维修。"
    )
    prompt = sample.prompt_messages
    if sample.status != Run.Status.SUCCEEDED or sample.answer != REPLY:
        raise RuntimeError(f"the sample run did not answer: {sample.status} {sample.error}")

    print(
        f"{ROWS:,} rows, endpoint max_concurrency {CONCURRENCY}, fake model answering after {MODEL_SECONDS * 1e3:.0f} ms "
        f"({len(REPLY)} chunks, streamed)"
    )
    before = asyncio.run(fan_out(base_url, prompt, ROWS, CONCURRENCY))
    print(f"asyncio fan-out (before):            {ROWS / before:,.0f} rows/s ({before:.1f} s)")
    platform = {}
    for processes in PROCESSES:
        seconds, wall, created = batch_run(key, agent, folder, processes)
        platform[processes] = seconds
        print(
            f"platform, {processes} worker process(es) on the job: {ROWS / seconds:,.0f} rows/s ({seconds:.1f} s from a "
            f"worker starting the job to its end; {wall:.1f} s from queueing it; reading and storing the file "
            f"took {created:.1f} s)"
        )
    after = asyncio.run(fan_out(base_url, prompt, ROWS, CONCURRENCY))
    print(f"asyncio fan-out (after):             {ROWS / after:,.0f} rows/s ({after:.1f} s)")
    baseline = ROWS / ((before + after) / 2)
    print()
    for processes, seconds in platform.items():
        print(
            f"ratio platform ({processes} process(es)) / asyncio fan-out: {ROWS / seconds / baseline:.2f} "
            f"(target ≥ 0.90)"
        )


def batch_run(key, agent, folder: Path, processes: int) -> tuple[float, float, float]:
    """A job of ROWS rows through a real worker with ``processes`` pool processes, each taking the job."""
    from django.db import transaction
    from kombu import Connection

    from agents.batch.services import batch_job_create
    from agents.models import BatchJob, BatchRow, Run
    from agents.tasks import process_batch_job

    data = tickets_csv(ROWS)
    started = time.perf_counter()
    with transaction.atomic():  # the job's own on_commit message goes to this process's unused broker
        job = batch_job_create(
            principal=key, agent=agent, file_name="工单.csv", data=data, message_column="来电内容", name="基准"
        )
    created = time.perf_counter() - started
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(folder), str(processes)], cwd=ROOT, env=env)
    try:
        time.sleep(3 + processes)  # the worker comes up
        queued = time.perf_counter()
        transport = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder) + "-control",
        }
        with Connection("filesystem://", transport_options=transport) as broker:
            for _n in range(processes):
                process_batch_job.apply_async(args=[job.pk], connection=broker)
        while True:
            job.refresh_from_db()
            if job.status in (BatchJob.Status.FINISHED, BatchJob.Status.PAUSED, BatchJob.Status.CANCELLED):
                break
            time.sleep(0.2)
        wall = time.perf_counter() - queued
    finally:
        worker.terminate()
        worker.wait(60)
    if (job.status, job.done, job.failed) != (BatchJob.Status.FINISHED, ROWS, 0):
        raise RuntimeError(f"the job ended {job.status}: {job.done} done, {job.failed} failed ({job.status_reason})")
    answered = BatchRow.objects.filter(job=job, run__status=Run.Status.SUCCEEDED, run__answer=REPLY).count()
    runs = Run.objects.filter(via=Run.Via.BATCH, started_at__gte=job.started_at).count()
    if answered != ROWS or runs != ROWS:
        raise RuntimeError(f"{answered} rows answered by {runs} runs, expected {ROWS} and {ROWS}")
    return (job.finished_at - job.started_at).total_seconds(), wall, created


if __name__ == "__main__":
    # This process's own enqueueing goes nowhere (the worker has a message folder of its own).
    os.environ["CELERY_BROKER_URL"] = "memory://"
    media = os.environ["SHUZHI_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="shuzhi-bench-media-")
    broker = Path(tempfile.mkdtemp(prefix="shuzhi-bench-broker-"))
    (broker / "queue").mkdir()
    Path(str(broker / "queue") + "-done").mkdir()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(ROOT), REPLY, str(MODEL_SECONDS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        with bench_database("shuzhi_bench_batch"):
            main(url, broker / "queue")
    finally:
        server.stdin.close()
        server.wait(timeout=10)
        shutil.rmtree(media, ignore_errors=True)
        shutil.rmtree(broker, ignore_errors=True)
