"""Writes of the knowledge base: ingest (parse, mask, chunk, embed, store), retry, watchdog.

Uploads (the one upload rule, storing a document) live in ``uploads``.

Ingestion is idempotent: the document row is claimed under a lock, a second delivery of the same
task finds it taken or finished and does nothing, and passages are replaced in one transaction,
so a document never has passages from two runs, and a replaced document's old passages leave in
the same transaction the new ones arrive.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Document, KnowledgeBase, Passage
from .chunking import chunk_blocks
from .embeddings import BATCH, embedder_for
from .headings import without_title
from .parsing import ParseError, parse_document
from .tokens import token_text
from .uploads import document_enqueue, upload_limit_bytes

logger = logging.getLogger(__name__)
IN_PROGRESS = (Document.Status.QUEUED, Document.Status.PARSING, Document.Status.EMBEDDING)


def document_retry(*, document: Document) -> None:
    """Queue a failed (or stuck) document again."""
    Document.objects.filter(pk=document.pk).update(
        status=Document.Status.QUEUED, progress=0, error="", started_at=None, updated_at=timezone.now()
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
        _set(document_id, status=Document.Status.EMBEDDING, progress=10, kind=parsed.kind)
        # The model the live passages use, so the new ones are searchable with them at once.
        embedder = embedder_for(knowledge_base, live=True)
        vectors: list[list[float]] = []
        for start in range(0, len(chunks), BATCH):
            batch = chunks[start : start + BATCH]
            vectors.extend(embedder.passages([_embedding_text(c) for c in batch]))
            _set(document_id, progress=10 + int(85 * len(vectors) / len(chunks)))
        _store(document, parsed, chunks, vectors)
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


@transaction.atomic
def _store(document: Document, parsed, chunks, vectors) -> None:
    current = Document.objects.select_for_update().filter(pk=document.pk).first()
    if current is None or current.status != Document.Status.EMBEDDING:
        return  # deleted, or given up by the watchdog meanwhile: store nothing
    dimension = len(vectors[0])
    generation = (
        KnowledgeBase.objects.select_for_update()
        .values_list("generation", flat=True)
        .get(pk=document.knowledge_base_id)
    )
    Passage.objects.filter(document=document).delete()
    Passage.objects.bulk_create(
        Passage(
            knowledge_base_id=document.knowledge_base_id,
            document=document,
            position=i,
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
    KnowledgeBase.objects.filter(pk=document.knowledge_base_id).update(dimension=dimension)
    if document.replaces_id:
        Passage.objects.filter(document_id=document.replaces_id).delete()
        Document.objects.filter(pk=document.replaces_id).update(is_active=False, passage_count=0)
    Document.objects.filter(pk=document.pk).update(
        status=Document.Status.READY,
        progress=100,
        passage_count=len(chunks),
        error="",
        updated_at=timezone.now(),
        title=current.title or parsed.title[:300] or current.original_name,
    )


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
    from ..tasks import reembed_knowledge_base

    transaction.on_commit(lambda: reembed_knowledge_base.delay(knowledge_base.pk))
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
    with) until the switch. Documents ingested meanwhile are picked up before switching.
    """
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
