"""Heading paths without the document's own title line.

A Markdown or Word statute usually opens with its title as the top heading ("# 中华人民共和国劳动合同法"),
so every passage's heading path starts with it. In a citation that repeats the title already given
in 《》, and in the keyword index it is a word every passage of the law shares, which says nothing
about which article answers a question.
"""

from __future__ import annotations

SEPARATOR = " > "


def _plain(text: str) -> str:
    return "".join(text.split()).strip("《》")


def title_segment(heading_path: str, title: str) -> str | None:
    """The first segment of ``heading_path`` when it is the document's title (either holds the
    other, "劳动合同法" ⊂ "中华人民共和国劳动合同法"), else None."""
    first = heading_path.split(SEPARATOR, 1)[0]
    a, b = _plain(first), _plain(title or "")
    if a and b and (a in b or b in a):
        return first
    return None


def without_title(heading_path: str, title: str) -> str:
    """``heading_path`` without a leading segment naming the document itself."""
    if title_segment(heading_path, title) is None:
        return heading_path
    rest = heading_path.split(SEPARATOR, 1)
    return rest[1] if len(rest) > 1 else ""
