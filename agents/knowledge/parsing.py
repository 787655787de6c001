"""Turn uploaded bytes (PDF, DOCX, OFD, TXT, Markdown, HTML) into an ordered list of text blocks.

The type of a file is decided by its content and checked against its extension (``sniffing``).
Everything a user can upload that cannot be read ends as a :class:`ParseError` whose message is a
sentence in the user's language (Chinese by default); no other exception escapes for bad input.

Chinese policy documents carry their structure in the text itself ("第一章 总则", "第一节 …",
"第三条 …", "一、", "（一）"); the parser recognises these lines in every format so the chunker
can keep chapters and articles together.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser

from django.utils.translation import gettext as _

from .sniffing import (
    MAX_COMPRESSION_RATIO,
    MAX_UNCOMPRESSED_BYTES,
    ParseError,
    declared_charset,
    docx_corrupt_message,
    empty_message,
    ofd_corrupt_message,
    sniff_kind,
    text_decode,
)

__all__ = [
    "MAX_COMPRESSION_RATIO",
    "MAX_UNCOMPRESSED_BYTES",
    "Block",
    "ParseError",
    "ParsedDocument",
    "article_label",
    "parse_document",
    "sniff_kind",
]


@dataclass
class Block:
    text: str  # readable text of the block (tables as rows, cells separated by " | ")
    kind: str  # "heading" | "paragraph" | "list" | "table"
    level: int = 0  # heading level (1 = top) for headings, else 0
    page: int | None = None  # 1-based page number where the format has pages (PDF), else None


@dataclass
class ParsedDocument:
    kind: str  # "pdf" | "docx" | "ofd" | "txt" | "md" | "html"
    blocks: list[Block]
    title: str  # best guess, may be ""


def _pdf_corrupt_message() -> str:
    return _("PDF 文件已损坏，无法读取。")


# --------------------------------------------------------------------------------------------
# Policy structure in plain lines

_CN_NUM = "零〇一二三四五六七八九十百千两"
_NUM = rf"[{_CN_NUM}0-9０-９]+"
_CHAPTER_RE = re.compile(rf"^第{_NUM}章(?:\s|$|[^\s，,、的中规])")
_SECTION_RE = re.compile(rf"^第{_NUM}节(?:\s|$|[^\s，,、的中规])")
_ARTICLE_RE = re.compile(rf"^(第{_NUM}条(?:之[{_CN_NUM}]+)?)(?![规的所第和、，,至中款项])")
_CN_ITEM_RE = re.compile(rf"^[{_CN_NUM}]+[、．]\s*\S")
_PAREN_CN_ITEM_RE = re.compile(rf"^[（(][{_CN_NUM}]+[）)]\s*\S")
_ARABIC_ITEM_RE = re.compile(r"^(?:[0-9０-９]{1,3}[、．.](?![0-9０-９])|[（(][0-9０-９]{1,3}[）)]|[①-⑳])\s*\S")
_SENTENCE_END = tuple("。！？；，,;!?")
_PARAGRAPH_END = re.compile(r"[。！？；：:!?;…”」』]$")
_MAX_STRUCTURE_HEADING = 40
_MAX_ITEM_HEADING = 30


def article_label(text: str) -> str | None:
    """The article number ("第五条") when the text starts an article ("第五条 申请人应当…"), else None."""
    match = _ARTICLE_RE.match(text.strip())
    return match.group(1) if match else None


def _starts_structure(line: str) -> bool:
    return bool(
        _CHAPTER_RE.match(line)
        or _SECTION_RE.match(line)
        or _ARTICLE_RE.match(line)
        or _CN_ITEM_RE.match(line)
        or _PAREN_CN_ITEM_RE.match(line)
        or _ARABIC_ITEM_RE.match(line)
    )


_DEFAULT_LEVELS = {"chapter": 1, "section": 2, "item": 2, "paren_item": 3}


def _structure_pattern(text: str) -> str | None:
    """Which policy-structure heading pattern a short line follows, if any."""
    if _CHAPTER_RE.match(text):
        return "chapter"
    if _SECTION_RE.match(text):
        return "section"
    if _CN_ITEM_RE.match(text):
        return "item"
    if _PAREN_CN_ITEM_RE.match(text):
        return "paren_item"
    return None


class _Structure:
    """Classifies plain paragraphs: chapters, sections, articles, numbered items.

    Levels of inferred headings follow the explicit headings around them (a DOCX Heading style,
    a Markdown "#", an HTML <h2>): a chapter written as plain text takes the level of chapters
    that were marked up as headings, and otherwise sits below the current explicit heading.
    Inside an article, "（一）…" items belong to the article and stay list items.
    """

    def __init__(self) -> None:
        self.reference = 0  # the level that chapters (level 1 by default) are counted from
        self.known: dict[str, int] = {}
        self.in_article = False

    def _learn(self, pattern: str | None, level: int) -> None:
        if pattern:
            self.known[pattern] = level
            self.reference = level - _DEFAULT_LEVELS[pattern]
        else:
            self.reference = level

    def explicit_heading(self, level: int, text: str = "") -> None:
        self.in_article = False
        self._learn(_structure_pattern(text.strip()), level)

    def _heading(self, pattern: str) -> tuple[str, int]:
        level = max(1, self.known.get(pattern, self.reference + _DEFAULT_LEVELS[pattern]))
        self._learn(pattern, level)
        return "heading", level

    def classify(self, text: str) -> tuple[str, int]:
        text = text.strip()
        short_structure = len(text) <= _MAX_STRUCTURE_HEADING and not text.endswith(_SENTENCE_END)
        if short_structure and _CHAPTER_RE.match(text):
            self.in_article = False
            return self._heading("chapter")
        if short_structure and _SECTION_RE.match(text):
            self.in_article = False
            return self._heading("section")
        if _ARTICLE_RE.match(text):
            self.in_article = True
            return "paragraph", 0
        short_item = len(text) <= _MAX_ITEM_HEADING and not text.endswith(_SENTENCE_END) and "\n" not in text
        if _CN_ITEM_RE.match(text):
            return self._heading("item") if short_item and not self.in_article else ("list", 0)
        if _PAREN_CN_ITEM_RE.match(text):
            return self._heading("paren_item") if short_item and not self.in_article else ("list", 0)
        if _ARABIC_ITEM_RE.match(text):
            return "list", 0
        return "paragraph", 0

    def block(self, text: str, page: int | None = None) -> Block:
        kind, level = self.classify(text)
        return Block(text=text, kind=kind, level=level, page=page)


# --------------------------------------------------------------------------------------------
# Text helpers

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_INLINE_SPACE = re.compile(r"[ \t\f\v\u00a0\u3000\u2002-\u200a\u202f\u205f]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean_line(line: str) -> str:
    line = line.translate(_ZERO_WIDTH)
    line = _CONTROL.sub("", line)
    return _INLINE_SPACE.sub(" ", line).strip()


def _clean_text(text: str) -> str:
    """Normalise line ends and spaces, keep line structure, drop empty lines at both ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return "\n".join(_clean_line(line) for line in text.split("\n")).strip()


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF
        or 0x3000 <= code <= 0x303F
        or 0x20000 <= code <= 0x2FFFF
    )


def _join(left: str, right: str) -> str:
    """Join two pieces of one paragraph: no space between Chinese text, one space otherwise."""
    if not left:
        return right
    if not right:
        return left
    if _is_cjk(left[-1]) or _is_cjk(right[0]) or left.endswith("-"):
        return left + right
    return f"{left} {right}"


def _one_line(text: str) -> str:
    """Lines of a heading joined into one."""
    joined = ""
    for line in text.split("\n"):
        joined = _join(joined, line.strip())
    return joined


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


_WRAPPED_MIN_WIDTH = 40  # display columns (a Chinese character counts two)


def _join_wrapped_lines(lines: list[str]) -> list[str]:
    """Re-join paragraphs that were hard-wrapped into lines (PDF pages, some TXT files).

    A line continues the previous one unless the previous line ended a sentence, was clearly
    shorter than the text width (the last line of a paragraph, a title), or the line itself
    starts a structure element (chapter, article, numbered item). Blank lines always separate.
    """
    widths = [_width(line) for line in lines if line]
    if not widths:
        return []
    full = max(widths)
    wrapped = full >= _WRAPPED_MIN_WIDTH
    paragraphs: list[str] = []
    open_paragraph = False
    for line in lines:
        if not line:
            open_paragraph = False
            continue
        if open_paragraph and wrapped and not _starts_structure(line):
            paragraphs[-1] = _join(paragraphs[-1], line)
        else:
            paragraphs.append(line)
        open_paragraph = not (
            _PARAGRAPH_END.search(line)
            or _width(line) < 0.8 * full
            or _CHAPTER_RE.match(line)
            or _SECTION_RE.match(line)
        )
    return paragraphs


def _guess_title(blocks: list[Block], preferred: str = "") -> str:
    preferred = _clean_line(preferred or "")
    if preferred:
        return preferred[:300]
    for block in blocks:
        if block.kind == "heading":
            return block.text.replace("\n", " ")[:300]
    for block in blocks[:5]:
        first_line = block.text.split("\n", 1)[0].strip()
        if block.kind != "table" and first_line and len(first_line) <= 60 and not first_line.endswith(_SENTENCE_END):
            return first_line
    return ""


def _require_text(blocks: list[Block]) -> list[Block]:
    blocks = [block for block in blocks if block.text.strip()]
    if not blocks:
        raise ParseError(empty_message())
    return blocks


# --------------------------------------------------------------------------------------------
# Entry point


def parse_document(data: bytes, filename: str) -> ParsedDocument:
    """Parse the uploaded bytes. Only :class:`ParseError` is raised for bad input."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ParseError(_("文件内容无法读取。"))
    data = bytes(data)
    kind = sniff_kind(data, filename)
    if kind == "pdf":
        return _parse_pdf(data)
    if kind == "docx":
        return _parse_docx(data)
    if kind == "ofd":
        return _parse_ofd(data)
    text = text_decode(data, declared_charset(data) if kind == "html" else None)
    if text is None:  # sniff_kind has checked this; kept for safety
        raise ParseError(empty_message())
    try:
        if kind == "txt":
            return _parse_txt(text)
        if kind == "md":
            return _parse_markdown(text)
        return _parse_html(text)
    except ParseError:
        raise
    except RecursionError as exc:
        raise ParseError(_("文件结构过于复杂，无法读取。")) from exc


# --------------------------------------------------------------------------------------------
# TXT


def _parse_txt(text: str) -> ParsedDocument:
    lines = _clean_text(text).split("\n")
    structure = _Structure()
    blocks = [structure.block(paragraph) for paragraph in _join_wrapped_lines(lines)]
    blocks = _require_text(blocks)
    first = blocks[0]
    title_like = first.kind == "paragraph" and len(first.text) <= 60 and not first.text.endswith(_SENTENCE_END)
    title = first.text if first.kind == "heading" or title_like else ""
    return ParsedDocument(kind="txt", blocks=blocks, title=title or _guess_title(blocks))


# --------------------------------------------------------------------------------------------
# PDF

_PAGE_NUMBER_RE = re.compile(
    r"^(?:[-—–－\s]*[0-9]{1,4}[-—–－\s]*|第\s*[0-9]+\s*页(?:\s*[/，,]?\s*共\s*[0-9]+\s*页)?"
    r"|[0-9]+\s*/\s*[0-9]+|page\s*[0-9]+(?:\s*of\s*[0-9]+)?)$",
    re.IGNORECASE,
)


def _parse_pdf(data: bytes) -> ParsedDocument:
    try:
        from pypdf import PdfReader
    except ImportError as exc:  # pragma: no cover - dependency of the project
        raise ParseError(_("服务器缺少 PDF 解析组件，请联系平台管理员。")) from exc
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:
        raise ParseError(_pdf_corrupt_message()) from exc
    if encrypted:
        # A PDF with only an owner password (restrictions on printing/copying) opens for
        # everyone with an empty user password; anything else needs a password we don't have.
        try:
            opened = bool(reader.decrypt(""))
        except Exception:
            opened = False
        if not opened:
            raise ParseError(_("PDF 已加密，请上传未加密的文件。"))
    try:
        page_texts = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:
        raise ParseError(_pdf_corrupt_message()) from exc
    try:
        metadata_title = (reader.metadata or {}).get("/Title") or ""
    except Exception:
        metadata_title = ""

    pages = [_clean_text(text).split("\n") for text in page_texts]
    pages = _strip_running_lines(pages)
    structure = _Structure()
    blocks: list[Block] = []
    for number, lines in enumerate(pages, start=1):
        for paragraph in _join_wrapped_lines(lines):
            blocks.append(structure.block(paragraph, page=number))
    blocks = _require_text(blocks)
    return ParsedDocument(kind="pdf", blocks=blocks, title=_guess_title(blocks, _clean_pdf_title(metadata_title)))


def _clean_pdf_title(title: object) -> str:
    title = _clean_line(str(title or ""))
    title = re.sub(r"^Microsoft (?:Word|PowerPoint) - ", "", title)
    title = re.sub(r"\.(?:docx?|wps|pdf|txt)$", "", title, flags=re.IGNORECASE).strip()
    if title.lower() in {"untitled", "无标题", "title", "document", "文档"}:
        return ""
    return title


def _strip_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Drop page numbers and headers/footers repeated at the top or bottom of most pages."""

    def edges(lines: list[str]) -> tuple[int | None, int | None]:
        filled = [i for i, line in enumerate(lines) if line]
        return (filled[0], filled[-1]) if filled else (None, None)

    def key(line: str) -> str:
        return re.sub(r"[0-9]+", "#", re.sub(r"\s+", "", line))

    drop: list[set[int]] = [set() for _ in pages]
    for index, lines in enumerate(pages):
        for edge in edges(lines):
            if edge is not None and _PAGE_NUMBER_RE.match(lines[edge]):
                drop[index].add(edge)
    if len(pages) >= 3:
        for side in (0, 1):
            counts: dict[str, int] = {}
            for lines in pages:
                edge = edges(lines)[side]
                if edge is not None:
                    counts[key(lines[edge])] = counts.get(key(lines[edge]), 0) + 1
            for index, lines in enumerate(pages):
                edge = edges(lines)[side]
                if edge is not None and counts.get(key(lines[edge]), 0) >= max(3, 0.6 * len(pages)):
                    drop[index].add(edge)
    return [[line for i, line in enumerate(lines) if i not in drop[index]] for index, lines in enumerate(pages)]


# --------------------------------------------------------------------------------------------
# OFD


def _parse_ofd(data: bytes) -> ParsedDocument:
    # sniff_kind has applied the rule for zip containers before anything decompresses a member.
    from .ofd import OfdError, ofd_pages

    try:
        pages = ofd_pages(data)
    except (OfdError, ValueError, zipfile.BadZipFile) as exc:
        raise ParseError(ofd_corrupt_message()) from exc
    structure = _Structure()
    blocks = [structure.block(_clean_line(line), page=n) for n, lines in enumerate(pages, start=1) for line in lines]
    blocks = _require_text(blocks)
    return ParsedDocument(kind="ofd", blocks=blocks, title=_guess_title(blocks))


# --------------------------------------------------------------------------------------------
# DOCX


_HEADING_STYLE_RE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)


def _parse_docx(data: bytes) -> ParsedDocument:
    # sniff_kind has applied the rule for zip containers before anything decompresses a member.
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - dependency of the project
        raise ParseError(_("服务器缺少 Word 解析组件，请联系平台管理员。")) from exc
    try:
        document = docx.Document(io.BytesIO(data))
        blocks, styled_title = _docx_blocks(document)
        core_title = document.core_properties.title or ""
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(docx_corrupt_message()) from exc
    blocks = _require_text(blocks)
    title = styled_title or next((b.text for b in blocks if b.kind == "heading"), "") or _clean_line(core_title)
    return ParsedDocument(kind="docx", blocks=blocks, title=_guess_title(blocks, title))


def _docx_blocks(document) -> tuple[list[Block], str]:
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = document.element.body
    container = document._body
    structure = _Structure()
    blocks: list[Block] = []
    styled_title = ""

    def children(element):
        for child in element.iterchildren():
            if child.tag in (qn("w:sdt"),):
                content = child.find(qn("w:sdtContent"))
                if content is not None:
                    yield from children(content)
            elif child.tag in (qn("w:p"), qn("w:tbl")):
                yield child

    for element in children(body):
        if element.tag == qn("w:tbl"):
            text = _docx_table_text(Table(element, container))
            if text:
                blocks.append(Block(text=text, kind="table"))
            continue
        paragraph = Paragraph(element, container)
        text = _clean_text(paragraph.text)
        if not text:
            continue
        styles = _style_chain(paragraph)
        names = [(style.name or "").strip().lower() for style in styles]
        if any(name.startswith("toc ") or name == "toc heading" for name in names):
            continue  # table of contents: repeats the headings with page numbers
        level = _docx_heading_level(paragraph, styles)
        if level:
            text = _one_line(text)
            if level == 1 and not styled_title and any(name in ("title", "标题") for name in names):
                styled_title = text
            structure.explicit_heading(level, text)
            blocks.append(Block(text=text, kind="heading", level=level))
        elif _docx_is_list(paragraph, styles):
            blocks.append(Block(text=text, kind="list"))
        else:
            blocks.append(structure.block(text))
    return blocks, styled_title


def _style_chain(paragraph) -> list:
    """The paragraph's style and the styles it is based on (guarded against cycles)."""
    chain: list = []
    try:
        style = paragraph.style
        while style is not None and len(chain) < 10 and all(style.element is not s.element for s in chain):
            chain.append(style)
            style = style.base_style
    except Exception:
        return chain  # a broken style reference: use what was found
    return chain


def _outline_level(element) -> int | None:
    from docx.oxml.ns import qn

    ppr = element.find(qn("w:pPr")) if element is not None else None
    outline = ppr.find(qn("w:outlineLvl")) if ppr is not None else None
    if outline is None:
        return None
    try:
        value = int(outline.get(qn("w:val")))
    except (TypeError, ValueError):
        return None
    return value + 1 if 0 <= value < 9 else None


def _has_numbering(element) -> bool:
    from docx.oxml.ns import qn

    ppr = element.find(qn("w:pPr")) if element is not None else None
    numbering = ppr.find(qn("w:numPr")) if ppr is not None else None
    if numbering is None:
        return False
    num_id = numbering.find(qn("w:numId"))
    return num_id is None or num_id.get(qn("w:val")) != "0"  # numId 0 switches numbering off


def _docx_heading_level(paragraph, styles: list) -> int | None:
    for style in styles:
        name = (style.name or "").strip()
        match = _HEADING_STYLE_RE.match(name)
        if match:
            return int(match.group(1))
        if name.lower() in ("title", "标题"):
            return 1
    for element in [paragraph._p, *(style.element for style in styles)]:
        level = _outline_level(element)
        if level:
            return level
    return None


def _docx_is_list(paragraph, styles: list) -> bool:
    if any((style.name or "").strip().lower().startswith(("list", "列表")) for style in styles):
        return True
    return any(_has_numbering(element) for element in [paragraph._p, *(style.element for style in styles)])


def _docx_cell_text(cell) -> str:
    parts = [_clean_line(paragraph.text) for paragraph in cell.paragraphs]
    for table in cell.tables:
        nested = _docx_table_text(table)
        if nested:
            parts.append(nested.replace("\n", "；"))
    return " ".join(part for part in parts if part)


def _docx_table_text(table) -> str:
    rows: list[str] = []
    for row in table.rows:
        cells = []
        previous = None
        try:
            row_cells = list(row.cells)
        except Exception:
            row_cells = []
        for cell in row_cells:
            if previous is not None and cell._tc is previous:
                continue  # a horizontally merged cell is returned once per grid column
            previous = cell._tc
            cells.append(_docx_cell_text(cell))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


# --------------------------------------------------------------------------------------------
# Markdown

_FRONT_MATTER_RE = re.compile(r"\A(?:---|\+\+\+)[ \t]*\n(.*?)\n(?:---|\+\+\+|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE_RE = re.compile(r"""^title\s*[:=]\s*["']?(.*?)["']?\s*$""", re.MULTILINE)
_ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HR_RE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_RE = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])[ \t]+(.*)$")
_TABLE_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(?:\|\s*:?-{1,}:?\s*)*\|?\s*$")
_TASK_RE = re.compile(r"^\[[ xX]\][ \t]+")


def _markdown_inline(text: str) -> str:
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    text = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"~~(?=\S)(.+?)(?<=\S)~~", r"\1", text)
    text = re.sub(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>", "", text)
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|>~])", r"\1", text)
    return _clean_line(text)


def _split_pipe_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [_markdown_inline(cell.replace("\\|", "|")) for cell in cells]


def _parse_markdown(text: str) -> ParsedDocument:
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    front_title = ""
    front = _FRONT_MATTER_RE.match(text)
    if front:
        title_match = _FRONT_TITLE_RE.search(front.group(1))
        front_title = title_match.group(1) if title_match else ""
        text = text[front.end() :]
    lines = text.split("\n")
    structure = _Structure()
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            joined = ""
            for part in paragraph:
                joined = _join(joined, part)
            paragraph.clear()
            joined = _markdown_inline(joined)
            if joined:
                blocks.append(structure.block(joined))

    def heading(text: str, level: int) -> None:
        text = _markdown_inline(text)
        if text:
            structure.explicit_heading(level, text)
            blocks.append(Block(text=text, kind="heading", level=level))

    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        fence = _FENCE_RE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            code: list[str] = []
            i += 1
            while i < n and not lines[i].strip().startswith(marker[0] * len(marker)):
                code.append(lines[i])
                i += 1
            i += 1
            code_text = _clean_text("\n".join(code))
            if code_text:
                blocks.append(Block(text=code_text, kind="paragraph"))
            continue
        atx = _ATX_RE.match(line)
        if atx:
            flush()
            heading(atx.group(2) or "", len(atx.group(1)))
            i += 1
            continue
        if (
            not paragraph
            and i + 1 < n
            and _SETEXT_RE.match(lines[i + 1])
            and not _LIST_RE.match(line)
            and "|" not in stripped
        ):
            heading(stripped, 1 if lines[i + 1].strip().startswith("=") else 2)
            i += 2
            continue
        if _HR_RE.match(line):
            flush()
            i += 1
            continue
        if "|" in stripped and i + 1 < n and _TABLE_SEPARATOR_RE.match(lines[i + 1]) and "|" in lines[i + 1]:
            flush()
            rows = [_split_pipe_row(line)]
            i += 2
            while i < n and lines[i].strip() and "|" in lines[i]:
                rows.append(_split_pipe_row(lines[i]))
                i += 1
            rendered = [" | ".join(row) for row in rows if any(row)]
            if rendered:
                blocks.append(Block(text="\n".join(rendered), kind="table"))
            continue
        item = _LIST_RE.match(line)
        if item:
            flush()
            indent = len(item.group(1).expandtabs(4))
            marker = item.group(2)
            content = _TASK_RE.sub("", item.group(3).strip())
            i += 1
            while i < n:
                following = lines[i]
                if (
                    not following.strip()
                    or _LIST_RE.match(following)
                    or _ATX_RE.match(following)
                    or _FENCE_RE.match(following)
                    or _HR_RE.match(following)
                ):
                    break
                if len(following) - len(following.lstrip()) <= indent and _starts_structure(following.strip()):
                    break
                content = _join(content, following.strip())
                i += 1
            content = _markdown_inline(content)
            if marker[0].isdigit():
                content = f"{marker[:-1]}. {content}"
            if content:
                blocks.append(Block(text=content, kind="list"))
            continue
        if stripped.startswith(">"):
            stripped = re.sub(r"^(?:>\s?)+", "", stripped).strip()
            if not stripped:
                flush()
                i += 1
                continue
        if paragraph and _starts_structure(stripped):
            flush()
        paragraph.append(stripped)
        if _CHAPTER_RE.match(stripped) or _SECTION_RE.match(stripped):
            flush()
        i += 1
    flush()
    blocks = _require_text(blocks)
    return ParsedDocument(kind="md", blocks=blocks, title=_guess_title(blocks, front_title))


# --------------------------------------------------------------------------------------------
# HTML

_VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "keygen",
        "basefont",
        "frame",
    ]
)
_SKIP_TAGS = frozenset(
    [
        "script",
        "style",
        "nav",
        "head",
        "noscript",
        "template",
        "svg",
        "math",
        "iframe",
        "object",
        "embed",
        "select",
        "button",
        "textarea",
        "canvas",
    ]
)
_HEAD_TAGS = frozenset(["title", "meta", "link", "style", "script", "base", "noscript", "template", "head"])
_HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hgroup",
        "html",
        "li",
        "main",
        "menu",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
        "caption",
        "hr",
    ]
) | frozenset(_HEADING_TAGS)
_CLOSES_P = _BLOCK_TAGS - {"li", "td", "th", "tr", "tbody", "thead", "tfoot", "dd", "dt", "caption"}


class _Node:
    __slots__ = ("children", "tag")

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.children: list[_Node | str] = []

    def iter(self, tag: str | None = None, *, stop: frozenset[str] = frozenset()):
        for child in self.children:
            if isinstance(child, _Node):
                if tag is None or child.tag == tag:
                    yield child
                if child.tag not in stop:
                    yield from child.iter(tag, stop=stop)

    def text(self) -> str:
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag == "br":
                parts.append("\n")
            elif child.tag not in _SKIP_TAGS:
                parts.append(child.text())
        return "".join(parts)


class _TreeBuilder(HTMLParser):
    """A forgiving tree builder: closes implied elements (p, li, td, tr) the way browsers do."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root")
        self.stack = [self.root]
        self.title = ""
        self._in_title = False

    def _close_until(self, tags: set[str], boundary: set[str]) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            tag = self.stack[index].tag
            if tag in boundary:
                return
            if tag in tags:
                del self.stack[index:]
                return

    def handle_starttag(self, tag, attrs):
        tag = tag.lower()
        if tag == "title":
            self._in_title = True
        if tag not in _HEAD_TAGS and any(node.tag == "head" for node in self.stack):
            self._close_until({"head"}, set())  # content starts: the <head> ends, even unclosed
        if tag in _CLOSES_P and self.stack[-1].tag == "p":
            self.stack.pop()
        if tag == "li":
            self._close_until({"li"}, {"ul", "ol", "table"})
        elif tag in ("dt", "dd"):
            self._close_until({"dt", "dd"}, {"dl", "table"})
        elif tag in ("td", "th"):
            self._close_until({"td", "th"}, {"tr", "table"})
        elif tag == "tr":
            self._close_until({"tr"}, {"table"})
        elif tag in ("tbody", "thead", "tfoot"):
            self._close_until({"tbody", "thead", "tfoot"}, {"table"})
        node = _Node(tag)
        self.stack[-1].children.append(node)
        if tag not in _VOID_TAGS:
            self.stack.append(node)
        if len(self.stack) > 400:  # pathological nesting: flatten
            self.stack.pop()

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag.lower() not in _VOID_TAGS and self.stack[-1].tag == tag.lower():
            self.stack.pop()

    def handle_endtag(self, tag):
        tag = tag.lower()
        if tag == "title":
            self._in_title = False
        if tag in _VOID_TAGS:
            return
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        self.stack[-1].children.append(data)


def _html_inline(text: str) -> str:
    # Source line breaks between Chinese characters are not spaces.
    text = re.sub(r"(?<=[\u2e80-\u9fff\uff00-\uffef])[ \t\r]*\n\s*(?=[\u2e80-\u9fff\uff00-\uffef])", "", text)
    return _clean_line(re.sub(r"\s+", " ", text))


class _HtmlEmitter:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.buffer: list[str] = []
        self.structure = _Structure()

    def flush(self, kind: str) -> None:
        raw = "".join(self.buffer)
        self.buffer.clear()
        lines = [_html_inline(line) for line in raw.split("\x00")]
        text = "\n".join(line for line in lines if line)
        if not text:
            return
        if kind == "list":
            self.blocks.append(Block(text=text, kind="list"))
        else:
            for line in text.split("\n") if _starts_structure_any(text) else [text]:
                self.blocks.append(self.structure.block(line))

    def walk(self, node: _Node, kind: str = "paragraph", ordinal: list[int] | None = None) -> None:
        for child in node.children:
            if isinstance(child, str):
                self.buffer.append(child)
                continue
            tag = child.tag
            if tag in _SKIP_TAGS:
                continue
            if tag == "br":
                self.buffer.append("\x00")
            elif tag in _HEADING_TAGS:
                self.flush(kind)
                text = _html_inline(child.text())
                if text:
                    level = _HEADING_TAGS[tag]
                    self.structure.explicit_heading(level, text)
                    self.blocks.append(Block(text=text, kind="heading", level=level))
            elif tag == "table":
                self.flush(kind)
                if _is_layout_table(child):
                    self.walk(child, kind)
                    self.flush(kind)
                else:
                    text = _html_table_text(child)
                    if text:
                        self.blocks.append(Block(text=text, kind="table"))
            elif tag == "pre":
                self.flush(kind)
                text = _clean_text(child.text())
                if text:
                    self.blocks.append(Block(text=text, kind="paragraph"))
            elif tag in ("ul", "ol", "menu", "dir"):
                self.flush(kind)
                self.walk(child, kind, [0] if tag == "ol" else None)
                self.flush(kind)
            elif tag == "li":
                self.flush(kind)
                if ordinal is not None:
                    ordinal[0] += 1
                    self.buffer.append(f"{ordinal[0]}. ")
                self.walk(child, "list")
                self.flush("list")
            elif tag in _BLOCK_TAGS:
                self.flush(kind)
                self.walk(child, kind)
                self.flush(kind)
            else:
                self.walk(child, kind, ordinal)


def _starts_structure_any(text: str) -> bool:
    lines = text.split("\n")
    return len(lines) > 1 and any(_starts_structure(line) for line in lines[1:])


def _is_layout_table(table: _Node) -> bool:
    """Old government sites lay out whole pages with tables; those are not data tables."""
    nested = frozenset({"table"})
    if any(True for _ in table.iter("table", stop=nested)):
        return True
    if any(node.tag in _HEADING_TAGS or node.tag in ("ul", "ol") for node in table.iter(stop=nested)):
        return True
    rows = list(table.iter("tr", stop=nested))
    cells = [cell for row in rows for cell in row.iter(stop=nested) if cell.tag in ("td", "th")]
    return len(cells) <= 1 and len(_html_inline(table.text())) > 200


def _html_table_text(table: _Node) -> str:
    nested = frozenset({"table"})
    rows: list[str] = []
    caption = next(table.iter("caption", stop=nested), None)
    if caption is not None and _html_inline(caption.text()):
        rows.append(_html_inline(caption.text()))
    for row in table.iter("tr", stop=nested):
        cells = [_html_inline(cell.text()) for cell in row.iter(stop=nested) if cell.tag in ("td", "th")]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _parse_html(text: str) -> ParsedDocument:
    builder = _TreeBuilder()
    try:
        builder.feed(text)
        builder.close()
    except Exception as exc:
        raise ParseError(_("HTML 文件无法解析。")) from exc
    emitter = _HtmlEmitter()
    emitter.walk(builder.root)
    emitter.flush("paragraph")
    blocks = _require_text(emitter.blocks)
    # <title> often carries the site name ("关于…的通知_示范区人民政府"); the page's own <h1>
    # is cleaner when the <title> contains it.
    page_title = _html_inline(builder.title)
    first_h1 = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    title = first_h1 if first_h1 and first_h1 in page_title else page_title
    return ParsedDocument(kind="html", blocks=blocks, title=_guess_title(blocks, title))
