"""A drafted 通知 exported as Word: GB/T 9704-2012 layout, no Markdown left over, the AI label.

Each test builds the file with ``document_docx`` and reads it back with python-docx (and the raw
package where python-docx has no API), the way Word would see it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from docx import Document
from docx.enum.text import WD_LINE_SPACING, WD_PARAGRAPH_ALIGNMENT
from docx.oxml.ns import qn
from docx.shared import Pt

from agents.chat.docx_export import document_docx

TITLE = "关于做好2026年汛期安全防范工作的通知"
NUMBER = "示应急〔2026〕5号"
ISSUER = "示范区应急管理局"
DATE = "2026年3月5日"

# As a model drafts it: Markdown headings and emphasis, a bullet, a citation marker, the title repeated.
NOTICE = f"""# {TITLE}

各镇（街道）应急管理办公室，区有关部门：

为切实做好今年汛期安全防范工作，**确保人民群众生命财产安全**[1]，现将有关事项通知如下：

## 一、总体要求

坚持人民至上、生命至上，立足防大汛、抗大洪、抢大险、救大灾，*全力*做好各项工作。

### （一）压实防汛责任。各地要落实以行政首长负责制为核心的防汛责任制。

1. 明确责任人。每个村（社区）确定一名防汛责任人。

（1）建立台账。逐一登记在册。

- （2）动态更新。每月核对一次。

**二、工作措施**

请于`3月20日`前将值班安排报[区应急管理局](https://example.gov.cn/)。

附件：1.汛期值班表
2.应急物资清单
"""

EXPECTED_TEXTS = [
    ISSUER,
    NUMBER,
    TITLE,
    "各镇（街道）应急管理办公室，区有关部门：",
    "为切实做好今年汛期安全防范工作，确保人民群众生命财产安全，现将有关事项通知如下：",
    "一、总体要求",
    "坚持人民至上、生命至上，立足防大汛、抗大洪、抢大险、救大灾，全力做好各项工作。",
    "（一）压实防汛责任。各地要落实以行政首长负责制为核心的防汛责任制。",
    "1.明确责任人。每个村（社区）确定一名防汛责任人。",
    "（1）建立台账。逐一登记在册。",
    "（2）动态更新。每月核对一次。",
    "二、工作措施",
    "请于3月20日前将值班安排报区应急管理局。",
    "附件：1.汛期值班表",
    "2.应急物资清单",
    ISSUER,
    DATE,
]


def build(**overrides) -> bytes:
    arguments = {
        "title": TITLE,
        "body": NOTICE,
        "issuer": ISSUER,
        "number": NUMBER,
        "date": DATE,
        "author": "张三",
    }
    arguments.update(overrides)
    return document_docx(**arguments)


def open_docx(data: bytes):
    return Document(io.BytesIO(data))


@pytest.fixture(scope="module")
def notice():
    return open_docx(build())


def texts(document) -> list[str]:
    return [p.text for p in document.paragraphs if p.text.strip()]


def paragraph(document, text: str):
    (found,) = [p for p in document.paragraphs if p.text == text][:1]
    return found


def east_asia(run) -> str:
    return run._r.rPr.rFonts.get(qn("w:eastAsia"))


def width_in_chars(text: str) -> float:
    return sum(0.5 if ord(ch) < 0x2E80 else 1 for ch in text)


def test_paragraphs_in_reading_order(notice):
    assert texts(notice) == EXPECTED_TEXTS


def test_page_is_a4_with_gb_t_9704_margins(notice):
    section = notice.sections[0]
    for length, mm in (
        (section.page_width, 210),
        (section.page_height, 297),
        (section.top_margin, 37),
        (section.bottom_margin, 35),
        (section.left_margin, 28),
        (section.right_margin, 26),
    ):
        assert length.mm == pytest.approx(mm, abs=0.5)
    # 22 lines to the 225 mm type area.
    grid = section._sectPr.find(qn("w:docGrid"))
    assert 28 * 20 <= int(grid.get(qn("w:linePitch"))) <= 29 * 20


def test_title_is_centred_22pt_xiaobiaosong(notice):
    title = paragraph(notice, TITLE)
    assert title.alignment == WD_PARAGRAPH_ALIGNMENT.CENTER
    (run,) = title.runs
    assert run.font.size == Pt(22)
    assert "小标宋" in east_asia(run)


def test_body_is_16pt_fangsong_on_fixed_lines_with_two_character_indent(notice):
    body = paragraph(notice, EXPECTED_TEXTS[4])
    for run in body.runs:
        assert run.font.size == Pt(16)
        assert "仿宋" in east_asia(run) or "FangSong" in east_asia(run)
    assert body.paragraph_format.first_line_indent == Pt(32)
    normal = notice.styles["Normal"]
    assert normal.paragraph_format.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    assert 28 <= normal.paragraph_format.line_spacing.pt <= 29
    assert normal.font.size == Pt(16)
    assert "仿宋" in normal.element.rPr.rFonts.get(qn("w:eastAsia"))


def test_28_characters_a_line_fit_the_type_area(notice):
    # 16 pt type condensed so that 28 characters take no more than the 156 mm line.
    spacing = notice.styles.element.find(qn("w:docDefaults")).find(".//" + qn("w:spacing"))
    pitch_pt = 16 + int(spacing.get(qn("w:val"))) / 20
    assert 28 * pitch_pt <= 156 / 25.4 * 72 < 29 * pitch_pt


def test_heading_levels_take_their_fonts(notice):
    level1 = paragraph(notice, "一、总体要求")
    assert [east_asia(r) for r in level1.runs] == ["黑体"]
    level2 = paragraph(notice, EXPECTED_TEXTS[7])
    # Only the heading sentence is 楷体; the text after it is body type.
    assert [(r.text, east_asia(r)) for r in level2.runs] == [
        ("（一）压实防汛责任。", "楷体_GB2312"),
        ("各地要落实以行政首长负责制为核心的防汛责任制。", "仿宋_GB2312"),
    ]
    for text in EXPECTED_TEXTS[8:10]:
        assert all("仿宋" in east_asia(r) for r in paragraph(notice, text).runs)
    assert [east_asia(r) for r in paragraph(notice, "二、工作措施").runs] == ["黑体"]
    for text in ("一、总体要求", EXPECTED_TEXTS[7], EXPECTED_TEXTS[8], EXPECTED_TEXTS[9], "二、工作措施"):
        assert paragraph(notice, text).paragraph_format.first_line_indent == Pt(32)


def test_headings_are_in_the_outline(notice):
    levels = {
        p.text[:4]: p._p.pPr.find(qn("w:outlineLvl")).get(qn("w:val"))
        for p in notice.paragraphs
        if p._p.pPr is not None and p._p.pPr.find(qn("w:outlineLvl")) is not None
    }
    assert levels == {"一、总体": "0", "（一）压": "1", "1.明确": "2", "（1）建": "3", "（2）动": "3", "二、工作": "0"}


def test_addressee_is_flush_left(notice):
    addressee = paragraph(notice, EXPECTED_TEXTS[3])
    assert addressee.paragraph_format.first_line_indent == Pt(0)
    assert addressee.alignment in (None, WD_PARAGRAPH_ALIGNMENT.LEFT, WD_PARAGRAPH_ALIGNMENT.JUSTIFY)


def test_masthead_number_centred_under_the_red_issuer_with_the_red_line(notice):
    paragraphs = [p for p in notice.paragraphs if p.text.strip()]
    mark, number = paragraphs[0], paragraphs[1]
    assert mark.alignment == WD_PARAGRAPH_ALIGNMENT.CENTER
    assert str(mark.runs[0].font.color.rgb) == "FF0000"
    assert number.alignment == WD_PARAGRAPH_ALIGNMENT.CENTER
    (run,) = number.runs
    assert run.font.size == Pt(16) and "仿宋" in east_asia(run)
    line = number._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))
    assert line.get(qn("w:color")) == "FF0000" and line.get(qn("w:val")) == "single"


def test_attachment_note_after_a_blank_line_and_its_items_aligned(notice):
    paragraphs = notice.paragraphs
    index = next(i for i, p in enumerate(paragraphs) if p.text.startswith("附件："))
    assert paragraphs[index - 1].text == ""
    assert paragraphs[index].paragraph_format.first_line_indent == Pt(32)
    item = paragraphs[index + 1]
    assert item.text == "2.应急物资清单"
    # Under "1.": two characters of indent plus the three of "附件：".
    assert item.paragraph_format.left_indent == Pt(80)


def test_signature_and_date_right_aligned_date_two_characters_right_of_signature(notice):
    signature, date = notice.paragraphs[-2], notice.paragraphs[-1]
    assert (signature.text, date.text) == (ISSUER, DATE)
    for p in (signature, date):
        assert p.alignment == WD_PARAGRAPH_ALIGNMENT.RIGHT
        assert p.paragraph_format.right_indent >= Pt(32)
    signature_start = signature.paragraph_format.right_indent.pt / 16 + width_in_chars(ISSUER)
    date_start = date.paragraph_format.right_indent.pt / 16 + width_in_chars(DATE)
    assert signature_start - date_start == pytest.approx(2)


@pytest.mark.parametrize("issuer", ["某局", "示范区人民政府办公室防汛抗旱指挥部"])
def test_signature_placement_rule_holds_for_short_and_long_issuers(issuer):
    document = open_docx(build(issuer=issuer, number=""))
    signature, date = document.paragraphs[-2], document.paragraphs[-1]
    assert signature.text == issuer
    signature_start = signature.paragraph_format.right_indent.pt / 16 + width_in_chars(issuer)
    date_start = date.paragraph_format.right_indent.pt / 16 + width_in_chars(DATE)
    assert signature_start - date_start == pytest.approx(2)
    assert min(signature.paragraph_format.right_indent.pt, date.paragraph_format.right_indent.pt) >= 32


def test_page_numbers_in_the_footer_odd_right_even_left(notice):
    section = notice.sections[0]
    assert notice.settings.odd_and_even_pages_header_footer
    for footer, align, indent in (
        (section.footer, WD_PARAGRAPH_ALIGNMENT.RIGHT, "right_indent"),
        (section.even_page_footer, WD_PARAGRAPH_ALIGNMENT.LEFT, "left_indent"),
    ):
        (p,) = footer.paragraphs
        assert p.text == "— 1 —"
        assert p.alignment == align
        assert getattr(p.paragraph_format, indent) == Pt(14)
        instructions = [t.text.strip() for t in p._p.iter(qn("w:instrText"))]
        assert instructions == ["PAGE"]
        kinds = [f.get(qn("w:fldCharType")) for f in p._p.iter(qn("w:fldChar"))]
        assert kinds == ["begin", "separate", "end"]
        assert {r.font.size for r in p.runs} == {Pt(14)}
        assert {east_asia(r) for r in p.runs} == {"宋体"}


def custom_properties(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        if "docProps/custom.xml" not in package.namelist():
            return {}
        xml = package.read("docProps/custom.xml").decode()
    return dict(re.findall(r'name="([^"]+)"><vt:lpwstr>(.*?)</vt:lpwstr>', xml))


def test_core_properties_carry_the_ai_label():
    data = build(content_id="run-42", producer="示范区数据局")
    properties = open_docx(data).core_properties
    assert properties.title == TITLE
    assert properties.author == "张三"
    assert properties.subject == NUMBER
    assert "人工智能生成" in properties.comments
    assert "AI生成" in properties.keywords
    label = json.loads(custom_properties(data)["AIGC"].replace("&quot;", '"'))
    assert label["Label"] == "1"
    assert label["ProduceID"] == "run-42"
    assert label["ContentProducer"] == "示范区数据局"
    # And visibly, on every page.
    section = open_docx(data).sections[0]
    for header in (section.header, section.even_page_header):
        assert "人工智能生成" in header.paragraphs[0].text


def test_without_ai_generation_no_label_anywhere():
    data = build(ai_generated=False)
    document = open_docx(data)
    properties = document.core_properties
    assert "人工智能" not in properties.comments
    assert "AI" not in properties.keywords
    assert custom_properties(data) == {}
    section = document.sections[0]
    for header in (section.header, section.even_page_header):
        assert "人工智能" not in "".join(p.text for p in header.paragraphs)
    assert texts(document) == EXPECTED_TEXTS


def all_text(document) -> list[str]:
    found = [p.text for p in document.paragraphs]
    for table in document.tables:
        found += [cell.text for row in table.rows for cell in row.cells]
    return found


def test_markdown_markup_does_not_leak():
    body = (
        "## **一、工作要求**\n\n> 引用的*原文*内容。\n\n* 列表项`代码`\n+ 加号项 [1][2]\n\n"
        "---\n\n~~删除~~与__强调__，见![图](x.png)。\n\n```\n原样内容\n```\n\n"
        "| 事项 | **责任单位** |\n|:---|---:|\n| 巡查 | 各镇 |\n"
    )
    document = open_docx(document_docx(title="**测试**通知", body=body))
    found = all_text(document)
    for text in found:
        for markup in ("**", "#", "`", "~~", "__", "[1]", "](", "---", "> "):
            assert markup not in text, (markup, text)
        assert not text.startswith(("* ", "+ ", "- "))
    assert [t for t in found if t.strip()][:7] == [
        "测试通知",
        "一、工作要求",
        "引用的原文内容。",
        "列表项代码",
        "加号项",
        "删除与强调，见图。",
        "原样内容",
    ]
    (table,) = document.tables
    assert [[c.text for c in row.cells] for row in table.rows] == [["事项", "责任单位"], ["巡查", "各镇"]]


def test_signature_and_date_found_at_the_end_of_the_body():
    body = f"{TITLE}\n\n各单位：\n\n现将有关事项通知如下。\n\n特此通知。\n\n{ISSUER}\n{DATE}\n"
    document = open_docx(document_docx(title=TITLE, body=body))
    assert texts(document) == [TITLE, "各单位：", "现将有关事项通知如下。", "特此通知。", ISSUER, DATE]
    assert document.paragraphs[-1].alignment == WD_PARAGRAPH_ALIGNMENT.RIGHT
    assert document.paragraphs[-2].alignment == WD_PARAGRAPH_ALIGNMENT.RIGHT
    # Without a number there is no masthead: the title opens the page.
    assert document.paragraphs[0].text == TITLE


def test_half_width_heading_marks_are_made_full_width():
    document = open_docx(document_docx(title="通知", body="(一)加强领导\n(1) 明确分工\n2 . 定期调度"))
    assert texts(document)[1:] == ["（一）加强领导", "（1）明确分工", "2.定期调度"]


def test_empty_body_still_gives_a_valid_document():
    document = open_docx(document_docx(title="通知", body=""))
    assert texts(document) == ["通知"]
