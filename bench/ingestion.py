"""Ingestion throughput against the raw embedding model in the same run (see bench/README.md).

Ingests the sample policy documents through the platform (parse, chunk, embed, tokenise, store)
and embeds the very same chunk texts with the bundled model directly; the platform's overhead is
the difference.
"""

import time

from _db import bench_database


def main() -> None:
    from django.core.files.base import ContentFile

    from agents.knowledge.chunking import chunk_blocks
    from agents.knowledge.embeddings import BATCH, BundledEmbedder
    from agents.knowledge.ingestion import _embedding_text, document_ingest
    from agents.knowledge.parsing import parse_document
    from agents.knowledge.samples import load_sample_documents
    from agents.models import Document, KnowledgeBase, Passage
    from tenants import audit
    from tenants.models import Department

    audit.AUDITED_APPS.clear()
    samples = load_sample_documents()
    department = Department.objects.create(name="基准", code="bench-ingestion")
    kb = KnowledgeBase.objects.create(department=department, name="入库基准")
    documents = []
    for s in samples:
        d = Document(knowledge_base=kb, title=s["title"], original_name=s["file"], sha256=s["file"])
        d.file.save(s["file"], ContentFile(s["body"].encode()), save=False)
        d.save()
        documents.append(d)

    texts = []
    for s in samples:
        blocks = parse_document(s["body"].encode(), s["file"]).blocks
        texts += [_embedding_text(c) for c in chunk_blocks(blocks, size=kb.chunk_size, overlap=kb.chunk_overlap)]
    embedder = BundledEmbedder()
    embedder.passages(texts[:4])  # warm the model once for both sides
    t = time.perf_counter()
    for i in range(0, len(texts), BATCH):
        embedder.passages(texts[i : i + BATCH])
    raw = len(texts) / (time.perf_counter() - t)

    t = time.perf_counter()
    for d in documents:
        document_ingest(document_id=d.pk)
    stored = Passage.objects.filter(knowledge_base=kb).count()
    platform = stored / (time.perf_counter() - t)
    print(f"{len(samples)} documents, {stored} passages")
    print(f"raw embedding model: {raw:.1f} passages/s; platform ingestion: {platform:.1f} passages/s")
    print(f"platform / raw: {platform / raw:.2f} (overhead {100 * (1 - platform / raw):.1f}%)")


if __name__ == "__main__":
    with bench_database("shuzhi_bench_ingestion"):
        main()
