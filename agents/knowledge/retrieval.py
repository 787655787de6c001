"""Hybrid retrieval: pgvector cosine similarity plus keyword matching, fused by reciprocal rank.

Each knowledge base weighs the two lists itself (``vector_weight``, ``keyword_weight``). Only
passages of active, ready documents in force on the day count, unless the caller allows expired
or not-yet-effective documents; only the knowledge bases given (which callers narrow to what
they may read with ``KnowledgeBase.objects.readable_by``) are searched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from ..models import KnowledgeBase, Passage
from .embeddings import embedder_for
from .keyword import keyword_candidates
from .tokens import query_terms

RRF_K = 60
CANDIDATES = 50


@dataclass
class Hit:
    passage_id: int
    text: str
    heading_path: str
    page: int | None
    document_id: int
    document_title: str
    document_number: str
    issuer: str
    knowledge_base_id: int
    score: float
    vector_score: float | None = None
    vector_rank: int | None = None
    keyword_rank: int | None = None
    matched_terms: list[str] = field(default_factory=list)

    @property
    def citation(self) -> str:
        parts = [f"《{self.document_title}》"]
        if self.document_number:
            parts.append(f"（{self.document_number}）")
        if self.heading_path:
            parts.append(self.heading_path)
        if self.page:
            parts.append(f"第{self.page}页")
        return " ".join(parts)

    def snippet(self, length: int = 120) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= length else text[: length - 1] + "…"


def _validity_sql(allow_expired: bool) -> str:
    if allow_expired:
        return ""
    return (
        " AND (d.effective_date IS NULL OR d.effective_date <= %(today)s)"
        " AND (d.expiry_date IS NULL OR d.expiry_date >= %(today)s)"
    )


def _filters(tags) -> str:
    return " AND d.tags ?| %(tags)s" if tags else ""


def _vector_candidates(kb_ids, dimension, vector, params, where) -> list[tuple[int, float, int]]:
    sql = f"""
        SELECT p.id, 1 - (p.embedding::vector({dimension}) <=> %(vector)s::vector({dimension})) AS similarity,
               p.knowledge_base_id
        FROM agents_passage p JOIN agents_document d ON d.id = p.document_id
        JOIN agents_knowledgebase k ON k.id = p.knowledge_base_id AND k.generation = p.generation
        WHERE p.knowledge_base_id = ANY(%(kb_ids)s) AND p.dimension = {dimension}
          AND d.is_active AND d.status = 'ready' {where}
        ORDER BY p.embedding::vector({dimension}) <=> %(vector)s::vector({dimension})
        LIMIT {CANDIDATES}
    """  # noqa: S608  (dimension is an int from the database; every value is a bound parameter)
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "kb_ids": kb_ids, "vector": str(vector)})
        return cursor.fetchall()


def _keyword_candidates(kb_ids, terms, params, where) -> list[tuple[int, float, int]]:
    """BM25 keyword matches (see ``keyword``); ``terms`` is a list, or a mapping to weights."""
    weighted = terms if isinstance(terms, dict) else dict.fromkeys(terms, 1.0)
    return keyword_candidates(kb_ids, weighted, params, where, CANDIDATES)


def retrieve(
    *, knowledge_bases, query: str, top_k: int = 5, tags: list[str] | None = None, allow_expired: bool = False, on=None
) -> list[Hit]:
    """The ``top_k`` passages best answering ``query`` in the given knowledge bases, with citations."""
    kbs = (
        list(knowledge_bases)
        if not hasattr(knowledge_bases, "select_related")
        else list(knowledge_bases.select_related("indexed_endpoint"))
    )
    if not kbs or not query.strip():
        return []
    params = {"today": on or timezone.localdate(), "tags": list(tags or [])}
    where = _validity_sql(allow_expired) + _filters(tags)
    weights = {kb.pk: (kb.vector_weight, kb.keyword_weight) for kb in kbs}

    # Vector search, once per embedding model (knowledge bases may use different ones).
    vector_ranked: list[tuple[int, float]] = []
    groups: dict[str, list[KnowledgeBase]] = defaultdict(list)
    embedders = {}
    for kb in kbs:
        embedder = embedder_for(kb, live=True)  # the model the live passages were built with
        groups[embedder.key].append(kb)
        embedders[embedder.key] = embedder
    for key, members in groups.items():
        vector = embedders[key].query(query)
        vector_ranked += _vector_candidates([kb.pk for kb in members], len(vector), vector, params, where)
    vector_ranked.sort(key=lambda row: row[1], reverse=True)

    weighted_terms = query_terms(query)
    terms = list(weighted_terms)
    keyword_ranked = _keyword_candidates([kb.pk for kb in kbs], weighted_terms, params, where)

    scores: dict[int, float] = defaultdict(float)
    vector_rank, vector_score, keyword_rank = {}, {}, {}
    for rank, (pid, similarity, kb_id) in enumerate(vector_ranked, start=1):
        vector_rank[pid], vector_score[pid] = rank, float(similarity)
        scores[pid] += weights[kb_id][0] / (RRF_K + rank)
    for rank, (pid, _score, kb_id) in enumerate(keyword_ranked, start=1):
        keyword_rank[pid] = rank
        scores[pid] += weights[kb_id][1] / (RRF_K + rank)
    best = sorted(scores, key=lambda pid: scores[pid], reverse=True)[:top_k]
    passages = Passage.objects.select_related("document").in_bulk(best)
    hits = []
    for pid in best:
        p = passages[pid]
        hits.append(
            Hit(
                passage_id=pid,
                text=p.text,
                heading_path=p.heading_path,
                page=p.page,
                document_id=p.document_id,
                document_title=p.document.title,
                document_number=p.document.number,
                issuer=p.document.issuer,
                knowledge_base_id=p.knowledge_base_id,
                score=round(scores[pid], 5),
                vector_score=vector_score.get(pid),
                vector_rank=vector_rank.get(pid),
                keyword_rank=keyword_rank.get(pid),
                matched_terms=[t for t in terms if t in p.tokens.split()],
            )
        )
    return hits
