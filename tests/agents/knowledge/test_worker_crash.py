"""A worker killed mid-ingestion (SIGKILL) on Redis: another worker resumes the document by itself, after the
last batch of passages the dead one stored, and nothing is stored twice. A document that keeps killing its
worker fails with a reason; an interrupted re-embedding is queued again.

The workers are real ``celery worker`` processes on a Redis of the test's own; the embedding model is the
loopback fake, slowed down so the kill lands in the middle of the document, and it records every text it
was asked to embed.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from agents.knowledge.chunking import chunk_blocks
from agents.knowledge.embeddings import BATCH
from agents.knowledge.ingestion import DOCUMENT_LOCKS, documents_resume, knowledge_bases_resume
from agents.knowledge.parsing import parse_document
from agents.knowledge.retrieval import retrieve
from agents.models import Document, KnowledgeBase, Passage
from agents.tasks import ingest_document
from tests.agents.batch.test_resume import HeldLock
from tests.agents.factories import make_document, make_endpoint
from tests.celery_workers import CeleryWorker, send

pytestmark = pytest.mark.django_db(transaction=True)

STATUTE = Path(__file__).parent / "statutes" / "国家赔偿法(2012-10-26).md"


def embedded_texts(fake) -> list[str]:
    texts: list[str] = []
    for request in list(fake.requests):
        if request["path"] == "/v1/embeddings":
            inputs = request["body"]["input"]
            texts += [inputs] if isinstance(inputs, str) else inputs
    return texts


def external_kb(department, fake, **extra) -> KnowledgeBase:
    endpoint = make_endpoint(department, base_url=fake.base_url, kind="embedding", models="fake-embed")
    return KnowledgeBase.objects.create(
        department=department, name="国家赔偿", embedding_endpoint=endpoint, embedding_model="fake-embed", **extra
    )


@pytest.mark.redis
def test_a_killed_worker_s_ingestion_is_resumed_by_another_after_its_last_stored_batch(
    redis_server, fake_openai, tenant_a, tenant_b, tmp_path, wait_for
):
    kb = external_kb(tenant_a.department, fake_openai, chunk_size=100)
    document = make_document(kb, text=STATUTE.read_text(), name="state-compensation.md", title="国家赔偿法")
    fake_openai.delay = 0.5  # each batch of passages takes half a second to embed
    first = CeleryWorker(redis_server.url, tmp_path / "first.log").wait_ready()
    second = None
    try:
        send(redis_server.url, ingest_document, document.pk)
        wait_for(lambda: Passage.objects.filter(document=document).count() >= 2 * BATCH, timeout=90)
        first.kill()
        time.sleep(0.5)  # a request the dead worker had sent reaches the fake server
        stored_at_kill = Passage.objects.filter(document=document).count()
        asked_before = len(embedded_texts(fake_openai))
        document.refresh_from_db()
        assert document.status == Document.Status.EMBEDDING  # stuck, as it was before this mechanism

        # Another worker, with the beat that looks for abandoned work (every 10 s here, 30 s by default).
        second = CeleryWorker(
            redis_server.url, tmp_path / "second.log", beat=True, env={"SHUZHI_RESUME_EVERY_SECONDS": "10"}
        ).wait_ready()
        wait_for(lambda: Document.objects.get(pk=document.pk).status == Document.Status.READY, timeout=120)
    finally:
        first.stop()
        if second is not None:
            second.stop()

    document.refresh_from_db()
    passages = list(Passage.objects.filter(document=document).order_by("position"))
    assert document.passage_count == len(passages) > stored_at_kill
    assert [p.position for p in passages] == list(range(len(passages)))  # no gap, no duplicate
    # Exactly the document's passages, in order, as one uninterrupted ingestion stores them.
    parsed = parse_document(STATUTE.read_bytes(), "state-compensation.md")
    chunks = chunk_blocks(parsed.blocks, size=100, overlap=50, group_articles=False)
    assert [(p.text, p.heading_path) for p in passages] == [(c.text, c.heading_path) for c in chunks]
    assert document.crashes == 1 and not document.error
    # The second worker embedded only what the first had not stored: no restart from zero.
    resumed = embedded_texts(fake_openai)[asked_before:]
    assert len(resumed) == len(passages) - stored_at_kill
    # And the document answers questions, passages from before and after the crash alike.
    hits = retrieve(knowledge_bases=[kb], query=passages[-1].text[:40], top_k=3)
    assert any(h.document_id == document.pk for h in hits)


def test_a_document_that_keeps_killing_its_worker_fails_with_a_reason(tenant_a, tenant_b, settings):
    settings.SHUZHI_INGEST_MAX_CRASHES = 3
    kb = KnowledgeBase.objects.create(department=tenant_a.department, name="知识库")
    crashed = make_document(kb, text=STATUTE.read_text(), status="embedding", crashes=2)
    alive = make_document(kb, text="第一条 为规范管理，制定本办法。", name="b.txt", status="embedding")
    worker = HeldLock(DOCUMENT_LOCKS + alive.pk)  # a live worker elsewhere is ingesting this one
    try:
        assert documents_resume() == []
    finally:
        worker.free()
    crashed.refresh_from_db()
    assert crashed.status == Document.Status.FAILED and crashed.crashes == 3
    assert "中断 3 次" in crashed.error
    alive.refresh_from_db()
    assert alive.status == Document.Status.EMBEDDING and alive.crashes == 0


def test_an_abandoned_document_is_queued_again_and_finishes(celery_worker, tenant_a, tenant_b, wait_for):
    kb = KnowledgeBase.objects.create(department=tenant_a.department, name="知识库")
    document = make_document(kb, text=STATUTE.read_text(), status="parsing")
    assert documents_resume() == [document.pk]
    wait_for(lambda: Document.objects.get(pk=document.pk).status == Document.Status.READY)
    document.refresh_from_db()
    assert document.crashes == 1 and document.passage_count > 0


def test_an_interrupted_reembedding_is_queued_again(celery_worker, fake_openai, tenant_a, tenant_b, wait_for):
    from agents.knowledge.ingestion import document_ingest

    kb = KnowledgeBase.objects.create(department=tenant_a.department, name="知识库")
    document = make_document(kb, text=STATUTE.read_text())
    assert document_ingest(document_id=document.pk) == "ready"
    endpoint = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, kind="embedding", models="fake-embed")
    # The model was changed and its re-embedding queued two minutes ago, but that worker died.
    KnowledgeBase.objects.filter(pk=kb.pk).update(
        embedding_endpoint=endpoint, embedding_model="fake-embed", reembed_beat_at=timezone.now() - timedelta(minutes=3)
    )
    assert knowledge_bases_resume() == [kb.pk]
    assert knowledge_bases_resume() == []  # queued: not twice
    wait_for(lambda: KnowledgeBase.objects.get(pk=kb.pk).indexed_endpoint_id == endpoint.pk)
    assert set(Passage.objects.filter(document=document).values_list("dimension", flat=True)) == {8}
