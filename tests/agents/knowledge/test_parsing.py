"""Parsing uploaded documents: type sniffing, structure per format, and readable Chinese errors.

All test files are generated here, in memory: DOCX with python-docx, PDFs by hand (ASCII) or with
reportlab's built-in CJK font (STSong-Light, no font files needed), zips with zipfile.
"""

import io
import random
import zipfile

import docx
import pypdf
import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from agents.knowledge import sniffing
from agents.knowledge.parsing import (
    MAX_COMPRESSION_RATIO,
    MAX_UNCOMPRESSED_BYTES,
    Block,
    ParsedDocument,
    ParseError,
    article_label,
    parse_document,
    sniff_kind,
)

EMPTY = "未能从文件中提取到文字：文件为空，或是扫描件/图片。"

POLICY_TXT = """关于印发《示范区人才安居补贴办法》的通知

各街道、各有关单位：
现将《示范区人才安居补贴办法》印发给你们，请认真贯彻执行。

第一章　总则
第一条　为吸引和集聚高层次人才，制定本办法。
第二条 本办法适用于在示范区就业的全日制博士、硕士研究生。
第二章 申报条件
第一节 基本条件
第三条 申请人应当同时符合下列条件：
（一）具有全日制博士或者硕士学位；
（二）与区内用人单位签订3年以上劳动合同。
第二节 特别规定
第四条 经认定的高层次人才，不受前条第（二）项限制。
"""


# --------------------------------------------------------------------------------------------
# Builders


def make_docx(build) -> bytes:
    document = docx.Document()
    build(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def minimal_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A hand-written PDF with one Helvetica text line per entry (ASCII only)."""
    objects: dict[int, bytes] = {}
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = b" ".join(b"%d 0 R" % page_id for page_id in page_ids)
    objects[2] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages)
    objects[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    for page_id, lines in zip(page_ids, pages, strict=True):
        operations = b"".join(
            b"(" + line.encode("latin-1").replace(b"(", b"\\(").replace(b")", b"\\)") + b") Tj T* " for line in lines
        )
        stream = b"BT /F1 11 Tf 14 TL 72 740 Td " + operations + b"ET"
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    info = None
    if title:
        info = max(objects) + 1
        objects[info] = b"<< /Title (" + title.encode("latin-1") + b") >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R" % size
    out += (b" /Info %d 0 R" % info if info else b"") + b" >>\nstartxref\n%d\n" % xref + b"%%EOF\n"
    return bytes(out)


def cjk_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A PDF with Chinese text lines, drawn with reportlab's built-in CID font."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    if title:
        pdf.setTitle(title)
    for lines in pages:
        pdf.setFont("STSong-Light", 11)
        y = 780
        for line in lines:
            pdf.drawString(60, y, line)
            y -= 18
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def encrypt_pdf(data: bytes, *, user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def texts(document: ParsedDocument) -> list[str]:
    return [block.text for block in document.blocks]


def kinds(document: ParsedDocument) -> list[tuple[str, str, int]]:
    return [(block.kind, block.text, block.level) for block in document.blocks]


def error_of(data: bytes, filename: str) -> str:
    with pytest.raises(ParseError) as info:
        parse_document(data, filename)
    return str(info.value)


# --------------------------------------------------------------------------------------------
# Sniffing: content decides, the extension must agree


SIMPLE_DOCX = make_docx(lambda d: d.add_paragraph("正文内容。"))
SIMPLE_PDF = minimal_pdf([["Hello PDF"]])


@pytest.mark.parametrize(
    ("data", "filename", "kind"),
    [
        (SIMPLE_PDF, "报告.pdf", "pdf"),
        (SIMPLE_PDF, "报告.PDF", "pdf"),
        (SIMPLE_DOCX, "办法.docx", "docx"),
        (SIMPLE_DOCX, "办法.DocX", "docx"),
        ("纯文本。".encode(), "说明.txt", "txt"),
        (b"# Title\n\ntext", "readme.md", "md"),
        (b"# Title\n\ntext", "readme.markdown", "md"),
        (b"<html><body><p>hi</p></body></html>", "page.html", "html"),
        (b"<div>hi</div>", "page.HTM", "html"),
    ],
)
def test_sniff_kind_accepts_matching_content_and_extension(data, filename, kind):
    assert sniff_kind(data, filename) == kind


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200), "政策.pdf", "扩展名为 .pdf，但内容不是 PDF（看起来是可执行程序）"),
        (SIMPLE_DOCX, "政策.pdf", "扩展名为 .pdf，但内容不是 PDF（看起来是 Word（.docx）文档）"),
        ("第一条 文本。".encode(), "政策.pdf", "扩展名为 .pdf，但内容不是 PDF。"),
        (zip_bytes({"a.txt": b"hello"}), "政策.docx", "扩展名为 .docx，但内容不是 Word（.docx）文档（是压缩包"),
        (SIMPLE_PDF, "政策.docx", "扩展名为 .docx，但内容不是 Word（.docx）文档"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "政策.docx", "旧版 .doc 文件或加密的 Word 文件"),
        (SIMPLE_PDF, "政策.txt", "扩展名为 .txt，但内容不是文本（看起来是 PDF 文件）"),
        (SIMPLE_DOCX, "政策.md", "扩展名为 .md，但内容不是 Markdown 文本（看起来是 Word（.docx）文档）"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "政策.html", "（看起来是图片）"),
        ("只是一段文字，没有任何标记。".encode(), "政策.html", "扩展名为 .html，但内容不是 HTML 网页。"),
    ],
)
def test_content_that_disagrees_with_the_extension_is_refused(data, filename, expected):
    message = error_of(data, filename)
    assert message.startswith("文件内容与扩展名不符：")
    assert expected in message
    with pytest.raises(ParseError):
        sniff_kind(data, filename)


def test_executables_are_recognised_but_text_starting_with_mz_is_fine():
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(300)
    assert error_of(exe, "说明.txt") == "文件内容与扩展名不符：扩展名为 .txt，但内容不是文本（看起来是可执行程序）。"
    assert texts(parse_document("MZ系列产品说明书".encode(), "说明.txt")) == ["MZ系列产品说明书"]


def test_a_web_page_named_txt_is_refused_but_text_mentioning_tags_is_fine():
    page = b"<!-- saved -->\n<!DOCTYPE html><html><body><p>\xe9\x80\x9a\xe7\x9f\xa5</p></body></html>"
    assert error_of(page, "通知.txt") == "文件内容与扩展名不符：扩展名为 .txt，但内容不是文本（看起来是 HTML 网页）。"
    assert sniff_kind(page, "通知.html") == "html"
    assert texts(parse_document("在网页中用 <p> 标签分段。".encode(), "说明.txt")) == ["在网页中用 <p> 标签分段。"]


def test_messages_follow_the_language_in_use():
    from django.utils import translation

    program = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200)
    with translation.override("en"):
        assert error_of(program, "report.pdf") == (
            "The file's content does not match its extension: the extension is .pdf, "
            "but the content is not a PDF (it looks like a program)."
        )
        assert (
            error_of(b"", "a.txt") == "No text could be extracted from the file: it is empty, or it is a scan or image."
        )
        assert error_of(b"x", "setup.exe").startswith("Unsupported file type: .exe.")
    assert (
        error_of(program, "report.pdf") == "文件内容与扩展名不符：扩展名为 .pdf，但内容不是 PDF（看起来是可执行程序）。"
    )


def test_binary_bytes_named_txt_are_not_text():
    garbage = bytes(random.Random(7).randrange(256) for _ in range(2000)) + b"\x00"
    message = error_of(garbage, "数据.txt")
    assert message == "文件内容与扩展名不符：扩展名为 .txt，但内容不是可识别的文本（支持 UTF-8 或 GBK/GB18030 编码）。"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("setup.exe", "不支持的文件类型：.exe。请上传 PDF、Word（.docx）、OFD、TXT、Markdown 或 HTML 文件。"),
        ("表格.xlsx", "不支持的文件类型：.xlsx。"),
        ("旧文件.doc", "不支持 .doc 格式，请在 Word 或 WPS 中另存为 .docx 后上传。"),
        ("README", "文件没有扩展名，无法判断类型。"),
        ("结尾是点.", "不支持的文件类型：（空）。"),
        ("", "缺少文件名，无法判断文件类型。"),
    ],
)
def test_unknown_or_missing_extensions_are_refused(filename, expected):
    assert expected in error_of("内容".encode(), filename)


@pytest.mark.parametrize(
    "filename",
    [
        "../etc/passwd.txt",
        "a/b.txt",
        "a\\b.txt",
        "..txt",
        "政策..pdf",
        "/srv/x.pdf",
        "a\x00.txt",
        "报告\u202etxt.exe.pdf",
    ],
)
def test_file_names_with_paths_or_control_characters_are_refused(filename):
    assert error_of(b"hello", filename) == "文件名不合法：文件名中不能包含路径分隔符（/ 或 \\）、“..”或控制字符。"


@pytest.mark.parametrize(
    ("data", "filename"),
    [(b"", "a.txt"), (b"", "a.pdf"), (b"   \n\r\n\t  ", "a.txt"), (b"", "a.docx"), ("\u3000\n".encode(), "a.md")],
)
def test_empty_files_say_so(data, filename):
    assert error_of(data, filename) == EMPTY


def test_markup_without_text_is_empty():
    assert error_of(b"<html><head><title>t</title></head><body><script>x()</script></body></html>", "a.html") == EMPTY
    assert error_of(make_docx(lambda d: d.add_paragraph("")), "a.docx") == EMPTY
    assert error_of(b"---\n\n***\n", "a.md") == EMPTY


# --------------------------------------------------------------------------------------------
# TXT


def test_gbk_policy_text_keeps_chapters_sections_and_articles():
    document = parse_document(POLICY_TXT.encode("gbk"), "人才安居补贴办法.txt")
    assert document.kind == "txt"
    assert document.title == "关于印发《示范区人才安居补贴办法》的通知"
    assert kinds(document) == [
        ("paragraph", "关于印发《示范区人才安居补贴办法》的通知", 0),
        ("paragraph", "各街道、各有关单位：", 0),
        ("paragraph", "现将《示范区人才安居补贴办法》印发给你们，请认真贯彻执行。", 0),
        ("heading", "第一章 总则", 1),
        ("paragraph", "第一条 为吸引和集聚高层次人才，制定本办法。", 0),
        ("paragraph", "第二条 本办法适用于在示范区就业的全日制博士、硕士研究生。", 0),
        ("heading", "第二章 申报条件", 1),
        ("heading", "第一节 基本条件", 2),
        ("paragraph", "第三条 申请人应当同时符合下列条件：", 0),
        ("list", "（一）具有全日制博士或者硕士学位；", 0),
        ("list", "（二）与区内用人单位签订3年以上劳动合同。", 0),
        ("heading", "第二节 特别规定", 2),
        ("paragraph", "第四条 经认定的高层次人才，不受前条第（二）项限制。", 0),
    ]
    assert all(block.page is None for block in document.blocks)


@pytest.mark.parametrize(
    "encoded",
    [
        POLICY_TXT.encode("utf-8"),
        b"\xef\xbb\xbf" + POLICY_TXT.encode("utf-8"),
        POLICY_TXT.encode("gb18030"),
        POLICY_TXT.replace("\n", "\r\n").encode("gbk"),
        POLICY_TXT.encode("utf-16"),
    ],
    ids=["utf-8", "utf-8-bom", "gb18030", "gbk-crlf", "utf-16-bom"],
)
def test_text_encodings_give_the_same_blocks(encoded):
    expected = parse_document(POLICY_TXT.encode("utf-8"), "a.txt")
    document = parse_document(encoded, "a.txt")
    assert document.blocks == expected.blocks
    assert "\ufeff" not in "".join(texts(document))


def test_numbered_notice_items_become_headings_when_short():
    text = (
        "关于做好2025年就业工作的通知\n"
        "一、总体要求\n"
        "坚持就业优先战略，稳定和扩大就业。\n"
        "（一）指导思想\n"
        "以人民为中心。\n"
        "（二）工作目标\n"
        "全年城镇新增就业1万人以上。\n"
        "二、重点任务包括开展职业技能培训、落实就业补贴政策和加强失业保险保障等多项内容。\n"
        "1. 开展培训；\n"
        "（1）面向高校毕业生；\n"
    )
    document = parse_document(text.encode(), "通知.txt")
    assert kinds(document)[1:8] == [
        ("heading", "一、总体要求", 2),
        ("paragraph", "坚持就业优先战略，稳定和扩大就业。", 0),
        ("heading", "（一）指导思想", 3),
        ("paragraph", "以人民为中心。", 0),
        ("heading", "（二）工作目标", 3),
        ("paragraph", "全年城镇新增就业1万人以上。", 0),
        # Too long for a heading: a numbered item.
        ("list", "二、重点任务包括开展职业技能培训、落实就业补贴政策和加强失业保险保障等多项内容。", 0),
    ]
    assert kinds(document)[8:] == [("list", "1. 开展培训；", 0), ("list", "（1）面向高校毕业生；", 0)]
    assert document.title == "关于做好2025年就业工作的通知"


def test_items_inside_an_article_stay_part_of_it():
    text = "第五条 申请人应当提交下列材料\n（一）身份证\n（二）学历证书\n第六条 附则。"
    document = parse_document(text.encode(), "a.txt")
    assert [block.kind for block in document.blocks] == ["paragraph", "list", "list", "paragraph"]


def test_references_to_articles_are_not_articles():
    assert article_label("第三条 申请人应当……") == "第三条"
    assert article_label("第十二条申请人应当……") == "第十二条"
    assert article_label("第一百二十条之一 新增条款。") == "第一百二十条之一"
    assert article_label("第3条 阿拉伯数字") == "第3条"
    assert article_label("第三条规定的情形，不予受理。") is None
    assert article_label("第三条第二款所列人员") is None
    assert article_label("依照第三条办理") is None


def test_hard_wrapped_text_is_joined_into_paragraphs():
    text = (
        "Shuzhi ingests plain text files that were wrapped at a fixed width by\n"
        "some old editor, so one paragraph spans several lines in the file and\n"
        "must be joined again.\n"
        "\n"
        "A second paragraph follows after a blank line.\n"
    )
    document = parse_document(text.encode(), "notes.txt")
    assert texts(document) == [
        "Shuzhi ingests plain text files that were wrapped at a fixed width by some old editor, "
        "so one paragraph spans several lines in the file and must be joined again.",
        "A second paragraph follows after a blank line.",
    ]


def test_short_lines_stay_separate():
    text = "姓名 张三\n电话 12345\n地址 示范区\n"
    assert texts(parse_document(text.encode(), "a.txt")) == ["姓名 张三", "电话 12345", "地址 示范区"]


def test_text_is_normalised_but_readable():
    text = "第一章\u3000总则\n\n\u3000\u3000第一条\u00a0为了\u200b规范管理，\t制定本办法。  \n"
    assert texts(parse_document(text.encode(), "a.txt")) == ["第一章 总则", "第一条 为了规范管理， 制定本办法。"]


# --------------------------------------------------------------------------------------------
# Markdown

MARKDOWN = """+++
title = "示范区技能提升补贴办法"
issuer = "示范区人社局"
+++

# 示范区技能提升补贴办法

## 第一章 总则

第一条 为鼓励职工提升技能，制定本办法。
第二条 本办法由**区人社局**负责解释，详见[政务服务网](https://example.gov/zwfw)。

## 第二章 补贴标准

| 证书等级 | 补贴金额 | 备注 |
| --- | :---: | --- |
| 初级工 | 1000元 | 五级 |
| 高级工 | 2000元 | `三级` |

申报材料：

- 身份证
- 职业技能等级证书
  （原件及复印件）
* [ ] 银行卡

1. 在线申报
2. 窗口受理

```
代码块 保留
```

一段普通的文字，
分成了两行。

Setext 标题
-----------
"""


def test_markdown_headings_lists_tables_and_paragraphs():
    document = parse_document(MARKDOWN.encode(), "skills.md")
    assert document.kind == "md"
    assert document.title == "示范区技能提升补贴办法"
    assert kinds(document) == [
        ("heading", "示范区技能提升补贴办法", 1),
        ("heading", "第一章 总则", 2),
        ("paragraph", "第一条 为鼓励职工提升技能，制定本办法。", 0),
        ("paragraph", "第二条 本办法由区人社局负责解释，详见政务服务网。", 0),
        ("heading", "第二章 补贴标准", 2),
        ("table", "证书等级 | 补贴金额 | 备注\n初级工 | 1000元 | 五级\n高级工 | 2000元 | 三级", 0),
        ("paragraph", "申报材料：", 0),
        ("list", "身份证", 0),
        ("list", "职业技能等级证书（原件及复印件）", 0),
        ("list", "银行卡", 0),
        ("list", "1. 在线申报", 0),
        ("list", "2. 窗口受理", 0),
        ("paragraph", "代码块 保留", 0),
        ("paragraph", "一段普通的文字，分成了两行。", 0),
        ("heading", "Setext 标题", 2),
    ]


def test_markdown_without_front_matter_takes_the_first_heading_as_title():
    document = parse_document("前言文字\n\n## 二级标题\n\n正文".encode(), "a.md")
    assert document.title == "二级标题"
    assert kinds(document)[1] == ("heading", "二级标题", 2)


def test_plain_chapters_in_markdown_follow_marked_up_chapters():
    text = "# 办法\n\n## 第一章 总则\n\n第一条 总则。\n\n第二章 附则\n\n第二条 附则。\n"
    document = parse_document(text.encode(), "a.md")
    assert ("heading", "第二章 附则", 2) in kinds(document)


# --------------------------------------------------------------------------------------------
# HTML

HTML = """<!DOCTYPE html>
<html><head><meta charset="gbk"><title>关于开展2025年度人才安居补贴申报工作的通知</title>
<style>p { color: red }</style><script>var secret = "不应出现";</script></head>
<body>
<nav><a href="/">首页</a> <a href="/zwgk">政务公开</a></nav>
<h1>关于开展人才安居
补贴申报工作的通知</h1>
<p>各街道、各有关单位：<br>现将有关事项通知如下。</p>
<h2>一、申报条件</h2>
<ul><li>具有博士学位<li>年龄不超过<b>35</b>周岁</ul>
<h3>（一）补贴标准</h3>
<table>
  <caption>补贴标准表</caption>
  <tr><th>类别</th><th>金额</th></tr>
  <tr><td>博士</td><td>30&nbsp;万元</td></tr>
  <tr><td>硕士</td><td>8 万元 &amp; 生活补贴</td></tr>
</table>
<ol><li>在线申报</li><li>窗口受理</li></ol>
<div>联系电话：<span>0000-12345</span></div>
<footer>示范区人社局 版权所有</footer>
</body></html>
"""


def test_html_headings_paragraphs_lists_and_tables():
    document = parse_document(HTML.encode("gbk"), "notice.html")
    assert document.kind == "html"
    assert document.title == "关于开展2025年度人才安居补贴申报工作的通知"
    assert kinds(document) == [
        ("heading", "关于开展人才安居补贴申报工作的通知", 1),
        ("paragraph", "各街道、各有关单位：\n现将有关事项通知如下。", 0),
        ("heading", "一、申报条件", 2),
        ("list", "具有博士学位", 0),
        ("list", "年龄不超过35周岁", 0),
        ("heading", "（一）补贴标准", 3),
        ("table", "补贴标准表\n类别 | 金额\n博士 | 30 万元\n硕士 | 8 万元 & 生活补贴", 0),
        ("list", "1. 在线申报", 0),
        ("list", "2. 窗口受理", 0),
        ("paragraph", "联系电话：0000-12345", 0),
        ("paragraph", "示范区人社局 版权所有", 0),
    ]
    joined = "".join(texts(document))
    assert "不应出现" not in joined and "首页" not in joined and "color" not in joined


def test_html_title_prefers_the_h1_when_the_title_tag_adds_the_site_name():
    html = "<html><head><title>关于开展申报工作的通知_示范区人民政府</title></head><body><h1>关于开展申报工作的通知</h1></body></html>"
    assert parse_document(html.encode(), "a.html").title == "关于开展申报工作的通知"
    no_title_tag = "<html><body><p>导航</p><h2>第一节</h2><p>正文。</p></body></html>"
    assert parse_document(no_title_tag.encode(), "a.html").title == "第一节"


def test_html_declared_charset_is_used_when_the_bytes_are_not_utf8():
    html = '<html><head><meta charset="big5"></head><body><p>繁體中文內容</p></body></html>'
    assert texts(parse_document(html.encode("big5"), "a.html")) == ["繁體中文內容"]


def test_html_layout_tables_are_read_as_content():
    html = (
        "<html><body><table><tr><td><table><tr><td>菜单</td></tr></table></td>"
        "<td><h2>第一章 总则</h2><p>第一条 为了规范管理，制定本办法。</p></td></tr></table></body></html>"
    )
    document = parse_document(html.encode(), "page.htm")
    assert ("heading", "第一章 总则", 2) in kinds(document)
    assert ("paragraph", "第一条 为了规范管理，制定本办法。", 0) in kinds(document)


def test_html_articles_separated_by_line_breaks_become_separate_blocks():
    html = "<html><body><p>第一章 总则<br>第一条 为了规范管理。<br>第二条 本办法适用于全区。</p></body></html>"
    document = parse_document(html.encode(), "page.html")
    assert kinds(document) == [
        ("heading", "第一章 总则", 1),
        ("paragraph", "第一条 为了规范管理。", 0),
        ("paragraph", "第二条 本办法适用于全区。", 0),
    ]


def test_broken_html_still_parses():
    document = parse_document(b"<p>unclosed <b>bold<div>inside</p></span><p>next", "x.html")
    assert texts(document) == ["unclosed bold", "inside", "next"]
    unclosed_head = "<html><head><title>标题</title><meta charset=utf-8><p>正文在这里</p></html>"
    assert texts(parse_document(unclosed_head.encode(), "x.html")) == ["正文在这里"]


# --------------------------------------------------------------------------------------------
# DOCX


def _policy_docx(document):
    document.core_properties.title = "Word 模板"
    document.add_heading("示范区人才安居补贴办法", level=0)
    document.add_heading("第一章 总则", level=1)
    document.add_paragraph("第一条 为吸引和集聚高层次人才，制定本办法。")
    document.add_heading("申报材料", level=2)
    document.add_paragraph("居民身份证", style="List Bullet")
    document.add_paragraph("学历学位证书", style="List Number")
    table = document.add_table(rows=3, cols=3)
    rows = [["类别", "安家补贴", "生活补贴"], ["博士", "30万元", "每月3000元"], ["硕士", "8万元", ""]]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(2, 1).merge(table.cell(2, 2))
    document.add_paragraph("表格之后的说明。")
    chinese_style = document.styles.add_style("标题 3", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("WPS 标题样式", style=chinese_style)
    document.add_paragraph("第二章 附则")  # no heading style: recognised from the text
    document.add_paragraph("第二条 本办法自2025年3月1日起施行。")
    outlined = document.add_paragraph("大纲级别标题")
    outline = OxmlElement("w:outlineLvl")
    outline.set(qn("w:val"), "1")
    outlined._p.get_or_add_pPr().append(outline)
    document.add_paragraph("")


def test_docx_headings_lists_tables_in_document_order():
    document = parse_document(make_docx(_policy_docx), "办法.docx")
    assert document.kind == "docx"
    assert document.title == "示范区人才安居补贴办法"
    assert kinds(document) == [
        ("heading", "示范区人才安居补贴办法", 1),
        ("heading", "第一章 总则", 1),
        ("paragraph", "第一条 为吸引和集聚高层次人才，制定本办法。", 0),
        ("heading", "申报材料", 2),
        ("list", "居民身份证", 0),
        ("list", "学历学位证书", 0),
        ("table", "类别 | 安家补贴 | 生活补贴\n博士 | 30万元 | 每月3000元\n硕士 | 8万元", 0),
        ("paragraph", "表格之后的说明。", 0),
        ("heading", "WPS 标题样式", 3),
        ("heading", "第二章 附则", 1),
        ("paragraph", "第二条 本办法自2025年3月1日起施行。", 0),
        ("heading", "大纲级别标题", 2),
    ]


def test_docx_title_falls_back_to_core_properties_then_first_line():
    def core_only(document):
        document.core_properties.title = "核心属性标题"
        document.add_paragraph("正文第一段，很长很长，超过标题的长度。")

    assert parse_document(make_docx(core_only), "a.docx").title == "核心属性标题"
    assert parse_document(make_docx(lambda d: d.add_paragraph("短标题")), "a.docx").title == "短标题"


def test_docx_nested_table_text_is_kept():
    def nested(document):
        table = document.add_table(rows=1, cols=2)
        table.cell(0, 0).text = "外层"
        inner = table.cell(0, 1).add_table(rows=1, cols=2)
        inner.cell(0, 0).text = "内层甲"
        inner.cell(0, 1).text = "内层乙"

    assert texts(parse_document(make_docx(nested), "a.docx")) == ["外层 | 内层甲 | 内层乙"]


def test_corrupt_docx_is_refused():
    data = make_docx(_policy_docx)
    assert error_of(data[: len(data) // 2], "办法.docx") == "Word 文件已损坏，无法读取。"


def test_docx_with_broken_xml_is_refused():
    data = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document><unclosed"})
    assert error_of(data, "办法.docx") == "Word 文件已损坏，无法读取。"


def test_docx_zip_bomb_is_refused_before_decompression():
    # ~0.3 MB on disk, 256 MB of zeros once decompressed.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        with archive.open("word/document.xml", "w") as member:
            zeros = bytes(1 << 20)
            for _ in range(256):
                member.write(zeros)
    data = buffer.getvalue()
    assert len(data) < 1_000_000
    assert error_of(data, "炸弹.docx") == "Word 文件解压后体积过大或压缩比异常（疑似压缩炸弹），已拒绝处理。"


def test_docx_size_and_ratio_limits(monkeypatch):
    data = make_docx(_policy_docx)
    assert MAX_UNCOMPRESSED_BYTES == 200 * 1024 * 1024
    assert MAX_COMPRESSION_RATIO == 100
    monkeypatch.setattr(sniffing, "MAX_UNCOMPRESSED_BYTES", 10_000)
    assert "疑似压缩炸弹" in error_of(data, "a.docx")
    monkeypatch.undo()
    monkeypatch.setattr(sniffing, "MAX_ZIP_MEMBERS", 3)
    assert "疑似压缩炸弹" in error_of(data, "a.docx")

    monkeypatch.undo()
    highly_compressible = make_docx(lambda d: d.add_paragraph("重复" * 20000))
    assert parse_document(highly_compressible, "a.docx").blocks[0].text.startswith("重复重复")
    monkeypatch.setattr(sniffing, "RATIO_CHECK_MIN_BYTES", 1000)
    monkeypatch.setattr(sniffing, "MAX_COMPRESSION_RATIO", 5)
    assert "疑似压缩炸弹" in error_of(highly_compressible, "a.docx")


# --------------------------------------------------------------------------------------------
# PDF


def test_pdf_blocks_carry_page_numbers_and_metadata_title():
    data = minimal_pdf([["Chapter one", "Some text (in brackets)."], ["Second page."]], title="Annual Report")
    document = parse_document(data, "report.pdf")
    assert document.kind == "pdf"
    assert document.title == "Annual Report"
    assert [(block.text, block.page) for block in document.blocks] == [
        ("Chapter one", 1),
        ("Some text (in brackets).", 1),
        ("Second page.", 2),
    ]


def test_chinese_pdf_keeps_structure_joins_wrapped_lines_and_drops_page_furniture():
    header = "示范区人力资源和社会保障局文件"
    pages = [
        [
            header,
            "示范区人才安居补贴办法",
            "第一章 总则",
            "第一条 为吸引和集聚高层次人才，根据有关法律法规，结合本区实际情况，",
            "制定本办法。",
            "第二条 本办法适用于全区。",
            "- 1 -",
        ],
        [
            header,
            "第二章 申报条件",
            "第三条 申请人应当提交下列材料：身份证明、学历证明、劳动合同、社会",
            "保险缴纳证明、银行账户信息等。",
            "第 2 页 共 3 页",
        ],
        [header, "第三章 附则", "第四条 本办法自发布之日起施行。", "3"],
    ]
    document = parse_document(cjk_pdf(pages, title="Microsoft Word - 人才安居补贴办法.docx"), "办法.pdf")
    assert document.title == "人才安居补贴办法"
    assert [(block.kind, block.text, block.level, block.page) for block in document.blocks] == [
        ("paragraph", "示范区人才安居补贴办法", 0, 1),
        ("heading", "第一章 总则", 1, 1),
        ("paragraph", "第一条 为吸引和集聚高层次人才，根据有关法律法规，结合本区实际情况，制定本办法。", 0, 1),
        ("paragraph", "第二条 本办法适用于全区。", 0, 1),
        ("heading", "第二章 申报条件", 1, 2),
        (
            "paragraph",
            "第三条 申请人应当提交下列材料：身份证明、学历证明、劳动合同、社会保险缴纳证明、银行账户信息等。",
            0,
            2,
        ),
        ("heading", "第三章 附则", 1, 3),
        ("paragraph", "第四条 本办法自发布之日起施行。", 0, 3),
    ]


def test_pdf_without_metadata_title_uses_the_first_heading():
    document = parse_document(cjk_pdf([["第一章 总则", "第一条 正文。"]]), "a.pdf")
    assert document.title == "第一章 总则"


def test_pdf_with_a_user_password_is_refused():
    data = encrypt_pdf(minimal_pdf([["Secret"]]), user_password="secret")
    assert error_of(data, "加密.pdf") == "PDF 已加密，请上传未加密的文件。"


def test_pdf_with_only_an_owner_password_opens_like_any_reader_would():
    data = encrypt_pdf(minimal_pdf([["Restricted but readable"]]), user_password="")
    assert texts(parse_document(data, "a.pdf")) == ["Restricted but readable"]


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8, 0.97])
def test_truncated_pdf_is_corrupt(fraction):
    data = minimal_pdf([["Page one text"], ["Page two text"]])
    assert error_of(data[: int(len(data) * fraction)], "a.pdf") == "PDF 文件已损坏，无法读取。"


def test_pdf_header_with_garbage_is_corrupt():
    assert error_of(b"%PDF-1.7\n" + bytes(range(256)) * 4, "a.pdf") == "PDF 文件已损坏，无法读取。"


def test_pdf_without_text_is_reported_as_scan():
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    assert error_of(buffer.getvalue(), "扫描件.pdf") == EMPTY


# --------------------------------------------------------------------------------------------
# Robustness: only ParseError ever escapes for bad input


@pytest.mark.parametrize(
    ("name", "original"),
    [
        ("a.pdf", minimal_pdf([["Hello world"], ["More text"]])),
        ("a.docx", make_docx(_policy_docx)),
        ("a.html", HTML.encode()),
        ("a.md", MARKDOWN.encode()),
        ("a.txt", POLICY_TXT.encode("gbk")),
    ],
)
def test_damaged_files_raise_only_parse_errors(name, original):
    rng = random.Random(name)
    for _ in range(40):
        data = bytearray(original)
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(1, len(data))]
        try:
            result = parse_document(bytes(data), name)
        except ParseError as exc:
            assert str(exc)
        else:
            assert result.blocks
            assert all(isinstance(block, Block) and block.text.strip() for block in result.blocks)


def test_parse_error_messages_are_chinese_sentences():
    for data, name in [(b"", "a.txt"), (b"x", "a.exe"), (b"x", "a/b.txt"), (SIMPLE_PDF, "a.docx")]:
        message = error_of(data, name)
        assert message.endswith("。")
        assert any("\u4e00" <= char <= "\u9fff" for char in message)
