"""Retrieval over 100,000 passages: HNSW against exact search, and hybrid latency (see bench/README.md).

Passages get random unit vectors (embedding 100,000 real passages on 2 CPU cores would take hours;
the index does not care where vectors come from) and token text drawn from a Chinese policy
vocabulary, so the keyword side has realistic postings.
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
VOCAB = [
    "补贴",
    "人才",
    "博士",
    "硕士",
    "申报",
    "材料",
    "条件",
    "流程",
    "期限",
    "金额",
    "企业",
    "研发",
    "费用",
    "奖励",
    "创业",
    "贷款",
    "担保",
    "就业",
    "技能",
    "培训",
    "公积金",
    "提取",
    "住房",
    "改造",
    "安全",
    "生产",
    "责任",
    "应急",
    "预案",
    "事故",
    "报告",
    "食品",
    "经营",
    "许可",
    "登记",
    "处罚",
    "裁量",
    "热线",
    "工单",
    "回访",
    "低保",
    "津贴",
    "入学",
    "环境",
    "审批",
    "时限",
    "社保",
    "证明",
    "合同",
    "学历",
]


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
    started = time.perf_counter()
    batch = 5000
    for start in range(0, N, batch):
        vectors = rng.standard_normal((batch, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        Passage.objects.bulk_create(
            [
                Passage(
                    knowledge_base=kb,
                    document=document,
                    position=start + i,
                    text="段落",
                    dimension=DIM,
                    embedding=vectors[i],
                    tokens=" ".join(random.sample(VOCAB, 12)),
                )
                for i in range(batch)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE agents_passage")
    print(f"loaded {N} passages in {time.perf_counter() - started:.0f} s (index built as rows arrive)")

    queries = rng.standard_normal((QUERIES, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
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
        _keyword_candidates([kb.pk], random.sample(VOCAB, 3), params, "")
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
