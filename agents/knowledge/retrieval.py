"""Hybrid retrieval: pgvector cosine similarity plus keyword matching, fused by reciprocal rank.

Each knowledge base weighs the two lists itself (``vector_weight``, ``keyword_weight``). Only
passages of active, ready documents in force on the day count, unless the caller allows expired
or not-yet-effective documents; only the knowledge bases given (which callers narrow to what
they may read with ``KnowledgeBase.objects.readable_by``) are searched.

The knowledge bases' approved answers (reviewers' corrections, ``approved_search``) are candidates
beside the passages: fused like them, and placed first when their question matches the query closely.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..llm.rerank import rerank
from ..llm.types import ModelError
from ..models import KnowledgeBase, Passage
from .approved_search import approved_matches
from .embeddings import embedder_for
from .headings import SEPARATOR, title_segment, without_title
from .keyword import keyword_candidates
from .tokens import query_terms

# Measured on the statute set (bench/retrieval_quality.py --sweep): a flat k=60 lets the weaker keyword
# list override the vector list; k=10 with keyword weight 0.3 beats both legs.
RRF_K = 10
CANDIDATES = 50

log = logging.getLogger(__name__)


@dataclass
class Hit:
    """A passage, or an approved answer (``approved_answer_id`` set, ``passage_id`` None), with its scores."""

    passage_id: int | None
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
    rerank_score: float | None = None  # set when the knowledge base's reranker ordered this passage
    approved_answer_id: int | None = None
    approved_by: str = ""
    approved_on: object = None  # the day the answer was approved (a date)
    close_match: bool = False  # an approved answer whose question matches the query closely

    @property
    def citation(self) -> str:
        if self.approved_answer_id:
            return approved_citation(self.approved_by, self.approved_on)
        # A heading path led by the document's own title ("中华人民共和国劳动合同法 > 第四章 …") gives
        # the fuller title to the 《》 and is not repeated after it.
        title = title_segment(self.heading_path, self.document_title)
        parts = [
            f"《{' '.join(title.split()) if title and len(title) > len(self.document_title) else self.document_title}》"
        ]
        if self.document_number:
            parts.append(f"（{self.document_number}）")
        path = without_title(self.heading_path, self.document_title)
        if path:
            parts.append(" ".join(path.split(SEPARATOR)))
        if self.page:
            parts.append(f"第{self.page}页")
        return " ".join(parts)

    def snippet(self, length: int = 120) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= length else text[: length - 1] + "…"


def approved_citation(approver: str, day) -> str:
    """How an approved answer is cited: 经审核的问答, who approved it and when."""
    return _("经审核的问答（%(name)s 审核，%(day)s）") % {
        "name": approver or _("审核员"),
        "day": day.isoformat() if day else "",
    }


def _validity_sql(allow_expired: bool) -> str:
    if allow_expired:
        return ""
    return (
        " AND (d.effective_date IS NULL OR d.effective_date <= %(today)s)"
        " AND (d.expiry_date IS NULL OR d.expiry_date >= %(today)s)"
    )


def _filters(tags) -> str:
    return " AND d.tags ?| %(tags)s" if tags else ""


# HNSW search settings for the vector leg. The index is shared by every knowledge base (and
# every generation) of one dimension, so the filters on knowledge base, generation and validity
# are applied to what the index returns; iterative scans (pgvector 0.8) keep reading the graph
# until enough rows pass them instead of returning fewer than asked, and a wider search list
# than pgvector's default 40 brings recall@10 against exact search above 0.95
# (bench/retrieval.py measures both).
HNSW_EF_SEARCH = 100
HNSW_MAX_SCAN_TUPLES = 20000


def _vector_sql(dimension: int, where: str) -> str:
    return f"""
        SELECT p.id, 1 - (p.embedding::vector({dimension}) <=> %(vector)s::vector({dimension})) AS similarity,
               p.knowledge_base_id
        FROM agents_passage p JOIN agents_document d ON d.id = p.document_id
        JOIN agents_knowledgebase k ON k.id = p.knowledge_base_id AND k.generation = p.generation
        WHERE p.knowledge_base_id = ANY(%(kb_ids)s) AND p.dimension = {dimension}
          AND d.is_active AND d.status = 'ready' {where}
        ORDER BY p.embedding::vector({dimension}) <=> %(vector)s::vector({dimension})
        LIMIT {CANDIDATES}
    """  # noqa: S608  (dimension is an int from the database; every value is a bound parameter)


def _vector_candidates(kb_ids, dimension, vector, params, where) -> list[tuple[int, float, int]]:
    # SET LOCAL: the settings last for this transaction only, so a pooled connection is left as found.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', 'relaxed_order', true),"
            " set_config('hnsw.max_scan_tuples', %s, true)",
            [str(HNSW_EF_SEARCH), str(HNSW_MAX_SCAN_TUPLES)],
        )
        cursor.execute(_vector_sql(dimension, where), {**params, "kb_ids": kb_ids, "vector": str(vector)})
        # relaxed_order may return rows slightly out of order: the fusion ranks them by similarity.
        return sorted(cursor.fetchall(), key=lambda row: row[1], reverse=True)


def _keyword_candidates(kb_ids, terms, params, where, also=()) -> list[tuple[int, float, int]]:
    """BM25 keyword matches (see ``keyword``); ``terms`` is a list, or a mapping to weights."""
    weighted = terms if isinstance(terms, dict) else dict.fromkeys(terms, 1.0)
    return keyword_candidates(kb_ids, weighted, params, where, CANDIDATES, also=also)


def retrieve(
    *, knowledge_bases, query: str, top_k: int = 5, tags: list[str] | None = None, allow_expired: bool = False, on=None
) -> list[Hit]:
    """The ``top_k`` passages best answering ``query`` in the given knowledge bases, with citations."""
    kbs = (
        list(knowledge_bases)
        if not hasattr(knowledge_bases, "select_related")
        else list(knowledge_bases.select_related("indexed_endpoint", "rerank_endpoint"))
    )
    if not kbs or not query.strip():
        return []
    params = {"today": on or timezone.localdate(), "tags": list(tags or [])}
    where = _validity_sql(allow_expired) + _filters(tags)
    weights = {kb.pk: (kb.vector_weight, kb.keyword_weight) for kb in kbs}

    # Vector search, once per embedding model (knowledge bases may use different ones).
    vector_ranked: list[tuple[int, float, int]] = []
    groups: dict[str, list[KnowledgeBase]] = defaultdict(list)
    embedders = {}
    for kb in kbs:
        embedder = embedder_for(kb, live=True)  # the model the live passages were built with
        groups[embedder.key].append(kb)
        embedders[embedder.key] = embedder
    vectors = {}
    for key, members in groups.items():
        vectors[key] = vector = embedders[key].query(query)
        vector_ranked += _vector_candidates([kb.pk for kb in members], len(vector), vector, params, where)

    weighted_terms = query_terms(query)
    terms = list(weighted_terms)
    # Approved answers take part under negative keys (their ids negated), so they never meet a passage id.
    # A search narrowed to documents' tags leaves them out: they carry none.
    matches = (
        []
        if tags
        else approved_matches(
            groups={key: ([kb.pk for kb in members], vectors[key]) for key, members in groups.items()},
            kb_ids=[kb.pk for kb in kbs],
            query=query,
            on=params["today"],
            allow_expired=allow_expired,
        )
    )
    pairs = {-m.pair.pk: m for m in matches}
    vector_ranked += [
        (key, m.passage_similarity, m.pair.knowledge_base_id) for key, m in pairs.items() if m.passage_similarity
    ]
    vector_ranked.sort(key=lambda row: row[1], reverse=True)
    also = [(key, m.pair.tokens, m.pair.knowledge_base_id) for key, m in pairs.items()]
    keyword_ranked = _keyword_candidates([kb.pk for kb in kbs], weighted_terms, params, where, also)

    scores: dict[int, float] = defaultdict(float)
    vector_rank, vector_score, keyword_rank = {}, {}, {}
    for rank, (pid, similarity, kb_id) in enumerate(vector_ranked, start=1):
        vector_rank[pid], vector_score[pid] = rank, float(similarity)
        scores[pid] += weights[kb_id][0] / (RRF_K + rank)
    for rank, (pid, _score, kb_id) in enumerate(keyword_ranked, start=1):
        keyword_rank[pid] = rank
        scores[pid] += weights[kb_id][1] / (RRF_K + rank)
    close = sorted(
        (key for key, m in pairs.items() if m.is_close),
        key=lambda key: (pairs[key].similarity or 0, pairs[key].overlap),
        reverse=True,
    )
    fused = [pid for pid in sorted(scores, key=lambda pid: scores[pid], reverse=True) if pid not in close]
    rerankers = [kb for kb in kbs if kb.rerank_endpoint_id and kb.rerank_endpoint.is_active]
    pool = fused[: max([top_k] + [kb.rerank_top_n for kb in rerankers])]
    # The vectors are not needed past the SQL that ranked them (a 384-float embedding is most of a row);
    # in_bulk needs no ordering.
    items = (
        Passage.objects.select_related("document")
        .defer("embedding", "search_vector")
        .order_by()
        .in_bulk([pid for pid in pool if pid > 0])
    )
    items.update({key: m.pair for key, m in pairs.items()})
    reranked: dict[int, float] = {}
    for kb in rerankers:
        pool = _reranked(kb, query, pool, items, reranked)
    best = (close + pool)[:top_k]
    hits = []
    for pid in best:
        if pid < 0:
            hits.append(_pair_hit(pairs[pid], terms, pid in close, scores[pid], vector_rank, keyword_rank, reranked))
            continue
        p = items[pid]
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
                rerank_score=reranked.get(pid),
            )
        )
    return hits


def _pair_hit(match, terms, close: bool, score: float, vector_rank, keyword_rank, reranked) -> Hit:
    pair = match.pair
    key = -pair.pk
    approver = pair.approved_by
    return Hit(
        passage_id=None,
        text=pair.text,
        heading_path="",
        page=None,
        document_id=None,
        document_title=_("经审核的问答"),
        document_number="",
        issuer="",
        knowledge_base_id=pair.knowledge_base_id,
        score=round(score, 5),
        vector_score=match.passage_similarity,
        vector_rank=vector_rank.get(key),
        keyword_rank=keyword_rank.get(key),
        matched_terms=[t for t in terms if t in pair.tokens.split()],
        rerank_score=reranked.get(key),
        approved_answer_id=pair.pk,
        approved_by=str(approver) if approver else "",
        approved_on=timezone.localdate(pair.approved_at),
        close_match=close,
    )


def _reranked(kb: KnowledgeBase, query: str, pool: list[int], passages: dict, scores: dict[int, float]) -> list[int]:
    """``pool`` with ``kb``'s first ``rerank_top_n`` candidates reordered by its reranker.

    The candidates keep the places the fused order gave that knowledge base, so other knowledge
    bases' passages stay where they were. Any failure leaves the fused order: the user still gets
    an answer, only a less sharply ordered one. Scores are written into ``scores``.
    """
    own = [i for i, pid in enumerate(pool) if passages[pid].knowledge_base_id == kb.pk][: kb.rerank_top_n]
    if len(own) < 2:
        return pool
    endpoint = kb.rerank_endpoint
    model = kb.rerank_model or next(iter(endpoint.models_list()), "")
    candidates = [pool[i] for i in own]
    try:
        relevance = rerank(
            endpoint=endpoint, model=model, query=query, documents=[passages[pid].text for pid in candidates]
        )
    except ModelError as exc:
        log.warning("Reranking for knowledge base %s failed, keeping the fused order: %s", kb.pk, exc)
        return pool
    order = sorted(range(len(candidates)), key=lambda j: relevance[j], reverse=True)  # stable: ties keep fused order
    result = list(pool)
    for slot, j in zip(own, order, strict=True):
        result[slot] = candidates[j]
        if math.isfinite(relevance[j]):
            scores[candidates[j]] = relevance[j]
    return result
