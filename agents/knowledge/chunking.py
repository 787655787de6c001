"""Cut parsed blocks into passages for embedding and retrieval, aware of Chinese policy structure.

- Headings (chapters, sections, "一、", "（一）") set the heading path of the passages under them.
- An article ("第五条 …") starts a new passage and its number joins the heading path; the text
  that follows it (items "（一）…", continuation paragraphs) belongs to it until the next article
  or heading. An article is kept whole (its 款 and 项 together) when it fits in ``size``
  characters, one passage per article so a citation names exactly one article; only when the
  knowledge base asks for it are consecutive short articles under the same heading merged up to
  ``size`` ("第一章 总则 > 第一条、第二条").
- Longer text is split at sentence ends (。！？；), then at commas, then by length, never in the
  middle of an ASCII word; each piece after the first starts with the last ``overlap``
  characters of the previous one (only within one article or paragraph).
- Short paragraphs under the same heading are merged up to ``size``.
- Tables are kept whole when they fit, else split by rows (repeating a short header row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .parsing import Block, article_label

__all__ = ["MAX_SIZE", "MIN_SIZE", "Chunk", "chunk_blocks"]

MIN_SIZE = 100
MAX_SIZE = 4000
_MAX_HEADING_CHARS = 60


@dataclass
class Chunk:
    text: str  # the passage text (never empty)
    heading_path: str  # e.g. "第二章 申报条件 > 第五条"; "" if none
    page: int | None  # page of the chunk's first block, if known
    position: int  # 0-based order in the document


def chunk_blocks(
    blocks: list[Block], *, size: int = 500, overlap: int = 80, group_articles: bool = False
) -> list[Chunk]:
    """Passages of at most ``size`` characters, in document order.

    Each article (第X条) is its own passage, cited by its number, unless ``group_articles`` asks
    for consecutive short articles under one heading to share a passage."""
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be an integer between {MIN_SIZE} and {MAX_SIZE}, got {size!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap <= size / 2:
        raise ValueError(f"overlap must be an integer between 0 and size/2 ({size // 2}), got {overlap!r}")
    packer = _Packer(size, overlap, group_articles)
    for unit in _units(blocks):
        packer.add(unit)
    packer.flush()
    return [
        Chunk(text=text, heading_path=path, page=page, position=position)
        for position, (text, path, page) in enumerate(packer.out)
    ]


# --------------------------------------------------------------------------------------------
# Units: runs of blocks sharing a heading path and (optionally) an article


@dataclass
class _Unit:
    path: str
    article: str | None
    blocks: list[Block] = field(default_factory=list)


@dataclass
class _Heading:
    level: int
    text: str
    page: int | None
    has_content: bool = False


def _heading_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_HEADING_CHARS else text[: _MAX_HEADING_CHARS - 1] + "…"


def _units(blocks: list[Block]) -> list[_Unit]:
    units: list[_Unit] = []
    stack: list[_Heading] = []
    current: _Unit | None = None

    def path() -> str:
        return " > ".join(heading.text for heading in stack)

    def pop() -> None:
        heading = stack.pop()
        if not heading.has_content:
            # A heading with nothing under it still carries text worth finding.
            units.append(_Unit(path(), None, [Block(text=heading.text, kind="paragraph", page=heading.page)]))
            for parent in stack:
                parent.has_content = True

    for block in blocks:
        text = (block.text or "").strip()
        if not text:
            continue
        if block.kind == "heading":
            level = max(1, block.level or 1)
            while stack and stack[-1].level >= level:
                pop()
            stack.append(_Heading(level, _heading_text(text), block.page))
            current = None
            continue
        for heading in stack:
            heading.has_content = True
        block = Block(text=text, kind=block.kind, level=block.level, page=block.page)
        label = article_label(text) if block.kind in ("paragraph", "list") else None
        if label:
            current = _Unit(path(), label, [block])
            units.append(current)
        elif current is None:
            current = _Unit(path(), None, [block])
            units.append(current)
        else:
            current.blocks.append(block)
    while stack:
        pop()
    return units


def _join_path(base: str, label: str) -> str:
    return f"{base} > {label}" if base else label


def _labels(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    if len(labels) == 2:
        return f"{labels[0]}、{labels[1]}"
    return f"{labels[0]}至{labels[-1]}"


# --------------------------------------------------------------------------------------------
# Packing


class _Packer:
    def __init__(self, size: int, overlap: int, group_articles: bool = False) -> None:
        self.group_articles = group_articles
        self.size = size
        self.overlap = overlap
        self.out: list[tuple[str, str, int | None]] = []
        # The open passage that short pieces may still join.
        self.parts: list[str] = []
        self.page: int | None = None
        self.base = ""
        self.labels: list[str] = []
        self.articles = False  # the open passage holds whole articles

    def emit(self, text: str, path: str, page: int | None) -> None:
        text = text.strip()
        if text:
            self.out.append((text, path, page))

    def flush(self) -> None:
        if self.parts:
            path = _join_path(self.base, _labels(self.labels)) if self.labels else self.base
            self.emit("\n".join(self.parts), path, self.page)
        self.parts = []
        self.labels = []
        self.page = None
        self.articles = False

    def _fits(self, text: str) -> bool:
        return len("\n".join([*self.parts, text])) <= self.size

    def _open(self, text: str, base: str, page: int | None, label: str | None) -> None:
        self.parts = [text]
        self.base = base
        self.page = page
        self.labels = [label] if label else []
        self.articles = bool(label)

    def add(self, unit: _Unit) -> None:
        if unit.article:
            self._add_article(unit)
        else:
            self._add_section(unit)

    def _add_article(self, unit: _Unit) -> None:
        text = "\n".join(block.text for block in unit.blocks)
        page = unit.blocks[0].page
        if len(text) <= self.size:
            if self.group_articles and self.parts and self.articles and self.base == unit.path and self._fits(text):
                self.parts.append(text)
                self.labels.append(unit.article)
            else:
                self.flush()
                self._open(text, unit.path, page, unit.article)
            return
        self.flush()
        path = _join_path(unit.path, unit.article)
        starts, offset = [], 0
        for block in unit.blocks:
            starts.append((offset, block.page))
            offset += len(block.text) + 1
        for piece, start in split_text(text, self.size, self.overlap):
            self.emit(piece, path, _page_at(starts, start))

    def _add_section(self, unit: _Unit) -> None:
        self.flush()
        for block in unit.blocks:
            text = block.text
            if len(text) <= self.size:
                if self.parts and self._fits(text):
                    self.parts.append(text)
                else:
                    self.flush()
                    self._open(text, unit.path, block.page, None)
                continue
            self.flush()
            pieces = (
                [(piece, 0) for piece in split_table(text, self.size)]
                if block.kind == "table"
                else split_text(text, self.size, self.overlap)
            )
            for piece, _ in pieces:
                self.emit(piece, unit.path, block.page)
        self.flush()


def _page_at(starts: list[tuple[int, int | None]], offset: int) -> int | None:
    page = starts[0][1] if starts else None
    for start, block_page in starts:
        if start > offset:
            break
        page = block_page
    return page


# --------------------------------------------------------------------------------------------
# Splitting long text

# A sentence ends after 。！？；(and closing quotes/brackets), after an ASCII ". " or at a newline.
_SENTENCE_END = re.compile(r"[。！？；!?;]+[”’\"'」』）)】》\]]*[ \t]*|\.[”’\"')\]]*[ \t]+|\n+[ \t]*")
_CLAUSE_END = re.compile(r"[，,、：:]+[ \t]*|[ \t]+")


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _cut_after(text: str, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    """Pieces of ``text`` ending after each match of ``pattern``; they concatenate to ``text``."""
    pieces, start = [], 0
    for match in pattern.finditer(text):
        if match.end() > start:
            pieces.append((start, text[start : match.end()]))
            start = match.end()
    if start < len(text):
        pieces.append((start, text[start:]))
    return pieces


def _hard_cut(text: str, limit: int) -> list[tuple[int, str]]:
    """Cut by length, backing off to a word boundary so ASCII words stay whole."""
    pieces, start = [], 0
    while len(text) - start > limit:
        cut = start + limit
        if _is_word_char(text[cut - 1]) and _is_word_char(text[cut]):
            back = cut - 1
            while back > start + limit // 2 and _is_word_char(text[back - 1]):
                back -= 1
            if back > start + limit // 2:
                cut = back
        pieces.append((start, text[start:cut]))
        start = cut
    if start < len(text):
        pieces.append((start, text[start:]))
    return pieces


def _pack(pieces: list[tuple[int, str]], limit: int) -> list[tuple[int, str]]:
    """Greedily merge adjacent pieces up to ``limit`` characters."""
    packed: list[tuple[int, str]] = []
    for start, piece in pieces:
        if packed and len(packed[-1][1]) + len(piece) <= limit:
            packed[-1] = (packed[-1][0], packed[-1][1] + piece)
        else:
            packed.append((start, piece))
    return packed


def _segments(text: str, limit: int) -> list[tuple[int, str]]:
    """Sentences of ``text`` (each at most ``limit`` characters), with their offsets."""
    segments: list[tuple[int, str]] = []
    for start, sentence in _cut_after(text, _SENTENCE_END):
        if len(sentence) <= limit:
            segments.append((start, sentence))
            continue
        clauses: list[tuple[int, str]] = []
        for clause_start, clause in _cut_after(sentence, _CLAUSE_END):
            if len(clause) <= limit:
                clauses.append((clause_start, clause))
            else:
                clauses.extend((clause_start + s, piece) for s, piece in _hard_cut(clause, limit))
        segments.extend((start + s, piece) for s, piece in _pack(clauses, limit))
    return segments


def _tail(text: str, overlap: int) -> str:
    """The last ``overlap`` characters of ``text``, not starting inside an ASCII word."""
    if overlap <= 0 or not text:
        return ""
    start = max(0, len(text) - overlap)
    if 0 < start < len(text) and _is_word_char(text[start - 1]) and _is_word_char(text[start]):
        while start < len(text) and _is_word_char(text[start]):
            start += 1
    return text[start:].lstrip()


def split_text(text: str, size: int, overlap: int = 0) -> list[tuple[str, int]]:
    """Pieces of at most ``size`` characters with the offset in ``text`` where each piece's own
    (non-overlap) content starts. From the second piece on, the end of the previous piece is
    prepended (up to ``overlap`` characters)."""
    text = text.strip()
    if not text:
        return []
    if len(text) <= size:
        return [(text, 0)]
    limit = size - overlap - 1 if overlap else size
    pieces: list[tuple[str, int]] = []
    current, current_start = "", 0
    for start, segment in _segments(text, limit):
        if not current:
            current, current_start = segment, start
        elif len(current) + len(segment) <= size:
            current += segment
        else:
            emitted = current.strip()
            if emitted:
                pieces.append((emitted, current_start))
            tail = _tail(emitted, overlap)
            separator = ""
            if tail and start > 0 and text[start - 1].isspace():
                separator = "\n" if "\n" in text[max(0, start - 2) : start] else " "
            current, current_start = tail + separator + segment.lstrip(), start
    if current.strip():
        pieces.append((current.strip(), current_start))
    return pieces


def split_table(text: str, size: int) -> list[str]:
    """A table's rows packed into pieces of at most ``size`` characters; a short first (header)
    row is repeated at the top of every piece."""
    rows = [row for row in text.split("\n") if row.strip()]
    if len("\n".join(rows)) <= size:
        return ["\n".join(rows)] if rows else []
    header = rows[0]
    repeat = len(header) <= size // 4 and len(rows) > 1
    prefix = [header] if repeat else []
    body = rows[1:] if repeat else rows
    room = size - (len(header) + 1 if repeat else 0)
    pieces: list[str] = []
    current: list[str] = list(prefix)
    has_rows = False

    def close() -> None:
        nonlocal current, has_rows
        if has_rows:
            pieces.append("\n".join(current))
        current, has_rows = list(prefix), False

    for row in body:
        if len(row) > room:
            close()
            for piece, _ in split_text(row, room):
                pieces.append("\n".join([*prefix, piece]))
            continue
        if len("\n".join([*current, row])) > size:
            close()
        current.append(row)
        has_rows = True
    close()
    return pieces
