"""12345 ticket classification: accuracy on held-out tickets, the shipped example vectors, and a connected
model choosing among the candidates (its answer used only when it names one of them)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from agents.knowledge.embeddings import BundledEmbedder
from agents.tools import tickets
from agents.tools.tickets import (
    VECTORS_FILE,
    examples_digest,
    load_categories,
    ticket_classify,
    ticket_index,
    ticket_index_reset,
    ticket_rank,
)

HELD_OUT = tomllib.loads((Path(__file__).parent / "tickets_heldout.toml").read_text())["ticket"]
NOISE = "我家楼上每天半夜拖椅子、蹦跳，吵得全家睡不着，说了好几次也不听。"


def test_the_labelled_set_covers_the_hotline_categories():
    categories = load_categories()
    assert len(categories) >= 15
    assert len({c.name for c in categories}) == len(categories)
    for c in categories:
        assert c.department and len(c.examples) >= 6 and c.keywords
    examples = {e for c in categories for e in c.examples}
    assert not examples & {t["text"] for t in HELD_OUT}  # the held-out tickets are not among the examples
    assert {t["category"] for t in HELD_OUT} <= {c.name for c in categories}


def test_held_out_tickets_are_classified_accurately():
    top1 = top3 = 0
    wrong = []
    for ticket in HELD_OUT:
        names = [c.category for c in ticket_rank(text=ticket["text"], top_k=3)]
        top1 += names[0] == ticket["category"]
        top3 += ticket["category"] in names
        if names[0] != ticket["category"]:
            wrong.append((ticket["text"], ticket["category"], names))
    n = len(HELD_OUT)
    assert n >= 20
    assert top1 / n >= 0.8, wrong
    assert top3 / n >= 0.95, wrong


def test_candidates_carry_the_department_the_nearest_example_and_the_keywords_found():
    first, *rest = ticket_rank(text=NOISE, top_k=4)
    assert first.category == "噪声扰民"
    assert "派出所" in first.department or "生态环境局" in first.department
    assert first.example in next(c for c in load_categories() if c.name == "噪声扰民").examples
    assert "睡不着" in first.keywords and "吵" in first.keywords
    assert len(rest) == 3 and all(c.score <= first.score for c in rest)
    assert first.score == pytest.approx(first.similarity + 0.02 * min(len(first.keywords), 3), abs=1e-3)


def test_shipped_vectors_are_those_of_the_current_examples():
    categories = load_categories()
    embedder = BundledEmbedder()
    with np.load(VECTORS_FILE) as shipped:
        digest, vectors = str(shipped["digest"]), shipped["vectors"].astype(np.float32)
    assert digest == examples_digest(categories, embedder.key), (
        "tickets.toml changed: run agents.tools.tickets.ticket_vectors_build() to ship fresh vectors"
    )
    examples = [e for c in categories for e in c.examples]
    assert vectors.shape == (len(examples), 384)
    for i in (0, len(examples) // 2, len(examples) - 1):  # made by this model, from these texts
        fresh = np.array(embedder.query(examples[i]), dtype=np.float32)
        assert float(vectors[i] @ fresh / np.linalg.norm(fresh)) > 0.99


@pytest.fixture
def without_shipped_vectors(tmp_path, monkeypatch):
    monkeypatch.setattr(tickets, "VECTORS_FILE", tmp_path / "none.npz")
    ticket_index_reset()
    yield
    ticket_index_reset()


def test_without_current_vectors_the_examples_are_embedded_once_per_process(without_shipped_vectors):
    index = ticket_index()
    assert index.source == "computed"
    assert ticket_index() is index  # not recomputed on the next call
    assert ticket_rank(text=NOISE, top_k=1)[0].category == "噪声扰民"


class Model:
    """Stands in for the agent's language model: records the prompts and gives a canned answer."""

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[list[dict]] = []

    def __call__(self, messages: list[dict]) -> str:
        self.calls.append(messages)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_without_a_model_the_embedding_decides():
    result = ticket_classify(text=NOISE)
    assert (result.method, result.category, result.model_answer) == ("embedding", "噪声扰民", None)
    assert result.department == result.candidates[0].department


def test_a_connected_model_chooses_among_the_candidates():
    candidates = ticket_rank(text=NOISE, top_k=3)
    second = candidates[1]
    model = Model(f"“{second.category}”。")
    result = ticket_classify(text=NOISE, top_k=3, complete=model)
    assert (result.method, result.category, result.department) == ("model", second.category, second.department)
    assert [c.category for c in result.candidates] == [c.category for c in candidates]  # the ranking is kept
    (messages,) = model.calls
    prompt = messages[-1]["content"]
    assert NOISE in prompt and all(c.category in prompt for c in candidates)


@pytest.mark.parametrize("answer", ["其他类", "我认为应归入噪声扰民类", "", "1"])
def test_an_answer_that_is_not_a_candidate_leaves_the_embedding_choice(answer):
    result = ticket_classify(text=NOISE, complete=Model(answer))
    assert (result.method, result.category, result.model_answer) == ("embedding", "噪声扰民", answer)
    assert "不是候选类别" in result.note


def test_a_failing_model_leaves_the_embedding_choice():
    result = ticket_classify(text=NOISE, complete=Model(TimeoutError("slow")))
    assert (result.method, result.category) == ("embedding", "噪声扰民")
    assert "TimeoutError" in result.note


def test_one_candidate_needs_no_model():
    model = Model("噪声扰民")
    result = ticket_classify(text=NOISE, top_k=1, complete=model)
    assert result.method == "embedding" and model.calls == []
