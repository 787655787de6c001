"""Writes of the knowledge base: ingest (parse, mask, chunk, embed, store), retry, watchdog.

Uploads (the one upload rule, storing a document) live in ``uploads``.

Ingestion is idempotent: the document row is claimed under a lock, a second delivery of the same
task finds it taken or finished and does nothing. Passages are stored batch by batch as they are
embedded, hidden from search until the document turns "ready"; a replaced document's old passages
leave in the same transaction the document turns ready.

Resuming after a crash (a worker killed, out of memory, its host lost): the ingesting worker holds a
session-level PostgreSQL advisory lock on the document for as long as it works on it, so the lock
vanishes with the worker's database connection when its process dies. A document "parsing" or
"embedding" whose lock is free was therefore abandoned: ``documents_resume`` (Celery beat, every
``SHUZHI_RESUME_EVERY_SECONDS``, and a worker coming up) queues it again, counting the crash. The next
worker parses it again (parsing and chunking are deterministic), keeps the stored passages that match
its chunks and embeds only the rest. After ``SHUZHI_INGEST_MAX_CRASHES`` crashes the document fails with
a reason instead of taking a worker down once more.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Document, KnowledgeBase, Passage
from .approved import approved_answers_reembed
from .chunking import chunk_blocks
from .embeddings import BATCH, embedder_for
from .headings import without_title
from .parsing import ParseError, parse_document
from .tokens import token_text
from .uploads import document_enqueue, upload_limit_bytes

logger = logging.getLogger(__name__)
IN_PROGRESS = (Document.Status.QUEUED, Document.Status.PARSING, Document.Status.EMBEDDING)
WORKING = (Document.Status.PARSING, Document.Status.EMBEDDING)
# Advisory lock keys (one bigint each): a namespace in the high 32 bits, the document's id in the low ones.
DOCUMENT_LOCKS = 7_000_921 << 32
KNOWLEDGE_BASE_LOCKS = 7_000_923 << 32
REEMBED_RESUME_AFTER = timedelta(minutes=2)  # a queued re-embedding's message is taken for lost after this


def _advisory(sql: str, key: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        return bool(cursor.fetchone()[0])


def _lock(document_id: int) -> bool:
    return _advisory("SELECT pg_try_advisory_lock(%s)", DOCUMENT_LOCKS + document_id)


def _unlock(document_id: int) -> None:
    try:
        _advisory("SELECT pg_advisory_unlock(%s)", DOCUMENT_LOCKS + document_id)
    except Exception:  # the connection is gone, and the lock with it
        logger.warning("document %s: could not release its lock", document_id, exc_info=True)


def document_retry(*, document: Document) -> None:
    """Queue a failed (or stuck) document again."""
    Document.objects.filter(pk=document.pk).update(
        status=Document.Status.QUEUED, progress=0, error="", started_at=None, crashes=0, updated_at=timezone.now()
    )
    document_enqueue(document=document)


def _fail(document_id: int, reason: str) -> None:
    with transaction.atomic():
        Passage.objects.filter(document_id=document_id).delete()
        Document.objects.filter(pk=document_id).update(
            status=Document.Status.FAILED, error=reason[:500], progress=0, passage_count=0, updated_at=timezone.now()
        )


def _set(document_id: int, **fields) -> None:
    Document.objects.filter(pk=document_id).update(updated_at=timezone.now(), **fields)


def _claim(document_id: int) -> Document | None:
    """The queued document, now "parsing" and locked by this worker; None if it is not for this delivery."""
    for attempt in range(3):  # the watchdog may be looking at it this instant: a moment later it is free
        if _lock(document_id):
            break
        if attempt < 2:
            time.sleep(0.2)
    else:
        return None  # being processed by another delivery
    try:
        document = _claim_locked(document_id)
    except BaseException:
        _unlock(document_id)
        raise
    if document is None:
        _unlock(document_id)
    return document


def _claim_locked(document_id: int) -> Document | None:
    with transaction.atomic():
        document = (
            # of=self: lock the document only. Locking the joined knowledge base too would make a
            # document "taken" while any other document of the same knowledge base is being stored.
            Document.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("knowledge_base")
            .filter(pk=document_id)
            .first()
        )
        if document is None or document.status != Document.Status.QUEUED:
            return None  # gone, finished, failed, or being processed by another delivery
        document.status = Document.Status.PARSING
        document.started_at = timezone.now()
        document.attempts += 1
        document.progress = 5
        document.error = ""
        document.save(update_fields=["status", "started_at", "attempts", "progress", "error", "updated_at"])
        return document


def document_ingest(*, document_id: int) -> str:
    """Parse, mask, chunk, embed and store one document. Returns its final status.

    Bad input ends as "failed" with a readable reason. Transient model errors propagate
    (``ModelUnavailable``) so the task can retry; the document is then queued again.
    """
    document = _claim(document_id)
    if document is None:
        return "skipped"
    try:
        return _ingest(document)
    finally:
        _unlock(document_id)


def _ingest(document: Document) -> str:
    document_id = document.pk
    knowledge_base = document.knowledge_base
    try:
        with document.file.open("rb") as fh:
            data = fh.read(upload_limit_bytes() + 1)
        if len(data) > upload_limit_bytes():
            raise ParseError(_("文件超过大小上限 %(mb)s MB。") % {"mb": settings.SHUZHI_UPLOAD_MAX_MB})
        parsed = parse_document(data, document.original_name)
        blocks = parsed.blocks
        if knowledge_base.contains_personal_data:
            from ..privacy.masking import Masker

            masker = Masker()
            for block in blocks:
                block.text = masker.mask(block.text)
        chunks = chunk_blocks(
            blocks,
            size=knowledge_base.chunk_size,
            overlap=min(knowledge_base.chunk_overlap, knowledge_base.chunk_size // 2),
            group_articles=knowledge_base.group_short_articles,
        )
        if not chunks:
            raise ParseError(_("未能从文件中提取到文字：文件为空，或是扫描件/图片。"))
        # The model the live passages use, so the new ones are searchable with them at once.
        embedder = embedder_for(knowledge_base, live=True)
        generation = knowledge_base.generation
        done = _resumable(document, chunks, generation)
        _set(document_id, status=Document.Status.EMBEDDING, progress=_progress(done, chunks), kind=parsed.kind)
        for start in range(done, len(chunks), BATCH):
            batch = chunks[start : start + BATCH]
            vectors = embedder.passages([_embedding_text(c) for c in batch])
            if not _store_batch(document, start, batch, vectors, generation, _progress(start + len(batch), chunks)):
                return Document.Status.FAILED if _gone_or_failed(document_id) else "skipped"
        if not _finish(document, parsed, len(chunks), generation):
            return _after_unfinished(document_id)
    except ParseError as exc:
        _fail(document_id, str(exc))
        return Document.Status.FAILED
    except FileNotFoundError:
        _fail(document_id, _("上传的文件已不存在，请重新上传。"))
        return Document.Status.FAILED
    except Exception as exc:
        from ..llm import ModelRejected, ModelUnavailable

        if isinstance(exc, ModelUnavailable):
            _set(document_id, status=Document.Status.QUEUED, progress=0, error=str(exc)[:500])
            raise
        if isinstance(exc, ModelRejected):  # a wrong key or model name: the admin can fix it, then retry
            _fail(document_id, _("处理失败：%(reason)s") % {"reason": exc.message})
            return Document.Status.FAILED
        logger.exception("ingestion of document %s failed", document_id)
        _fail(document_id, _("处理失败：发生内部错误，已记录日志。请重试，或联系平台管理员。"))
        return Document.Status.FAILED
    return Document.Status.READY


def _embedding_text(chunk) -> str:
    # The heading path gives a bare article ("第五条 …") the context of its chapter.
    return f"{chunk.heading_path}\n{chunk.text}" if chunk.heading_path else chunk.text


def _progress(done: int, chunks) -> int:
    return 10 + int(85 * done / len(chunks))


def _resumable(document: Document, chunks, generation: int) -> int:
    """How many leading chunks already have their passages stored (by an earlier, interrupted attempt).

    Only passages of the knowledge base's current generation whose text and heading are exactly this
    attempt's chunks count; anything else this document left behind is deleted.
    """
    stored = list(
        Passage.objects.filter(document=document, generation=generation)
        .order_by("position")
        .values_list("position", "text", "heading_path")
    )
    done = 0
    for (position, text, heading), chunk in zip(stored, chunks, strict=False):
        if position != done or text != chunk.text or heading != chunk.heading_path[:500]:
            break
        done += 1
    stale = Passage.objects.filter(document=document).exclude(generation=generation, position__lt=done)
    stale.delete()
    if done:
        logger.info("document %s: resuming after %s stored passages of %s", document.pk, done, len(chunks))
    return done


def _store_batch(document: Document, start: int, chunks, vectors, generation: int, progress: int) -> bool:
    """Store one embedded batch of passages (hidden until the document is ready); False if the document
    is no longer this attempt's to store (deleted, or failed meanwhile)."""
    with transaction.atomic():
        current = Document.objects.select_for_update().filter(pk=document.pk).values_list("status", flat=True)
        if current.first() != Document.Status.EMBEDDING:
            return False
        dimension = len(vectors[0])
        Passage.objects.bulk_create(
            Passage(
                knowledge_base_id=document.knowledge_base_id,
                document=document,
                position=start + i,
                text=chunk.text,
                heading_path=chunk.heading_path[:500],
                page=chunk.page,
                dimension=dimension,
                embedding=vector,
                generation=generation,
                tokens=token_text(f"{without_title(chunk.heading_path, document.title)} {chunk.text}"),
            )
            for i, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
        )
        Document.objects.filter(pk=document.pk).update(progress=progress, updated_at=timezone.now())
    return True


def _gone_or_failed(document_id: int) -> bool:
    return Document.objects.filter(pk=document_id, status=Document.Status.FAILED).exists()


def _after_unfinished(document_id: int) -> str:
    """The knowledge base switched to a new embedding model while this document was embedded with the old
    one: its passages are dropped and it is queued again, to be embedded with the new model."""
    current = Document.objects.filter(pk=document_id).values_list("status", flat=True).first()
    if current != Document.Status.EMBEDDING:
        return "skipped" if current is None else current
    with transaction.atomic():
        Passage.objects.filter(document_id=document_id).delete()
        _set(document_id, status=Document.Status.QUEUED, progress=0)
    document_enqueue(document=Document(pk=document_id))
    return Document.Status.QUEUED


@transaction.atomic
def _finish(document: Document, parsed, count: int, generation: int) -> bool:
    """Make the stored passages searchable: the document turns ready, the one it replaces leaves.

    False (and nothing changed) when the document is no longer being embedded, or its passages are not
    all there in the knowledge base's current generation.
    """
    current = Document.objects.select_for_update().filter(pk=document.pk).first()
    if current is None or current.status != Document.Status.EMBEDDING:
        return False  # deleted, or given up meanwhile: nothing to finish
    live_generation = (
        KnowledgeBase.objects.select_for_update()
        .values_list("generation", flat=True)
        .get(pk=document.knowledge_base_id)
    )
    passages = Passage.objects.filter(document=document, generation=live_generation)
    if live_generation != generation or passages.count() != count:
        return False
    dimension = passages.values_list("dimension", flat=True).first()
    KnowledgeBase.objects.filter(pk=document.knowledge_base_id).update(dimension=dimension)
    if document.replaces_id:
        Passage.objects.filter(document_id=document.replaces_id).delete()
        Document.objects.filter(pk=document.replaces_id).update(is_active=False, passage_count=0)
    Document.objects.filter(pk=document.pk).update(
        status=Document.Status.READY,
        progress=100,
        passage_count=count,
        error="",
        updated_at=timezone.now(),
        title=current.title or parsed.title[:300] or current.original_name,
    )
    return True


def documents_resume() -> list[int]:
    """Queue again the documents whose worker died mid-ingestion, and queued ones whose message was lost;
    fail those that crashed too often.

    A document "parsing" or "embedding" whose advisory lock nobody holds has no live worker (see the
    module's docstring). Returns the ids queued again.
    """
    limit = settings.SHUZHI_INGEST_MAX_CRASHES
    queued = _resend_forgotten()
    for document_id in Document.objects.filter(status__in=WORKING).values_list("pk", flat=True):
        if not _lock(document_id):
            continue  # a worker is on it
        try:
            with transaction.atomic():
                document = Document.objects.select_for_update().filter(pk=document_id, status__in=WORKING).first()
                if document is None:
                    continue
                crashes = document.crashes + 1
                if crashes >= limit:
                    logger.warning("document %s: given up after %s interrupted attempts", document_id, crashes)
                    Passage.objects.filter(document_id=document_id).delete()
                    Document.objects.filter(pk=document_id).update(
                        status=Document.Status.FAILED,
                        crashes=crashes,
                        progress=0,
                        passage_count=0,
                        updated_at=timezone.now(),
                        error=_(
                            "处理失败：处理进程已中断 %(n)s 次（可能是文件过大、内存不足或进程被终止），已停止处理。"
                            "请检查文件后点击“重试”，或联系平台管理员。"
                        )
                        % {"n": crashes},
                    )
                    continue
                # The stored passages stay: the next attempt resumes after them.
                Document.objects.filter(pk=document_id).update(
                    status=Document.Status.QUEUED, crashes=crashes, updated_at=timezone.now()
                )
                queued.append(document_id)
        finally:
            _unlock(document_id)
    if queued:
        from ..background import task_send
        from ..tasks import ingest_document

        logger.warning("documents %s were interrupted or forgotten: queued again", queued)
        for document_id in queued:  # after letting go of their locks, so the worker that takes one may lock it
            task_send(ingest_document, document_id)
    return queued


def _resend_forgotten() -> list[int]:
    """Queued documents that have not moved for ``SHUZHI_QUEUED_RESEND_AFTER_SECONDS``: their message was lost (the broker
    was down when they were uploaded, say). A second message for one still on its way is harmless: the
    delivery that comes second finds it taken or done."""
    cutoff = timezone.now() - timedelta(seconds=settings.SHUZHI_QUEUED_RESEND_AFTER_SECONDS)
    forgotten = list(
        Document.objects.filter(status=Document.Status.QUEUED, updated_at__lt=cutoff).values_list("pk", flat=True)
    )
    if forgotten:
        Document.objects.filter(pk__in=forgotten, status=Document.Status.QUEUED).update(updated_at=timezone.now())
    return forgotten


def documents_fail_stuck(*, minutes: int | None = None) -> int:
    """Mark documents that have not moved for too long as failed (never "queued" forever)."""
    limit = minutes or settings.SHUZHI_INGEST_TIMEOUT_MINUTES
    cutoff = timezone.now() - timedelta(minutes=limit)
    stuck = Document.objects.filter(status__in=IN_PROGRESS, updated_at__lt=cutoff)
    return stuck.update(
        status=Document.Status.FAILED,
        progress=0,
        error=_("处理超时：超过 %(m)s 分钟没有进展（处理进程可能已中断）。请点击“重试”。") % {"m": limit},
        updated_at=timezone.now(),
    )


def knowledge_base_configure(*, knowledge_base: KnowledgeBase) -> bool:
    """After a knowledge base's settings change: re-embed in the background if its model changed.

    Returns True when a re-embedding was scheduled. With no passages yet, the new model simply
    becomes the indexed one.
    """
    if not knowledge_base.needs_reembedding:
        return False
    if not Passage.objects.filter(knowledge_base=knowledge_base).exists():
        KnowledgeBase.objects.filter(pk=knowledge_base.pk).update(
            indexed_endpoint=knowledge_base.embedding_endpoint, indexed_model=knowledge_base.embedding_model
        )
        return False
    from ..background import task_send
    from ..tasks import reembed_knowledge_base

    KnowledgeBase.objects.filter(pk=knowledge_base.pk).update(reembed_beat_at=timezone.now())
    transaction.on_commit(lambda: task_send(reembed_knowledge_base, knowledge_base.pk))
    return True


def _missing(kb_id: int, live_generation: int, new_generation: int):
    """Ready documents with live passages but none yet in the new generation."""
    return (
        Document.objects.filter(knowledge_base_id=kb_id, status=Document.Status.READY)
        .filter(passages__generation=live_generation)
        .exclude(passages__generation=new_generation)
        .distinct()
    )


def knowledge_base_reembed(*, knowledge_base_id: int) -> str:
    """Build the next generation of passages with the configured model, then switch to it atomically.

    The live generation keeps serving searches (queries are embedded with the model it was built
    with) until the switch. Documents ingested meanwhile are picked up before switching; the
    approved answers are embedded again after it.
    """
    if not _advisory("SELECT pg_try_advisory_lock(%s)", KNOWLEDGE_BASE_LOCKS + knowledge_base_id):
        return "busy"  # another worker is re-embedding it
    try:
        outcome = _reembed(knowledge_base_id)
        if outcome == "switched":
            # Approved answers follow their passages to the new model (until then they are found by their words).
            approved_answers_reembed(knowledge_base=KnowledgeBase.objects.get(pk=knowledge_base_id))
        return outcome
    finally:
        try:
            _advisory("SELECT pg_advisory_unlock(%s)", KNOWLEDGE_BASE_LOCKS + knowledge_base_id)
        except Exception:
            logger.warning("knowledge base %s: could not release its lock", knowledge_base_id, exc_info=True)


def _reembed(knowledge_base_id: int) -> str:
    kb = KnowledgeBase.objects.select_related("embedding_endpoint").get(pk=knowledge_base_id)
    if not kb.needs_reembedding:
        return "unchanged"
    target = (kb.embedding_endpoint_id, kb.embedding_model)
    embedder = embedder_for(kb)
    new_generation = kb.generation + 1
    while True:
        for document in list(_missing(kb.pk, kb.generation, new_generation)):
            live = list(Passage.objects.filter(document=document, generation=kb.generation).order_by("position"))
            vectors: list[list[float]] = []
            for start in range(0, len(live), BATCH):
                vectors += embedder.passages([_embedding_text(p) for p in live[start : start + BATCH]])
            with transaction.atomic():
                Passage.objects.filter(document=document, generation=new_generation).delete()
                Passage.objects.bulk_create(
                    Passage(
                        knowledge_base_id=kb.pk,
                        document=document,
                        position=p.position,
                        text=p.text,
                        heading_path=p.heading_path,
                        page=p.page,
                        tokens=p.tokens,
                        dimension=len(v),
                        embedding=v,
                        generation=new_generation,
                    )
                    for p, v in zip(live, vectors, strict=True)
                )
                # The heartbeat the watchdog reads (with the lock) before queueing the work again.
                KnowledgeBase.objects.filter(pk=kb.pk).update(reembed_beat_at=timezone.now())
        with transaction.atomic():
            current = KnowledgeBase.objects.select_for_update().get(pk=kb.pk)
            if (current.embedding_endpoint_id, current.embedding_model) != target:
                Passage.objects.filter(knowledge_base=kb, generation=new_generation).delete()
                return "superseded"  # changed again meanwhile: the newer task takes over
            if _missing(kb.pk, current.generation, new_generation).exists():
                continue  # documents arrived meanwhile: embed them too before switching
            dimension = (
                Passage.objects.filter(knowledge_base=kb, generation=new_generation)
                .values_list("dimension", flat=True)
                .first()
            )
            Passage.objects.filter(knowledge_base=kb).exclude(generation=new_generation).delete()
            KnowledgeBase.objects.filter(pk=kb.pk).update(
                generation=new_generation,
                indexed_endpoint_id=target[0],
                indexed_model=target[1],
                dimension=dimension or current.dimension,
            )
            return "switched"


def knowledge_bases_resume() -> list[int]:
    """Queue again the re-embeddings no worker is doing: a knowledge base whose configured model differs
    from its indexed one, nobody holding its lock, no heartbeat for ``REEMBED_RESUME_AFTER``. The
    documents already embedded in the new generation are kept (``_missing`` skips them)."""
    from ..background import task_send
    from ..tasks import reembed_knowledge_base

    cutoff = timezone.now() - REEMBED_RESUME_AFTER
    queued = []
    candidates = (
        KnowledgeBase.objects.filter(passages__isnull=False)
        .filter(Q(reembed_beat_at__lt=cutoff) | Q(reembed_beat_at__isnull=True))
        .distinct()
    )
    for kb in candidates.only("pk", "embedding_endpoint", "embedding_model", "indexed_endpoint", "indexed_model"):
        if not kb.needs_reembedding:
            continue
        key = KNOWLEDGE_BASE_LOCKS + kb.pk
        if not _advisory("SELECT pg_try_advisory_lock(%s)", key):
            continue
        try:
            KnowledgeBase.objects.filter(pk=kb.pk).update(reembed_beat_at=timezone.now())
        finally:
            _advisory("SELECT pg_advisory_unlock(%s)", key)
        if task_send(reembed_knowledge_base, kb.pk):
            queued.append(kb.pk)
    if queued:
        logger.warning("re-embedding of knowledge bases %s was interrupted: queued again", queued)
    return queued


def document_from_sample(*, knowledge_base: KnowledgeBase, sample: dict) -> Document:
    """Store one sample policy (see ``samples.load_sample_documents``) as a queued document."""
    from django.core.files.base import ContentFile

    data = sample["body"].encode()
    document = Document(
        knowledge_base=knowledge_base,
        title=sample["title"],
        issuer=sample["issuer"],
        number=sample["number"],
        effective_date=sample["effective_date"],
        expiry_date=sample["expiry_date"],
        tags=sample["tags"],
        original_name=sample["file"],
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    document.file.save(sample["file"], ContentFile(data), save=False)
    document.save()
    return document
