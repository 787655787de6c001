"""The labelled GB/T 9704 set: generated documents (``generated.json``, from ``generate.py``) and
hand-written ones (``hand_written.txt``).

Each document is ``{"id", "kind", "doc_type", "text", "errors": [{"code", "line"}]}``: ``kind`` is
its 文种, ``doc_type`` the 文种 given to the checker (None: read from the title), ``errors`` the
findings a proofreader expects, by code and line (from 1). An empty list means a clean document.

In ``hand_written.txt`` a document starts with ``=== id | 文种 | doc_type or -`` and a mistake is
marked at the end of its line with ``⟦code⟧`` (removed from the text).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
_HEAD = re.compile(r"^=== (?P<id>\S+) \| (?P<kind>\S+) \| (?P<given>\S+)\s*$")
_MARK = re.compile(r"\s*⟦(?P<code>[a-z_.]+)⟧")


def hand_written(path: Path = HERE / "hand_written.txt") -> list[dict]:
    docs: list[dict] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        head = _HEAD.match(line)
        if head:
            given = head.group("given")
            docs.append(
                {
                    "id": head.group("id"),
                    "kind": head.group("kind"),
                    "doc_type": None if given == "-" else given,
                    "lines": [],
                    "errors": [],
                }
            )
            continue
        if not docs:
            continue
        doc = docs[-1]
        for mark in _MARK.finditer(line):
            doc["errors"].append({"code": mark.group("code"), "line": len(doc["lines"]) + 1})
        doc["lines"].append(_MARK.sub("", line))
    out = []
    for doc in docs:
        lines = doc.pop("lines")
        while lines and not lines[-1].strip():
            lines.pop()
        out.append({**doc, "text": "\n".join(lines) + "\n"})
    return out


def load() -> list[dict]:
    generated = json.loads((HERE / "generated.json").read_text(encoding="utf-8"))
    hand = hand_written() if (HERE / "hand_written.txt").exists() else []
    return generated + hand


# Codes an older checker used for what is now one class.
ALIASES = {"request.signer_missing": "signer.missing"}


def score(docs: list[dict], check) -> dict:
    """Recall and precision at the right line, per class and overall, and false alarms on clean documents.

    ``check(text, doc_type)`` returns findings with ``code`` and ``line``. A finding is right when a
    label has its code and line; a label is found when some finding is right for it.
    """
    per_class: dict[str, dict] = {}
    found = labelled = right = reported = 0
    false_alarm_docs: list[str] = []
    misses: list[tuple] = []
    extras: list[tuple] = []

    def cls(code: str) -> dict:
        return per_class.setdefault(code, {"labels": 0, "found": 0, "reported": 0, "right": 0})

    for doc in docs:
        findings = [(ALIASES.get(p.code, p.code), p.line) for p in check(doc["text"], doc["doc_type"])]
        expected = {(e["code"], e["line"]) for e in doc["errors"]}
        if not expected and findings:
            false_alarm_docs.append(doc["id"])
        for code, line in expected:
            cls(code)["labels"] += 1
            labelled += 1
            if (code, line) in findings:
                cls(code)["found"] += 1
                found += 1
            else:
                misses.append((doc["id"], code, line))
        for code, line in findings:
            cls(code)["reported"] += 1
            reported += 1
            if (code, line) in expected:
                cls(code)["right"] += 1
                right += 1
            else:
                extras.append((doc["id"], code, line))
    return {
        "documents": len(docs),
        "clean": sum(1 for d in docs if not d["errors"]),
        "labels": labelled,
        "recall": found / labelled if labelled else 1.0,
        "precision": right / reported if reported else 1.0,
        "false_alarm_docs": false_alarm_docs,
        "per_class": per_class,
        "misses": misses,
        "extras": extras,
    }
