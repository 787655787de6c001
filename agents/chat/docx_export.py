"""An official document (公文) drafted in the workspace, as a Word file laid out by GB/T 9704-2012.

``document_docx`` turns a title and a body of plain-text or Markdown-ish lines into a .docx that
opens ready for editing in Word or WPS:

- Page (GB/T 9704 5.2): A4; top margin 37 mm, bottom 35 mm, left 28 mm, right 26 mm, so the type
  area is 156 mm × 225 mm; 22 lines a page on a line grid with fixed line spacing of 28.95 pt
  (225 mm / 22), and 28 characters a line from type condensed by 0.25 pt (156 mm / 28).
- Type (7): body 三号仿宋 (仿宋_GB2312, falling back to 仿宋) at 16 pt, first lines indented two
  characters; title 二号小标宋 (方正小标宋简体, falling back to 宋体) at 22 pt, centred; the four
  heading levels by their numbering: "一、" 黑体, "（一）" 楷体, "1." and "（1）" 仿宋. When a
  heading is followed by text in the same paragraph, only the heading sentence takes the
  heading's type.
- Parts: with an issuing number (发文字号), a 版头 — the issuer's name in red 小标宋 when an issuer
  is given, the number centred in 三号仿宋 and the red separator line; the addressee (主送机关,
  the first line of the body when it ends with a colon) flush left; the attachment note (附件说明)
  after a blank line; the signature and the date right-aligned, the date's first character two
  characters right of the signature's (7.3.5.2), the date as given.
- Page numbers (7.5): "— n —" in 4号 half-width 宋体 in the footer, odd pages right and even pages
  left, one character in from the edge.
- Markdown (#, **, *, `, >, list bullets, links, tables, code fences, citation markers "[n]") is
  stripped or turned into Word's own structure; Markdown tables become Word tables.

The fonts are named, not embedded: a machine without 方正小标宋简体 or 仿宋_GB2312 shows the
fallback named in the font table.

When the content is AI-generated (the default), the file says so both ways the 《人工智能生成合成
内容标识办法》 asks for: visibly, in the page header, and in the file's metadata — the core
properties' comments and keywords, and a custom property ``AIGC`` with the implicit-label fields
of GB 45438-2025.

The function is pure: no database, no network; only the creation time varies between two calls.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_LINE_SPACING, WD_PARAGRAPH_ALIGNMENT
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.text.paragraph import Paragraph
from lxml import etree

from .. import labels

# Fonts, by the names Chinese Word and WPS know them; the font table names a fallback for each.
FANGSONG = "仿宋_GB2312"
XIAOBIAOSONG = "方正小标宋简体"
KAITI = "楷体_GB2312"
HEITI = "黑体"
SONGTI = "宋体"
LATIN = "Times New Roman"
_FALLBACKS = {FANGSONG: "仿宋", XIAOBIAOSONG: SONGTI, KAITI: "楷体", HEITI: "SimHei", SONGTI: "SimSun"}

BODY_PT = 16  # 三号
TITLE_PT = 22  # 二号
PAGE_NUMBER_PT = 14  # 4号
LINE_PITCH_TWIPS = 579  # 225 mm / 22 lines = 28.95 pt
# 28 characters a line: 156 mm / 28 = 15.79 pt a character, so 16 pt type condensed by 0.25 pt
# (in twentieths of a point, the unit of w:spacing).
CHAR_CONDENSE_TWIPS = -5
RED = RGBColor(0xFF, 0x00, 0x00)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

# The implicit AI label: the metadata is machine-read, so it does not follow the reader's language.
AI_KEYWORD = labels.KEYWORD
AI_COMMENT = labels.COMMENT

_HEADING_FONTS = {1: HEITI, 2: KAITI, 3: FANGSONG, 4: FANGSONG}
_CN = "[一二三四五六七八九十百零〇]{1,3}"
_HEADING_MARKERS = [
    (1, re.compile(rf"^(?P<m>{_CN})\s*、\s*")),
    (2, re.compile(rf"^[（(]\s*(?P<m>{_CN})\s*[）)]\s*")),
    (4, re.compile(r"^[（(]\s*(?P<m>\d{1,2})\s*[）)]\s*")),
    (3, re.compile(r"^(?P<m>\d{1,2})\s*[.．](?!\d)\s*")),
]
_HEADING_FORM = {1: "{m}、", 2: "（{m}）", 3: "{m}.", 4: "（{m}）"}

_MD_HEADING = re.compile(r"^\s{0,3}(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_MD_BULLET = re.compile(r"^\s*[-*+•·]\s+")
_MD_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_MD_RULE = re.compile(r"^\s*([-*_])(?:\s*\1){2,}\s*$")
_MD_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"\[\d{1,3}\]"), ""),  # citation markers: the sources stay in the workspace
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),
    (re.compile(r"__(.+?)__"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"\*(?!\s)([^*\n]+?)(?<!\s)\*"), r"\1"),
    (re.compile(r"`([^`]*)`"), r"\1"),
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),  # stray HTML tags
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),  # Markdown escapes
    (re.compile(r"\*{2,}"), ""),  # emphasis left unclosed
]
_ATTACHMENT = re.compile(r"^附\s*件\s*[：:]\s*")
_ATTACHMENT_ITEM = re.compile(r"^\d{1,2}\s*[.．]")
_DATE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$")
_SENTENCE_PUNCTUATION = re.compile(r"[。，；！？,;!?]")

# Word refuses a file whose paragraph properties are out of the schema's order.
_AFTER_OUTLINE = ("w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")
_AFTER_PBDR = (
    "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct",
    "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind",
    "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
    "w:textboxTightWrap", "w:outlineLvl", *_AFTER_OUTLINE,
)  # fmt: skip


@dataclass
class _Line:
    kind: str  # "text", "heading", "addressee", "attachment", "attachment_item", "table"
    text: str = ""
    level: int = 0
    rows: list[list[str]] = field(default_factory=list)


def document_docx(
    *,
    title: str,
    body: str,
    issuer: str = "",
    number: str = "",
    date: str = "",
    ai_generated: bool = True,
    author: str = "",
    producer: str = "",
    content_id: str = "",
) -> bytes:
    """The document as the bytes of a .docx file (see the module docstring for the layout).

    ``title`` is the document's title; ``body`` its text, one paragraph a line, plain or Markdown;
    a first line repeating the title and a closing signature and date are recognised and laid out
    as such. ``issuer`` (发文机关) signs the document and, with ``number`` (发文字号), heads it;
    ``date`` (成文日期) is printed as given. ``author`` goes to the file's properties.
    ``ai_generated`` labels the file as AI-generated (visible header and metadata);
    ``producer`` (the service provider's name or code) and ``content_id`` (e.g. the run's id) fill
    the ContentProducer and ProduceID fields of the implicit label.
    """
    title = _strip_inline(title).strip()
    issuer = issuer.strip()
    number = number.strip()
    date = date.strip()
    lines, body_signature, body_date = _parse_body(body, title=title, issuer=issuer, number=number)
    issuer_signature = issuer or body_signature
    date = date or body_date

    document = Document()
    _set_up_page(document)
    _set_up_styles(document)
    _set_up_fonts(document)

    if number:
        _add_masthead(document, issuer=issuer, number=number)
        _blank(document)
        _blank(document)
    if title:
        paragraph = _paragraph(document, align=WD_PARAGRAPH_ALIGNMENT.CENTER, indent_chars=0)
        _run(paragraph, title, font=XIAOBIAOSONG, size=TITLE_PT)
        _blank(document)

    attachment_open = False
    for line in lines:
        if line.kind == "table":
            _add_table(document, line.rows)
            attachment_open = False
        elif line.kind == "addressee":
            _run(_paragraph(document, indent_chars=0), line.text)
        elif line.kind == "attachment":
            _blank(document)
            _run(_paragraph(document), line.text)
            attachment_open = True
        elif line.kind == "attachment_item" and attachment_open:
            # Aligned under the first attachment name: two characters of indent plus "附件：".
            _run(_paragraph(document, indent_chars=0, left_chars=5), line.text)
        elif line.kind == "heading":
            _add_heading(document, line.text, line.level)
            attachment_open = False
        else:
            _run(_paragraph(document), line.text)
            attachment_open = False

    if issuer_signature or date:
        _add_signature(document, issuer=issuer_signature, date=date)

    _add_page_numbers(document)
    if ai_generated:
        _add_ai_header(document)
    _set_properties(
        document,
        title=title,
        author=author,
        subject=number or title,
        ai_generated=ai_generated,
        producer=producer,
        content_id=content_id,
    )

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- reading the body


def _strip_inline(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def _normalise_heading(text: str) -> tuple[int, str]:
    """The heading level of a line by its numbering (0 for none), and the line with GB/T 9704's marker form."""
    for level, pattern in _HEADING_MARKERS:
        match = pattern.match(text)
        if match:
            return level, _HEADING_FORM[level].format(m=match.group("m")) + text[match.end() :]
    return 0, text


def _parse_body(body: str, *, title: str, issuer: str, number: str) -> tuple[list[_Line], str, str]:
    """The body's paragraphs, and the signature and date found at its end (empty when none)."""
    lines: list[_Line] = []
    in_code = False
    table: list[list[str]] = []

    def flush_table() -> None:
        if table:
            width = max(len(row) for row in table)
            lines.append(_Line("table", rows=[row + [""] * (width - len(row)) for row in table]))
            table.clear()

    for raw in (body or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _MD_FENCE.match(raw):
            in_code = not in_code
            continue
        if in_code:
            if raw.strip():
                lines.append(_Line("text", raw.strip()))
            continue
        if _TABLE_ROW.match(raw):
            if not _TABLE_RULE.match(raw):
                table.append([_strip_inline(cell).strip() for cell in raw.strip().strip("|").split("|")])
            continue
        flush_table()
        if _MD_RULE.match(raw):
            continue
        text = _MD_QUOTE.sub("", raw)
        markdown_level = 0
        heading = _MD_HEADING.match(text)
        if heading:
            text = heading.group("text")
            markdown_level = min(max(len(heading.group("hashes")) - 1, 1), 4)
        text = _strip_inline(_MD_BULLET.sub("", text)).strip()
        if not text:
            continue
        level, text = _normalise_heading(text)
        if level or markdown_level:
            lines.append(_Line("heading", text, level=level or markdown_level))
        else:
            lines.append(_Line("text", text))
    flush_table()

    # A repeated title or number at the top: they are laid out from the arguments.
    while lines and lines[0].kind != "table" and lines[0].text in {title, number} - {""}:
        lines.pop(0)

    body_date = body_signature = ""
    if lines and lines[-1].kind == "text" and _DATE.match(lines[-1].text):
        body_date = lines.pop().text
        last = lines[-1] if lines else None
        if last and last.kind == "text" and len(last.text) <= 30 and not _SENTENCE_PUNCTUATION.search(last.text):
            body_signature = lines.pop().text
    if issuer and lines and lines[-1].kind == "text" and lines[-1].text == issuer:
        lines.pop()

    if lines and lines[0].kind == "text" and lines[0].text.endswith(("：", ":")) and len(lines[0].text) <= 80:
        lines[0].kind = "addressee"
    after_attachment = False
    for line in lines:
        if line.kind in ("text", "heading") and _ATTACHMENT.match(line.text):
            line.kind, line.level = "attachment", 0
            after_attachment = True
        elif after_attachment and line.kind in ("text", "heading") and _ATTACHMENT_ITEM.match(line.text):
            line.kind, line.level = "attachment_item", 0
        else:
            after_attachment = False
    return lines, body_signature, body_date


# --------------------------------------------------------------------------- page, styles, fonts


def _set_up_page(document) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance = Mm(15)
    # The page number's top edge sits 7 mm below the type area (GB/T 9704 7.5).
    section.footer_distance = Mm(23)
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    # A line grid only: a character grid narrower than the 16 pt type makes LibreOffice give every
    # character two cells. The 28 characters a line come from the body's condensed spacing instead.
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(LINE_PITCH_TWIPS))
    grid.attrib.pop(qn("w:charSpace"), None)
    document.settings.odd_and_even_pages_header_footer = True


def _set_up_styles(document) -> None:
    """Body type and line pitch as the document's defaults, so every style and the grid start from them."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    for old in list(defaults):
        defaults.remove(old)
    defaults.append(
        parse_xml(
            f'<w:rPrDefault xmlns:w="{_W}"><w:rPr>'
            f'<w:rFonts w:ascii="{LATIN}" w:hAnsi="{LATIN}" w:cs="{LATIN}" w:eastAsia="{FANGSONG}"/>'
            f'<w:spacing w:val="{CHAR_CONDENSE_TWIPS}"/><w:sz w:val="{BODY_PT * 2}"/><w:szCs w:val="{BODY_PT * 2}"/>'
            '<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:rPr></w:rPrDefault>'
        )
    )
    defaults.append(
        parse_xml(
            f'<w:pPrDefault xmlns:w="{_W}"><w:pPr>'
            f'<w:spacing w:before="0" w:after="0" w:line="{LINE_PITCH_TWIPS}" w:lineRule="exact"/>'
            "</w:pPr></w:pPrDefault>"
        )
    )
    normal = document.styles["Normal"]
    _set_fonts(normal.element.get_or_add_rPr(), east_asia=FANGSONG, latin=LATIN)
    normal.font.size = Pt(BODY_PT)
    paragraph_format = normal.paragraph_format
    paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    paragraph_format.line_spacing = Pt(LINE_PITCH_TWIPS / 20)
    paragraph_format.space_before = paragraph_format.space_after = Pt(0)
    # Widow control would move single lines and break the 22-line grid.
    paragraph_format.widow_control = False


def _set_up_fonts(document) -> None:
    """Declare the Chinese fonts in the font table with a fallback Word and WPS use when one is missing."""
    part = document.part.part_related_by(RT.FONT_TABLE)
    fonts = parse_xml(part.blob)
    for name, fallback in _FALLBACKS.items():
        fonts.append(
            parse_xml(
                f'<w:font xmlns:w="{_W}" w:name="{escape(name)}">'
                f'<w:altName w:val="{escape(fallback)}"/><w:charset w:val="86"/><w:family w:val="modern"/>'
                '<w:pitch w:val="fixed"/></w:font>'
            )
        )
    part._blob = etree.tostring(fonts, xml_declaration=True, encoding="UTF-8", standalone=True)


def _set_fonts(rPr, *, east_asia: str, latin: str) -> None:
    fonts = rPr.get_or_add_rFonts()
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:cs"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:hint"), "eastAsia")


# --------------------------------------------------------------------------- building blocks


def _paragraph(document_or_cell, *, align=None, indent_chars: float = 2, left_chars: float = 0) -> Paragraph:
    paragraph = document_or_cell.add_paragraph()
    paragraph_format = paragraph.paragraph_format
    if align is not None:
        paragraph_format.alignment = align
    paragraph_format.first_line_indent = Pt(BODY_PT * indent_chars)
    if left_chars:
        paragraph_format.left_indent = Pt(BODY_PT * left_chars)
    return paragraph


def _run(paragraph: Paragraph, text: str, *, font: str = FANGSONG, size: float = BODY_PT, latin: str | None = None):
    run = paragraph.add_run(text)
    _set_fonts(run._r.get_or_add_rPr(), east_asia=font, latin=latin or (LATIN if font == FANGSONG else font))
    run.font.size = Pt(size)
    return run


def _blank(document) -> None:
    document.add_paragraph()


def _add_masthead(document, *, issuer: str, number: str) -> None:
    """版头: the issuer's mark in red, the number centred under it, the red separator line below."""
    if issuer:
        mark = _paragraph(document, align=WD_PARAGRAPH_ALIGNMENT.CENTER, indent_chars=0)
        # As large as fits the 156 mm line, at most 小初-like 42 pt.
        size = max(22, min(42, int(440 / max(len(issuer), 1))))
        mark.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        # The mark's top edge 35 mm below the type area's (7.2.3), less the line's own leading.
        mark.paragraph_format.space_before = Mm(25)
        run = _run(mark, issuer, font=XIAOBIAOSONG, size=size)
        run.font.color.rgb = RED
        _blank(document)
        _blank(document)
    line = _paragraph(document, align=WD_PARAGRAPH_ALIGNMENT.CENTER, indent_chars=0)
    _run(line, number)
    # The red separator, as wide as the type area, 4 mm under the number (7.2.6).
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "12"), ("space", "11"), ("color", "FF0000")):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    line._p.get_or_add_pPr().insert_element_before(borders, *_AFTER_PBDR)


def _add_heading(document, text: str, level: int) -> None:
    paragraph = _paragraph(document)
    # The outline level lets Word's navigation pane list the headings without restyling them.
    outline = OxmlElement("w:outlineLvl")
    outline.set(qn("w:val"), str(level - 1))
    paragraph._p.get_or_add_pPr().insert_element_before(outline, *_AFTER_OUTLINE)
    font = _HEADING_FONTS[level]
    end = text.find("。")
    if 0 <= end < len(text) - 1:
        _run(paragraph, text[: end + 1], font=font)
        _run(paragraph, text[end + 1 :])
    else:
        _run(paragraph, text, font=font)


def _add_table(document, rows: list[list[str]]) -> None:
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            cell = table.cell(r, c)
            paragraph = cell.paragraphs[0]
            paragraph.paragraph_format.first_line_indent = Pt(0)
            paragraph.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
            _run(paragraph, value, size=14, font=HEITI if r == 0 else FANGSONG)


def _width_in_chars(text: str) -> float:
    return sum(0.5 if ord(ch) < 0x2E80 else 1 for ch in text)


def _add_signature(document, *, issuer: str, date: str) -> None:
    """Signature and date right-aligned (7.3.5.2): the signature two characters in from the right,
    the date starting two characters right of the signature; a longer date moves the signature."""
    _blank(document)
    signature_width, date_width = _width_in_chars(issuer), _width_in_chars(date)
    if issuer and date:
        signature_right = 4 + date_width - signature_width
        date_right = 2.0
        if signature_right < 2:
            signature_right, date_right = 2.0, signature_width - date_width
    else:
        signature_right = date_right = 2.0
    for text, right in ((issuer, signature_right), (date, date_right)):
        if text:
            paragraph = _paragraph(document, align=WD_PARAGRAPH_ALIGNMENT.RIGHT, indent_chars=0)
            paragraph.paragraph_format.right_indent = Pt(BODY_PT * right)
            _run(paragraph, text)


def _add_field(paragraph: Paragraph, instruction: str, placeholder: str, **font) -> None:
    def fld_char(kind: str) -> None:
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        _run(paragraph, "", **font)._r.append(element)

    fld_char("begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    _run(paragraph, "", **font)._r.append(instr)
    fld_char("separate")
    _run(paragraph, placeholder, **font)
    fld_char("end")


def _add_page_numbers(document) -> None:
    """ "— n —" in 4号 half-width 宋体: odd pages right, even pages left, one character in."""
    section = document.sections[0]
    font = {"font": SONGTI, "size": PAGE_NUMBER_PT, "latin": SONGTI}
    for footer, align in (
        (section.footer, WD_PARAGRAPH_ALIGNMENT.RIGHT),
        (section.even_page_footer, WD_PARAGRAPH_ALIGNMENT.LEFT),
    ):
        footer.is_linked_to_previous = False
        paragraph = footer.paragraphs[0]
        paragraph_format = paragraph.paragraph_format
        paragraph_format.alignment = align
        paragraph_format.first_line_indent = Pt(0)
        paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        if align == WD_PARAGRAPH_ALIGNMENT.RIGHT:
            paragraph_format.right_indent = Pt(PAGE_NUMBER_PT)
        else:
            paragraph_format.left_indent = Pt(PAGE_NUMBER_PT)
        _run(paragraph, "— ", **font)
        _add_field(paragraph, "PAGE", "1", **font)
        _run(paragraph, " —", **font)


def _add_ai_header(document) -> None:
    """The visible label on every page: a file exported from an AI service carries one."""
    section = document.sections[0]
    label = str(labels.DOCUMENT)
    for header in (section.header, section.even_page_header):
        header.is_linked_to_previous = False
        paragraph = header.paragraphs[0]
        paragraph.paragraph_format.alignment = WD_PARAGRAPH_ALIGNMENT.CENTER
        paragraph.paragraph_format.first_line_indent = Pt(0)
        paragraph.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        run = _run(paragraph, label, size=10.5)
        run.font.color.rgb = RGBColor(0x80, 0x80, 0x80)


# --------------------------------------------------------------------------- metadata


def _set_properties(
    document, *, title: str, author: str, subject: str, ai_generated: bool, producer: str, content_id: str
) -> None:
    package = document.part.package
    # python-docx's template carries a thumbnail of its own sample page; a stale preview misleads.
    for rel_id, rel in list(package.rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            del package.rels[rel_id]
    properties = document.core_properties
    now = datetime.now(UTC).replace(microsecond=0)
    properties.title = title
    properties.subject = subject
    properties.author = author
    properties.last_modified_by = author
    properties.category = "公文"
    properties.language = "zh-CN"
    properties.created = properties.modified = now
    properties.revision = 1
    properties.comments = AI_COMMENT if ai_generated else ""
    properties.keywords = f"{AI_KEYWORD};公文" if ai_generated else "公文"
    if ai_generated:
        _add_custom_properties(
            document,
            {
                "AIGC": labels.metadata_json(content=content_id, producer=producer),
            },
        )


def _add_custom_properties(document, values: dict[str, str]) -> None:
    """docProps/custom.xml, which python-docx has no API for; Word shows it under 属性 → 自定义."""
    items = "".join(
        f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{pid}" name="{escape(name, {chr(34): "&quot;"})}">'
        f"<vt:lpwstr>{escape(value)}</vt:lpwstr></property>"
        for pid, (name, value) in enumerate(values.items(), start=2)
    )
    blob = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        f"{items}</Properties>"
    ).encode()
    package = document.part.package
    part = Part(PackURI("/docProps/custom.xml"), CT.OFC_CUSTOM_PROPERTIES, blob, package)
    package.relate_to(part, RT.CUSTOM_PROPERTIES)
