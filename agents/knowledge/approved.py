"""Approved answers: storing a reviewer's corrected answer as knowledge, editing and retiring it.

Every write goes through :func:`approved_answer_store`, which masks personal data, tokenizes and
embeds the question, so a pair saved from the review queue and one edited in the admin are found alike.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ApprovedAnswer, KnowledgeBase
from ..privacy.detectors import PLACEHOLDER_RE
from ..privacy.masking import Masker
from .embeddings import embedder_for
from .tokens import token_text

logger = logging.getLogger(__name__)

QUESTION_MAX = 2000
ANSWER_MAX = 20000


def approved_answer_store(*, approved_answer: ApprovedAnswer, mapping: dict[str, str] | None = None) -> ApprovedAnswer:
    """Check, mask, tokenize, embed and save a pair (new or edited).

    Texts are always stored masked: ``mapping`` (the placeholders of the run the pair comes from)
    recognises personal data of that run typed back in, any other personal data found is masked too,
    and every placeholder is stored without its number (【手机号】), so no citizen's data reaches other
    citizens through an approved answer, nor is a placeholder ever unmasked as the next asker's value.
    Raises ValidationError with a sentence for the person saving.
    """
    pair = approved_answer
    pair.question, pair.answer = (pair.question or "").strip(), (pair.answer or "").strip()
    if not pair.question or not pair.answer:
        raise ValidationError(_("问题和经审核的回答都不能为空。"))
    if len(pair.question) > QUESTION_MAX or len(pair.answer) > ANSWER_MAX:
        raise ValidationError(_("问题或回答过长。"))
    if pair.effective_date and pair.expiry_date and pair.expiry_date < pair.effective_date:
        raise ValidationError(_("失效日期不能早于生效日期。"))
    masker = Masker(mapping=mapping or {})
    pair.question, pair.answer = _generic(masker.mask(pair.question)), _generic(masker.mask(pair.answer))
    _index(pair)
    pair.save()
    return pair


def _generic(text: str) -> str:
    # 【手机号1】 means one person's phone in one run; in knowledge served to everyone it would be read
    # as the next asker's own 【手机号1】 and unmasked as theirs. Unnumbered, it is never unmasked.
    return PLACEHOLDER_RE.sub(lambda m: f"【{m.group(1)}】", text)


def _index(pair: ApprovedAnswer) -> None:
    pair.tokens = token_text(f"{pair.question} {pair.answer}")
    kb = KnowledgeBase.objects.select_related("indexed_endpoint").get(pk=pair.knowledge_base_id)
    embedder = embedder_for(kb, live=True)
    try:
        vectors = _vectors(embedder, pair)
    except Exception:  # an embeddings endpoint down: the pair is still found by its words, and re-embedded later
        logger.warning("approved answer: embedding failed", exc_info=True)
        vectors = {"embedding": None, "question_embedding": None, "dimension": 0, "embedded_with": ""}
    for name, value in vectors.items():
        setattr(pair, name, value)


def _vectors(embedder, pair: ApprovedAnswer) -> dict:
    passage = embedder.passages([f"{pair.question}\n{pair.answer}"])[0]
    question = embedder.query(pair.question)
    return {
        "embedding": passage,
        "question_embedding": question,
        "dimension": len(passage),
        "embedded_with": embedder.key,
    }


def approved_answer_create(
    *,
    knowledge_base: KnowledgeBase,
    question: str,
    answer: str,
    approved_by,
    source_run=None,
    effective_date=None,
    expiry_date=None,
    mapping: dict[str, str] | None = None,
) -> ApprovedAnswer:
    """A new approved pair in ``knowledge_base``, approved now by ``approved_by``.

    The caller checked that ``approved_by`` may write to the knowledge base (``writable_by``); it is
    checked again here so that no interface can skip it. Raises KnowledgeBase.DoesNotExist otherwise.
    """
    with transaction.atomic():
        knowledge_base = KnowledgeBase.objects.writable_by(approved_by).get(pk=knowledge_base.pk)
        pair = ApprovedAnswer(
            knowledge_base=knowledge_base,
            question=question,
            answer=answer,
            approved_by=approved_by,
            approved_at=timezone.now(),
            source_run=source_run,
            effective_date=effective_date,
            expiry_date=expiry_date,
        )
        return approved_answer_store(approved_answer=pair, mapping=mapping)


def approved_answer_retire(*, approved_answer: ApprovedAnswer) -> ApprovedAnswer:
    """Stop using a pair for answers (it stays listed, and can be enabled again)."""
    approved_answer.is_active = False
    approved_answer.save(update_fields=["is_active", "updated_at"])
    return approved_answer


def approved_answer_activate(*, approved_answer: ApprovedAnswer) -> ApprovedAnswer:
    """Use a retired pair for answers again (within its validity dates)."""
    approved_answer.is_active = True
    approved_answer.save(update_fields=["is_active", "updated_at"])
    return approved_answer


def approved_answers_reembed(*, knowledge_base: KnowledgeBase) -> int:
    """Embed again the pairs not embedded with the knowledge base's live model (after it changed,
    or when the endpoint was down at saving). Returns how many were embedded."""
    kb = KnowledgeBase.objects.select_related("indexed_endpoint").get(pk=knowledge_base.pk)
    embedder = embedder_for(kb, live=True)
    done = 0
    for pair in ApprovedAnswer.objects.filter(knowledge_base=kb).exclude(embedded_with=embedder.key):
        ApprovedAnswer.objects.filter(pk=pair.pk).update(**_vectors(embedder, pair))
        done += 1
    return done
