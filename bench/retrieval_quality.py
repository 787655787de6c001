"""Article-level retrieval quality over real statutes (see bench/README.md).

Uploads the Markdown statutes in ``/work/shared/corpus/laws`` (or ``--laws``) into a fresh
knowledge base through the normal upload and ingestion path, asks every question of
``tests/agents/knowledge/statute_set.json`` and prints recall@1 / recall@5 for the hybrid,
vector-only and keyword-only rankings, with per-query latency (query embedding included).
A hit is a passage whose citation names one of the question's articles.

Embedding ~1,000 articles with the bundled model takes minutes on 2 cores, so passage vectors are
cached under ``var/bench/statute-embeddings.npz`` keyed by the text's SHA-256 (``--no-cache``
to embed afresh). Query vectors are never cached: their time is part of the latency.
"""

import argparse
import hashlib
import json
import re
import statistics
import time
from pathlib import Path

import numpy as np
from _db import ROOT, bench_database

SET = ROOT / "tests" / "agents" / "knowledge" / "statute_set.json"
CACHE = ROOT / "var" / "bench" / "statute-embeddings.npz"
_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
_UNITS = {"十": 10, "百": 100, "千": 1000}


def chinese_number(text: str) -> int:
    total, digit = 0, 0
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _UNITS:
            total += (digit or 1) * _UNITS[char]
            digit = 0
    return total + digit


def cited_articles(heading_path: str) -> set[int]:
    """Article numbers a citation names, ranges ("第十二条至第十五条") expanded."""
    last = heading_path.split(" > ")[-1]
    numbers = [chinese_number(n) for n in re.findall(r"第([零一二三四五六七八九十百千]+)条", last)]
    if "至" in last and len(numbers) == 2:
        return set(range(numbers[0], numbers[1] + 1))
    return set(numbers)


def caching_embedder(cache: dict[str, np.ndarray]):
    from agents.knowledge import embeddings

    original = embeddings.BundledEmbedder.passages

    def passages(self, texts):
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        missing = [t for t, k in zip(texts, keys, strict=True) if k not in cache]
        if missing:
            for text, vector in zip(missing, original(self, missing), strict=True):
                cache[hashlib.sha256(text.encode()).hexdigest()] = np.asarray(vector, dtype=np.float32)
        return [cache[k].tolist() for k in keys]

    embeddings.BundledEmbedder.passages = passages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--laws", default="/work/shared/corpus/laws")
    parser.add_argument("--only", default="", help="comma-separated law names to load (and ask about)")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument(
        "--sweep",
        default="",
        help="hybrids to try: comma-separated keyword weight[:RRF k], vector weight 1.0 (e.g. 0.5,0.5:20)",
    )
    args = parser.parse_args()

    cache: dict[str, np.ndarray] = {}
    if CACHE.exists() and not args.no_cache:
        cache = dict(np.load(CACHE))
    caching_embedder(cache)

    from django.core.files.uploadedfile import SimpleUploadedFile

    from agents.knowledge import retrieval
    from agents.knowledge.embeddings import BundledEmbedder
    from agents.knowledge.ingestion import document_ingest
    from agents.knowledge.retrieval import retrieve
    from agents.knowledge.uploads import document_upload
    from agents.models import KnowledgeBase
    from tenants import audit
    from tenants.models import Department

    audit.AUDITED_APPS.clear()
    only = {name for name in args.only.split(",") if name}
    questions = [q for q in json.loads(SET.read_text(encoding="utf-8")) if not only or q["law"] in only]
    department = Department.objects.create(name="法规检索评测", code="bench-statutes")
    kb = KnowledgeBase.objects.create(department=department, name="法律法规")
    titles = {}
    started = time.perf_counter()
    for path in sorted(Path(args.laws).glob("*.md")):
        law = path.stem.split("(")[0]
        if path.name == "README.md" or (only and law not in only):
            continue
        document = document_upload(
            knowledge_base=kb, uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()), title=law
        )
        document_ingest(document_id=document.pk)
        document.refresh_from_db()
        assert document.status == "ready", (path, document.error)
        titles[document.pk] = law
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, **cache)
    passages = kb.passages.count() if hasattr(kb, "passages") else "?"
    print(f"{len(titles)} laws, {passages} passages, ingested in {time.perf_counter() - started:.0f} s")
    BundledEmbedder().query("预热")

    modes = {"hybrid": (kb.vector_weight, kb.keyword_weight), "vector only": (1.0, 0.0), "keyword only": (0.0, 1.0)}
    for entry in filter(None, args.sweep.split(",")):
        weight, _, k = entry.partition(":")
        modes[f"kw={weight} k={k or retrieval.RRF_K}"] = (1.0, float(weight), int(k or retrieval.RRF_K))
    default_k = retrieval.RRF_K
    for mode, (vector_weight, keyword_weight, *k) in modes.items():
        retrieval.RRF_K = k[0] if k else default_k
        KnowledgeBase.objects.filter(pk=kb.pk).update(vector_weight=vector_weight, keyword_weight=keyword_weight)
        kb.refresh_from_db()
        at1 = at5 = 0
        latencies = []
        for q in questions:
            t0 = time.perf_counter()
            hits = retrieve(knowledge_bases=[kb], query=q["question"], top_k=5, allow_expired=True)
            latencies.append((time.perf_counter() - t0) * 1000)
            right = [
                titles[h.document_id] == q["law"] and bool(cited_articles(h.heading_path) & set(q["articles"]))
                for h in hits
            ]
            at1 += bool(right[:1] and right[0])
            at5 += any(right)
            if args.show_misses and mode == "hybrid" and not any(right):
                print(f"  miss: {q['question']} ({q['law']} {q['articles']}) -> {[h.citation for h in hits[:3]]}")
        n = len(questions)
        p50 = statistics.median(latencies)
        p95 = statistics.quantiles(latencies, n=20)[18]
        print(f"{mode:13} questions={n} recall@1={at1 / n:.3f} recall@5={at5 / n:.3f} p50={p50:.0f}ms p95={p95:.0f}ms")


if __name__ == "__main__":
    with bench_database("bench_retrieval_quality"):
        main()
