"""The keyword leg of retrieval: BM25 over jieba tokens, statistics from PostgreSQL.

Document frequencies and the average passage length are counted in the database over the live
generation of the knowledge bases searched, in one query over the stored token vector and length
(``Passage.search_vector``, ``Passage.token_count``), so a word common in the knowledge base weighs
little and a rare one decides. Candidates are the passages holding the rarer terms, bounded by
``CANDIDATE_CAP``, and are scored in BM25 order.
"""

from __future__ import annotations

import math
from collections import Counter

from django.db import connection

K1 = 1.2
B = 0.75
# At most this many passages are scored per question; rare terms pick them first.
CANDIDATE_CAP = 2000
# A term found in more than this share of passages says nothing (its IDF is near zero).
COMMON_SHARE = 0.5

_LIVE = """
    FROM agents_passage p JOIN agents_document d ON d.id = p.document_id
    JOIN agents_knowledgebase k ON k.id = p.knowledge_base_id AND k.generation = p.generation
    WHERE p.knowledge_base_id = ANY(%(kb_ids)s) AND d.is_active AND d.status = 'ready'
"""


def _lexeme(term: str) -> str:
    # One quoted lexeme, so no character of the term is read as tsquery syntax.
    return "'" + term.replace("'", "").replace("\\", "") + "'"


def _statistics(terms: list[str], params: dict, where: str) -> tuple[int, float, dict[str, int]]:
    # One pass over the live passages counts them, averages their stored lengths and counts every
    # term's documents (a FILTER per term), instead of one correlated count per term.
    filters = ", ".join(
        f"count(*) FILTER (WHERE p.search_vector @@ to_tsquery('simple', %(lexeme_{i})s))" for i in range(len(terms))
    )
    sql = f"SELECT count(*), coalesce(avg(p.token_count), 0), {filters} {_LIVE} {where}"
    lexemes = {f"lexeme_{i}": _lexeme(t) for i, t in enumerate(terms)}
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, **lexemes})
        total, average, *counts = cursor.fetchone()
    return int(total), float(average or 0), dict(zip(terms, counts, strict=True))


def keyword_candidates(
    kb_ids, weighted_terms: dict[str, float], params, where, limit: int, also=()
) -> list[tuple[int, float, int]]:
    """``(passage id, BM25 score, knowledge base id)`` of the best ``limit`` keyword matches.

    ``also``: more ``(key, tokens, knowledge base id)`` rows (approved answers) scored by the same
    statistics as the passages and ranked among them.
    """
    terms = [t for t in weighted_terms if t.replace("'", "").replace("\\", "")]
    if not terms:
        return []
    params = {**params, "kb_ids": kb_ids}
    total, average, frequencies = _statistics(terms, params, where)
    if not total:
        return []
    idf = {
        t: math.log(1 + (total - frequencies[t] + 0.5) / (frequencies[t] + 0.5))
        for t in terms
        if 0 < frequencies.get(t, 0) <= max(1, COMMON_SHARE * total)
    }
    if not idf:
        return []
    # Rarest first, so the capped candidate set holds the passages that the question singles out.
    useful = sorted(idf, key=lambda t: frequencies[t])
    sql = f"""
        SELECT p.id, p.tokens, p.token_count, p.knowledge_base_id {_LIVE} {where}
          AND p.search_vector @@ to_tsquery('simple', %(query)s)
        LIMIT {CANDIDATE_CAP}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "query": " | ".join(_lexeme(t) for t in useful)})
        rows = cursor.fetchall() + [(key, tokens, len(tokens.split()), kb_id) for key, tokens, kb_id in also]
    scored = []
    wanted = set(useful)
    for pid, tokens, length, kb_id in rows:
        counts = Counter(token for token in tokens.split() if token in wanted)
        length = length or 1
        norm = K1 * (1 - B + B * length / (average or 1))
        score = sum(weighted_terms[t] * idf[t] * counts[t] * (K1 + 1) / (counts[t] + norm) for t in useful if counts[t])
        if score > 0:  # every passage here holds a term; an approved answer may hold none
            scored.append((pid, score, kb_id))
    scored.sort(key=lambda row: row[1], reverse=True)
    return scored[:limit]
