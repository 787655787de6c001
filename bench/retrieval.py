"""Retrieval over 100,000 passages: HNSW against exact search, and hybrid latency (see bench/README.md).

Embedding 100,000 real passages on 2 CPU cores would take hours, so vectors are synthetic but shaped
like real ones: clustered around 2,000 topics (uniform random vectors have no neighbourhoods and
say nothing about an index), and each query is a perturbed passage, as a question is close to
its answer. Token text is drawn from a 5,000-word vocabulary with a Zipf-like frequency, so
keyword postings are sparse as in real text. The HNSW index is built after loading, as a bulk
import would.
"""

import random
import statistics
import sys
import time

import numpy as np
from _db import bench_database

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
QUERIES = 100
DIM = 384
CENTERS = 2000
VOCAB = [f"词{i}" for i in range(5000)]
WEIGHTS = [1 / (i + 1) for i in range(len(VOCAB))]


def main() -> None:
    from django.db import connection

    from agents.models import Document, KnowledgeBase, Passage
    from tenants import audit
    from tenants.models import Department

    audit.AUDITED_APPS.clear()
    rng = np.random.default_rng(7)
    department = Department.objects.create(name="基准", code="bench-retrieval")
    kb = KnowledgeBase.objects.create(department=department, name="十万段落")
    document = Document.objects.create(
        knowledge_base=kb, title="基准文档", original_name="bench.txt", sha256="x", status="ready", file="bench.txt"
    )
    random.seed(7)
    centers = rng.standard_normal((CENTERS, DIM)).astype(np.float32)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS passage_hnsw_{DIM}")
    batch = 5000
    samples = []
    for start in range(0, N, batch):
        vectors = centers[rng.integers(0, CENTERS, batch)] + 0.35 * rng.standard_normal((batch, DIM))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        samples.append(vectors[:2])
        Passage.objects.bulk_create(
            [
                Passage(
                    knowledge_base=kb,
                    document=document,
                    position=start + i,
                    text="段落",
                    dimension=DIM,
                    embedding=vectors[i],
                    tokens=" ".join(random.choices(VOCAB, WEIGHTS, k=40)),
                )
                for i in range(batch)
            ]
        )
    loaded = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute(
            f"CREATE INDEX passage_hnsw_{DIM} ON agents_passage USING hnsw ((embedding::vector({DIM})) "
            f"vector_cosine_ops) WHERE dimension = {DIM}"
        )
        cursor.execute("ANALYZE agents_passage")
    print(f"loaded {N} passages in {loaded:.0f} s; HNSW index built in {time.perf_counter() - started - loaded:.0f} s")

    # A question lies close to its answer: queries are slightly perturbed passages.
    base = np.concatenate(samples)
    queries = base[rng.integers(0, len(base), QUERIES)] + 0.05 * rng.standard_normal((QUERIES, DIM))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    sql = (
        f"SELECT id FROM agents_passage WHERE knowledge_base_id = %s AND dimension = {DIM} "
        f"ORDER BY embedding::vector({DIM}) <=> %s::vector({DIM}) LIMIT 10"
    )

    def run(exact: bool):
        latencies, results = [], []
        with connection.cursor() as cursor:
            cursor.execute("SET enable_indexscan = %s" % ("off" if exact else "on"))
            cursor.execute("SET hnsw.ef_search = 80")
            for q in queries:
                t = time.perf_counter()
                cursor.execute(sql, [kb.pk, str(q.tolist())])
                results.append([r[0] for r in cursor.fetchall()])
                latencies.append(time.perf_counter() - t)
            cursor.execute("SET enable_indexscan = on")
        return latencies, results

    hnsw_lat, hnsw_res = run(exact=False)
    exact_lat, exact_res = run(exact=True)
    recall = statistics.mean(len(set(a) & set(b)) / 10 for a, b in zip(hnsw_res, exact_res, strict=True))

    from agents.knowledge.retrieval import _keyword_candidates, _vector_candidates

    hybrid = []
    params = {"today": None, "tags": []}
    for q in queries[:50]:
        t = time.perf_counter()
        _vector_candidates([kb.pk], DIM, q.tolist(), params, "")
        _keyword_candidates([kb.pk], random.choices(VOCAB, WEIGHTS, k=3), params, "")
        hybrid.append(time.perf_counter() - t)

    def pct(values, p):
        return sorted(values)[int(p * (len(values) - 1))] * 1e3

    print(f"HNSW top-10:  p50 {pct(hnsw_lat, 0.5):.1f} ms  p95 {pct(hnsw_lat, 0.95):.1f} ms")
    print(f"exact top-10: p50 {pct(exact_lat, 0.5):.1f} ms  p95 {pct(exact_lat, 0.95):.1f} ms")
    print(f"HNSW recall@10 against exact: {recall:.3f}; speed-up p50 {pct(exact_lat, 0.5) / pct(hnsw_lat, 0.5):.1f}x")
    print(
        f"hybrid (vector + keyword candidates, 50 each): p50 {pct(hybrid, 0.5):.1f} ms  p95 {pct(hybrid, 0.95):.1f} ms"
    )


if __name__ == "__main__":
    with bench_database("shuzhi_bench_retrieval"):
        main()
