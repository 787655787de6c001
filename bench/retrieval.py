"""Retrieval at scale: the production vector and keyword legs over N passages (see bench/README.md).

Embedding 100,000 real passages on 2 CPU cores would take hours, so vectors are synthetic but shaped
like real ones: clustered around 2,000 topics (uniform random vectors have no neighbourhoods and
say nothing about an index), and each query is a perturbed passage, as a question is close to
its answer. Token text is drawn from a 5,000-word vocabulary with a Zipf-like frequency, so
keyword postings are sparse as in real text.

The table holds KBS knowledge bases of several departments; queries search one of them (a
department's base among many), so the knowledge-base filter is applied to what the shared HNSW
index returns, as in production. A tenth of the documents have expired, so the validity filter
removes rows too. Rows are loaded with COPY and the HNSW index is built after loading, as a bulk
import would. Each leg is run through the very SQL retrieve() runs (``_vector_candidates``,
``_keyword_candidates``), with the validity filter on today's date and the generation join.

Baselines in the same run: exact search (index scans off) on the same SQL and queries, for recall
and speed-up; and the vector leg with pgvector's defaults (ef_search 40, no iterative scan) as
the platform ran it before, for latency and for how many of the 50 candidates come back.

    .venv/bin/python bench/retrieval.py [N] [KBS]
"""

import datetime
import random
import statistics
import sys
import time

import numpy as np
from _db import bench_database
from _serving_common import pct as percentile

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
KBS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
QUERIES = 100
DIM = 384
CENTERS = 2000
DOCS_PER_KB = 50
VOCAB = [f"词{i}" for i in range(5000)]
WEIGHTS = [1 / (i + 1) for i in range(len(VOCAB))]


def ms(values, p):
    return percentile(values, p) * 1e3


def main() -> None:
    from django.db import connection, transaction

    from agents.knowledge import retrieval
    from agents.models import Document, KnowledgeBase
    from tenants import audit
    from tenants.models import Department

    audit.AUDITED_APPS.clear()
    rng = np.random.default_rng(7)
    random.seed(7)
    today = datetime.date.today()
    kbs, docs = [], []
    for i in range(KBS):
        department = Department.objects.create(name=f"基准{i}", code=f"bench-retrieval-{i}")
        kb = KnowledgeBase.objects.create(department=department, name=f"知识库{i}")
        kbs.append(kb)
        for j in range(DOCS_PER_KB):
            expired = j % 10 == 0
            docs.append(
                Document.objects.create(
                    knowledge_base=kb,
                    title=f"文档{j}",
                    original_name="bench.txt",
                    sha256="x",
                    status="ready",
                    file="bench.txt",
                    expiry_date=today - datetime.timedelta(days=1) if expired else None,
                ).pk
            )
    kb_ids = [kb.pk for kb in kbs]
    centers = rng.standard_normal((CENTERS, DIM)).astype(np.float32)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS passage_hnsw_{DIM}")
    batch = 10_000
    samples = []
    position = 0
    raw = connection.connection
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY agents_passage (knowledge_base_id, document_id, position, text, heading_path, dimension, generation,"
            " embedding, tokens) FROM STDIN"
        ) as copy,
    ):
        for start in range(0, N, batch):
            size = min(batch, N - start)
            vectors = centers[rng.integers(0, CENTERS, size)] + 0.35 * rng.standard_normal((size, DIM))
            vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
            which = rng.integers(0, len(docs), size)
            samples.append(vectors[which // DOCS_PER_KB == 0][:50])
            for i in range(size):
                d = int(which[i])
                position += 1
                copy.write_row(
                    (
                        kb_ids[d // DOCS_PER_KB],
                        docs[d],
                        position,
                        "段落",
                        "",
                        DIM,
                        0,
                        "[" + ",".join(f"{x:.5f}" for x in vectors[i]) + "]",
                        " ".join(random.choices(VOCAB, WEIGHTS, k=40)),
                    )
                )
    raw.commit() if not raw.autocommit else None
    loaded = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET max_parallel_maintenance_workers = 1")
        cursor.execute(
            f"CREATE INDEX passage_hnsw_{DIM} ON agents_passage USING hnsw ((embedding::vector({DIM})) "
            f"vector_cosine_ops) WHERE dimension = {DIM}"
        )
        cursor.execute("ANALYZE")
    built = time.perf_counter() - started - loaded
    print(f"loaded {N} passages in {KBS} knowledge bases in {loaded:.0f} s (COPY); HNSW index built in {built:.0f} s")

    # A question lies close to its answer: queries are slightly perturbed passages of the searched base.
    target = kbs[0].pk
    own = np.concatenate(samples)
    queries = own[rng.integers(0, len(own), QUERIES)] + 0.05 * rng.standard_normal((QUERIES, DIM))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    params = {"today": today, "tags": []}
    where = retrieval._validity_sql(False)
    sql = retrieval._vector_sql(DIM, where)

    def raw_leg(settings: dict):
        """The vector leg's SQL under the given settings, in one transaction per query."""
        latencies, results = [], []
        for q in queries:
            t = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                for name, value in settings.items():
                    cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
                cursor.execute(sql, {**params, "kb_ids": [target], "vector": str(q.tolist())})
                results.append([r[0] for r in cursor.fetchall()])
            latencies.append(time.perf_counter() - t)
        return latencies, results

    def platform_leg():
        latencies, results = [], []
        for q in queries:
            t = time.perf_counter()
            results.append([r[0] for r in retrieval._vector_candidates([target], DIM, q.tolist(), params, where)])
            latencies.append(time.perf_counter() - t)
        return latencies, results

    exact_lat, exact_res = raw_leg({"enable_indexscan": "off", "enable_bitmapscan": "on"})
    before_lat, before_res = raw_leg({"hnsw.ef_search": "40", "hnsw.iterative_scan": "off"})
    after_lat, after_res = platform_leg()

    def recall(results):
        return statistics.mean(len(set(a[:10]) & set(b[:10])) / 10 for a, b in zip(results, exact_res, strict=True))

    def returned(results):
        return statistics.mean(len(r) for r in results)

    # The plan for large bases: one HNSW index per large knowledge base, holding only its rows, so
    # no row the index returns is filtered out by the knowledge-base condition.
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX passage_hnsw_{DIM}_kb{target} ON agents_passage USING hnsw "
            f"((embedding::vector({DIM})) vector_cosine_ops) WHERE dimension = {DIM} AND knowledge_base_id = {target}"
        )
        cursor.execute("ANALYZE agents_passage")
    partial_built = time.perf_counter() - started
    partial_lat, partial_res = platform_leg()

    keyword_lat = []
    for _ in queries:
        terms = random.choices(VOCAB, WEIGHTS, k=3)
        t = time.perf_counter()
        retrieval._keyword_candidates([target], terms, params, where)
        keyword_lat.append(time.perf_counter() - t)
    hybrid_lat = [v + k for v, k in zip(partial_lat, keyword_lat, strict=True)]

    print(f"searching 1 of {KBS} knowledge bases (~{N // KBS} passages of {N}), validity filter on, {QUERIES} queries")
    print(
        f"exact (index off):       p50 {ms(exact_lat, 0.5):6.1f} ms  p95 {ms(exact_lat, 0.95):6.1f} ms  "
        f"candidates {returned(exact_res):.0f}/50"
    )
    print(
        f"HNSW, pgvector defaults: p50 {ms(before_lat, 0.5):6.1f} ms  p95 {ms(before_lat, 0.95):6.1f} ms  "
        f"candidates {returned(before_res):.0f}/50  recall@10 {recall(before_res):.3f}"
    )
    print(
        f"HNSW, platform settings: p50 {ms(after_lat, 0.5):6.1f} ms  p95 {ms(after_lat, 0.95):6.1f} ms  "
        f"candidates {returned(after_res):.0f}/50  recall@10 {recall(after_res):.3f}  "
        f"(ef_search {retrieval.HNSW_EF_SEARCH}, iterative relaxed_order)"
    )
    print(
        f"HNSW, per-base partial index (built in {partial_built:.1f} s): p50 {ms(partial_lat, 0.5):6.1f} ms  "
        f"p95 {ms(partial_lat, 0.95):6.1f} ms  candidates {returned(partial_res):.0f}/50  "
        f"recall@10 {recall(partial_res):.3f}"
    )
    print(
        f"speed-up against exact, p50: shared index {ms(exact_lat, 0.5) / ms(after_lat, 0.5):.1f}x, "
        f"partial index {ms(exact_lat, 0.5) / ms(partial_lat, 0.5):.1f}x"
    )
    print(f"keyword leg (current):   p50 {ms(keyword_lat, 0.5):6.1f} ms  p95 {ms(keyword_lat, 0.95):6.1f} ms")
    print(
        f"hybrid (partial-index vector + keyword): p50 {ms(hybrid_lat, 0.5):6.1f} ms  p95 {ms(hybrid_lat, 0.95):6.1f} ms"
    )


if __name__ == "__main__":
    with bench_database("shuzhi_bench_retrieval"):
        main()
