"""The built-in government vocabulary: terms for the segmenter and citizen-phrasing synonyms.

Both are plain text files beside this module, drawn from statute and government vocabulary
(机构名, 文种, legal terms) rather than from any particular document, so they serve any statute.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent


def _lines(name: str) -> list[str]:
    text = (_HERE / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@cache
def terms() -> tuple[str, ...]:
    return tuple(_lines("terms.txt"))


@cache
def synonyms() -> dict[str, tuple[str, ...]]:
    """Citizen phrase -> the statute's words it stands for."""
    table: dict[str, tuple[str, ...]] = {}
    for line in _lines("synonyms.txt"):
        phrase, _, words = line.partition("=")
        if phrase.strip() and words.split():
            table[phrase.strip()] = tuple(words.split())
    return table
