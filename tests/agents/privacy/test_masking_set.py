"""Floors on the labelled personal-data set (``masking_set.jsonl``, 400+ hotline, petition, case and
notice texts, made-up values): what masking must keep finding, and what it must leave alone."""

import pytest

from agents.privacy.masking import Masker, unmask
from tests.agents.privacy.masking_set import STRUCTURED, load_set, score

SAMPLES = load_set()


@pytest.fixture(scope="module")
def scores():
    return score(SAMPLES)


def test_the_set_is_what_it_claims():
    assert len(SAMPLES) >= 300
    assert sum(s.source == "hand" for s in SAMPLES) >= 60
    assert sum(not s.spans for s in SAMPLES) >= 60
    labelled = {kind for s in SAMPLES for kind, _, _ in s.spans}
    assert labelled == {*STRUCTURED, "address"}
    assert {s.genre for s in SAMPLES} >= {"hotline", "petition", "case", "notice", "clean"}


@pytest.mark.parametrize("kind", STRUCTURED)
def test_every_structured_kind_is_found(scores, kind):
    assert scores.gold[kind] >= 30
    missed = [m for m in scores.misses if m[1] == kind]
    assert scores.recall(kind) >= 0.99, missed
    wrong = [w for w in scores.wrong if w[1] == kind]
    assert scores.precision(kind) >= 0.97, wrong


def test_addresses_are_covered(scores):
    missed = [m for m in scores.misses if m[1] == "address"]
    assert scores.recall("address") >= 0.95, missed
    assert scores.precision("address") >= 0.95


def test_texts_without_personal_data_are_left_alone(scores):
    assert scores.clean_texts >= 60
    assert scores.false_alarm_rate <= 0.01, scores.clean_with_findings


def test_masked_texts_hold_no_labelled_value_and_unmask_to_the_original():
    for sample in SAMPLES:
        masker = Masker()
        masked = masker.mask(sample.text)
        for kind, start, end in sample.spans:
            if kind != "address":
                assert sample.text[start:end] not in masked, (sample.id, masked)
        assert unmask(masked, masker.mapping) == sample.text
