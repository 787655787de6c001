"""The labelled personal-data set (``masking_set.jsonl``) and how detection is scored on it.

Structured kinds (everything but addresses) count per value: a labelled value is found when a
finding of the same kind has exactly its span; a finding is correct when a labelled value of its
kind has exactly its span. Addresses count per character: recall is the share of labelled address
characters inside address findings, precision the share of address-finding characters inside
labelled addresses. A clean text (no labelled value) with any finding is a false alarm.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agents.privacy.detectors import KINDS, Finding, find_personal_data

SET_PATH = Path(__file__).with_name("masking_set.jsonl")
STRUCTURED = tuple(k for k in KINDS if k != "address")


@dataclass(frozen=True)
class Sample:
    id: int
    source: str  # "hand" | "generated"
    genre: str  # "hotline" | "petition" | "case" | "notice" | "chat" | "clean"
    text: str
    spans: tuple[tuple[str, int, int], ...]  # (kind, start, end)


def load_set(path: Path = SET_PATH) -> list[Sample]:
    samples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        spans = tuple((s["kind"], s["start"], s["end"]) for s in row["spans"])
        for (kind, start, end), s in zip(spans, row["spans"], strict=True):
            if kind not in KINDS or row["text"][start:end] != s["value"]:
                raise ValueError(f"text {row['id']}: span {s} does not match the text")
        samples.append(Sample(row["id"], row["source"], row["genre"], row["text"], spans))
    return samples


@dataclass
class Scores:
    texts: int = 0
    clean_texts: int = 0
    clean_with_findings: list[int] = field(default_factory=list)
    true_pos: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STRUCTURED, 0))
    gold: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STRUCTURED, 0))
    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STRUCTURED, 0))
    address_chars: int = 0
    address_chars_covered: int = 0
    address_found_chars: int = 0
    address_found_chars_right: int = 0
    misses: list[tuple[int, str, str]] = field(default_factory=list)  # (text id, kind, value)
    wrong: list[tuple[int, str, str]] = field(default_factory=list)  # (text id, kind, finding text)

    def recall(self, kind: str) -> float:
        if kind == "address":
            return self.address_chars_covered / self.address_chars if self.address_chars else 1.0
        return self.true_pos[kind] / self.gold[kind] if self.gold[kind] else 1.0

    def precision(self, kind: str) -> float:
        if kind == "address":
            return self.address_found_chars_right / self.address_found_chars if self.address_found_chars else 1.0
        return self.true_pos[kind] / self.found[kind] if self.found[kind] else 1.0

    def f1(self, kind: str) -> float:
        p, r = self.precision(kind), self.recall(kind)
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_alarm_rate(self) -> float:
        return len(self.clean_with_findings) / self.clean_texts if self.clean_texts else 0.0


def score(samples: Iterable[Sample], detect: Callable[[str], list[Finding]] = find_personal_data) -> Scores:
    scores = Scores()
    for sample in samples:
        findings = detect(sample.text)
        scores.texts += 1
        if not sample.spans:
            scores.clean_texts += 1
            if findings:
                scores.clean_with_findings.append(sample.id)
        gold = {(k, s, e) for k, s, e in sample.spans if k != "address"}
        got = {(f.kind, f.start, f.end) for f in findings if f.kind != "address"}
        for kind, start, end in gold:
            scores.gold[kind] += 1
            if (kind, start, end) in got:
                scores.true_pos[kind] += 1
            else:
                scores.misses.append((sample.id, kind, sample.text[start:end]))
        for kind, start, end in got:
            scores.found[kind] += 1
            if (kind, start, end) not in gold:
                scores.wrong.append((sample.id, kind, sample.text[start:end]))
        gold_chars = {i for k, s, e in sample.spans if k == "address" for i in range(s, e)}
        found_chars = {i for f in findings if f.kind == "address" for i in range(f.start, f.end)}
        scores.address_chars += len(gold_chars)
        scores.address_chars_covered += len(gold_chars & found_chars)
        scores.address_found_chars += len(found_chars)
        scores.address_found_chars_right += len(gold_chars & found_chars)
        for k, s, e in sample.spans:
            if k == "address" and not set(range(s, e)) <= found_chars:
                scores.misses.append((sample.id, k, sample.text[s:e]))
        for f in findings:
            if f.kind == "address" and not set(range(f.start, f.end)) <= gold_chars:
                scores.wrong.append((sample.id, "address", f.text))
    return scores
