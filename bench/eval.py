"""A test set of 200 cases against the batch runner, in the same run (see bench/README.md).

Both sides are what their Celery tasks call, run in this process one after the other against the same
agent, endpoint and fake model: ``eval_run_process`` (a thread per endpoint slot, each case through
``run_stream`` with ``via`` "eval", then graded: sources against the retrieved passages, phrases against
the answer, its result stored and counted) and ``batch_job_process`` (the batch runner: advisory-lock
slots, ``SKIP LOCKED`` claims, each row through ``run_stream``). Each side runs twice, alternating, and the
faster of its two runs is kept. The agent answers from a one-document knowledge base with the model.

The model is the tests' fake OpenAI server in a child process, answering every request after a fixed time
(200 ms by default).

Usage: ``.venv/bin/python bench/eval.py [CASES] [CONCURRENCY] [MODEL_MS]`` (defaults 200 8 200).
"""

import subprocess
import sys
import time

from _db import ROOT, bench_database

CASES = int(sys.argv[1]) if len(sys.argv) > 1 else 200
CONCURRENCY = int(sys.argv[2]) if len(sys.argv) > 2 else 8
MODEL_SECONDS = (int(sys.argv[3]) if len(sys.argv) > 3 else 200) / 1000
REPLY = "博士研究生每月可领3000元安居补贴，最长36个月[1]。"

SERVER = """
import sys
sys.path.insert(0, sys.argv[1])
from tests.fakes.openai_server import FakeOpenAI
fake = FakeOpenAI().start()
fake.reply, fake.first_token_delay = sys.argv[2], float(sys.argv[3])
print(fake.base_url, flush=True)
sys.stdin.read()  # serve until the benchmark closes our stdin
"""


def questions(n: int) -> list[str]:
    return [f"我是博士，第{i}个问题：来区里工作，安居补贴每月多少？" for i in range(1, n + 1)]


def main(base_url: str) -> None:
    from agents.batch.processing import batch_job_process
    from agents.batch.services import batch_job_create
    from agents.evaluation.processing import eval_run_process
    from agents.evaluation.services import eval_run_start
    from agents.models import AllowedHost, BatchJob, EvalCase, EvalRun
    from tenants import audit
    from tests.agents.factories import make_endpoint
    from tests.agents.runtime.helpers import policy_knowledge_base, published_agent
    from tests.factories import make_tenant

    tenant = make_tenant("基准")
    department = tenant.department
    AllowedHost.objects.get_or_create(pattern="127.0.0.1")  # the egress guard, as a platform admin would
    endpoint = make_endpoint(department, base_url=base_url, models="fake-chat", max_concurrency=CONCURRENCY)
    agent = published_agent(department, endpoint=endpoint, knowledge_bases=[policy_knowledge_base(department)])
    texts = questions(CASES)
    EvalCase.objects.bulk_create(
        EvalCase(
            agent=agent,
            name=f"用例{i}",
            message=text,
            expected_sources="第一条",
            must_include="3000元",
            must_exclude="无法回答",
        )
        for i, text in enumerate(texts, 1)
    )
    csv = ("问题\n" + "\n".join(texts) + "\n").encode()
    print(
        f"{CASES} cases / rows, endpoint max_concurrency {CONCURRENCY}, fake model answering after "
        f"{MODEL_SECONDS * 1e3:.0f} ms ({len(REPLY)} chunks, streamed), retrieval over one policy document"
    )

    def evaluation() -> float:
        with audit.context(actor=tenant.admin, via="bench"):
            eval_run = eval_run_start(agent=agent, user=tenant.admin, version=agent.current_version)
        started = time.perf_counter()
        eval_run_process(eval_run_id=eval_run.pk)
        seconds = time.perf_counter() - started
        eval_run.refresh_from_db()
        if eval_run.status != EvalRun.Status.FINISHED or eval_run.passed != CASES:
            raise RuntimeError(f"the evaluation did not pass: {eval_run.passed}/{eval_run.done}")
        return seconds

    def batch() -> float:
        job = batch_job_create(
            principal=tenant.admin, agent=agent, file_name="问题.csv", data=csv, message_column="问题"
        )
        started = time.perf_counter()
        batch_job_process(job_id=job.pk)
        seconds = time.perf_counter() - started
        job.refresh_from_db()
        if job.status != BatchJob.Status.FINISHED or job.done != CASES:
            raise RuntimeError(f"the batch did not finish: {job.status} {job.done}/{job.total}")
        return seconds

    timings = {"batch": [], "eval": []}
    for _round in range(2):
        timings["batch"].append(batch())
        print(f"batch runner:   {CASES / timings['batch'][-1]:6.1f} rows/s  ({timings['batch'][-1]:.1f} s)")
        timings["eval"].append(evaluation())
        print(f"test set run:   {CASES / timings['eval'][-1]:6.1f} cases/s ({timings['eval'][-1]:.1f} s)")
    best_batch, best_eval = CASES / min(timings["batch"]), CASES / min(timings["eval"])
    print()
    print(f"best: test set {best_eval:.1f} cases/s, batch runner {best_batch:.1f} rows/s")
    print(f"ratio test set / batch runner: {best_eval / best_batch:.2f} (target ≈ 1)")

    from agents.llm import limits

    limits._slot_holder()._drop()  # the endpoint slots' own connection, so that the database can be dropped


if __name__ == "__main__":
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(ROOT), REPLY, str(MODEL_SECONDS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        with bench_database("shuzhi_bench_eval"):
            main(url)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
