"""Model answers as HTML: Markdown renders, nothing the model writes can run or load, citations link.

Every check parses the HTML the reader's browser gets and asserts on its elements and attributes,
so an escaped ``&lt;script&gt;`` (shown as text) is told apart from a real ``<script>``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.utils.safestring import SafeString

from agents.chat.rendering import answer_html, reasoning_html

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "s",
    "del",
    "code",
    "pre",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
}
ALLOWED_ATTRIBUTES = {"href", "title", "class", "data-cite", "rel", "start"}


class Page(HTMLParser):
    """The elements of an HTML fragment, as a browser would see them."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self._stack: list[str] = []
        self.code_text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))
        if tag not in ("br", "hr"):
            self._stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag):
        if tag in self._stack:
            while self._stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.text.append(data)
        if "code" in self._stack:
            self.code_text.append(data)

    def tags(self) -> set[str]:
        return {tag for tag, _ in self.elements}

    def links(self) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == "a"]

    def cites(self) -> list[dict[str, str]]:
        return [attrs for attrs in self.links() if attrs.get("class") == "cite"]

    def all_text(self) -> str:
        return "".join(self.text)


def browser_scheme(href: str) -> str:
    """The scheme a browser reads from ``href``: it drops tabs and newlines anywhere and trims
    control characters and spaces at the ends (WHATWG URL), but never decodes %-escapes there."""
    cleaned = re.sub(r"[\t\n\r]", "", href).strip("".join(map(chr, range(0x21))))
    return urlsplit(cleaned).scheme.lower()


def assert_inert(html: str) -> Page:
    """Nothing in ``html`` can run script, load a resource or talk to htmx/Alpine."""
    page = Page(html)
    assert page.tags() <= ALLOWED_TAGS, page.tags() - ALLOWED_TAGS
    for tag, attrs in page.elements:
        for name, value in attrs.items():
            assert name in ALLOWED_ATTRIBUTES, (tag, name, value)
            assert not name.startswith(("on", "hx-", "data-hx", "x-", "@", ":")), (tag, name)
        if tag == "a":
            assert "noopener" in attrs.get("rel", "").split(), attrs
            href = attrs.get("href")
            if href is not None:
                assert browser_scheme(href) in ("", "http", "https"), href
    return page


XSS_VECTORS = {
    "script tag": ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    "script in a paragraph": ("前文 <script src=//evil.example/x.js></script> 后文", "<script"),
    "img onerror": ('<img src=x onerror="alert(1)">', "<img"),
    "svg onload": ("<svg onload=alert(1)><circle r=5/></svg>", "<svg"),
    "iframe": ('<iframe src="https://evil.example"></iframe>', "<iframe"),
    "iframe srcdoc": ('<iframe srcdoc="<script>alert(1)</script>"></iframe>', "<iframe"),
    "object": ('<object data="evil.swf"></object>', "<object"),
    "embed": ('<embed src="evil.swf">', "<embed"),
    "style tag": ("<style>body{display:none}</style>", "<style>"),
    "style attribute": ('<p style="position:fixed;inset:0">盖住页面</p>', "<p style"),
    "form and input": (
        '<form action="https://evil.example"><input name="password"><button>登录</button></form>',
        "<form",
    ),
    "raw html link with javascript": ('<a href="javascript:alert(1)">点我</a>', "<a href"),
    "raw html link with target": ('<a href="https://x.example" target="_blank">x</a>', "<a href"),
    "htmx link": ('<a hx-get="/admin/delete" hx-trigger="load">x</a>', "<a hx-get"),
    "htmx div": ('<div hx-post="/api/transfer" hx-trigger="load">x</div>', "<div hx-post"),
    "htmx data prefix": ('<div data-hx-get="/x" data-hx-trigger="load">x</div>', "<div data-hx"),
    "alpine": ('<div x-data="{}" x-init="fetch(\'/x\')" @click="alert(1)">x</div>', "<div x-data"),
    "meta refresh": ('<meta http-equiv="refresh" content="0;url=https://evil.example">', "<meta"),
    "base tag": ('<base href="https://evil.example/">', "<base"),
    "html comment hiding script": ("<!--><script>alert(1)</script>-->", "<script"),
    "entity-encoded tag": ("&lt;script&gt;alert(1)&lt;/script&gt;", "<script"),
    "math": ("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "<img"),
}


@pytest.mark.parametrize("source,raw", list(XSS_VECTORS.values()), ids=list(XSS_VECTORS))
def test_raw_html_from_the_model_is_shown_as_text_never_as_markup(source, raw):
    html = answer_html(text=f"回答如下：\n\n{source}\n\n以上。")
    page = assert_inert(html)
    # The reader sees what the model typed, as text.
    assert raw in page.all_text()
    assert "回答如下" in page.all_text()
    assert "以上" in page.all_text()


MARKDOWN_LINK_VECTORS = {
    "javascript": "[点我](javascript:alert(1))",
    "javascript mixed case": "[点我](JaVaScRiPt:alert(1))",
    "javascript with spaces": "[点我]( javascript:alert(1) )",
    "javascript in angle brackets": "[点我](<javascript:alert(1)>)",
    "javascript entity-encoded": "[点我](&#106;avascript:alert(1))",
    "javascript hex entity": "[点我](&#x6A;&#x61;vascript:alert(1))",
    "javascript named-entity colon": "[点我](javascript&colon;alert(1))",
    "javascript with tab": "[点我](java&#9;script:alert(1))",
    "javascript percent-encoded": "[点我](%6A%61vascript:alert(1))",
    "javascript reference link": "[点我][x]\n\n[x]: javascript:alert(1)",
    "javascript autolink": "<javascript:alert(1)>",
    "vbscript": "[点我](vbscript:msgbox(1))",
    "data html": "[点我](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data image link": "[点我](data:image/png;base64,iVBORw0KGgo=)",
    "file": "[点我](file:///etc/passwd)",
    "mailto": "[点我](mailto:a@example.com)",
}


@pytest.mark.parametrize("source", list(MARKDOWN_LINK_VECTORS.values()), ids=list(MARKDOWN_LINK_VECTORS))
def test_markdown_links_keep_only_http_relative_and_fragment_targets(source):
    page = assert_inert(answer_html(text=source))
    for attrs in page.links():
        assert browser_scheme(attrs.get("href", "")) in ("", "http", "https")
    assert "点我" in page.all_text() or "javascript" in page.all_text()


def test_percent_encoded_scheme_stays_a_harmless_relative_link():
    # A browser does not decode %-escapes in a scheme: this is the relative path "./%6A%61vascript:…".
    page = assert_inert(answer_html(text="[点我](%6A%61vascript:alert(1))"))
    hrefs = [attrs.get("href", "") for attrs in page.links()]
    assert all(not href or urlsplit(href).scheme == "" for href in hrefs)


def test_images_show_their_alt_text_and_load_nothing():
    html = answer_html(text="示意图：![应急疏散路线](https://tracker.example/pixel.png?u=1)\n\n![x](/static/a.png)")
    page = assert_inert(html)
    assert "img" not in page.tags()
    assert "应急疏散路线" in page.all_text()
    assert "tracker.example" not in html


def test_safe_links_render_with_noopener_noreferrer_nofollow():
    html = answer_html(
        text="见[政府网站](https://www.gov.cn/zhengce/)、[站内](/workspace/passages/3/)、[本节](#part-2)和<https://example.gov.cn/a>。"
    )
    page = assert_inert(html)
    links = page.links()
    assert [attrs["href"] for attrs in links] == [
        "https://www.gov.cn/zhengce/",
        "/workspace/passages/3/",
        "#part-2",
        "https://example.gov.cn/a",
    ]
    for attrs in links:
        assert set(attrs["rel"].split()) == {"noopener", "noreferrer", "nofollow"}
        assert "target" not in attrs


def test_link_titles_and_text_are_escaped():
    html = answer_html(text='[a" onmouseover="alert(1)](https://x.example "t\\" onclick=\\"alert(1)")')
    page = assert_inert(html)
    (link,) = page.links()
    assert link["href"] == "https://x.example"
    assert "onclick" not in link and "onmouseover" not in link


def test_markdown_structure_renders():
    text = (
        "# 申请条件\n\n"
        "## 材料清单\n\n"
        "申请人须满足**全部**条件，*另有规定的除外*，~~旧规定已废止~~。\n\n"
        "1. 博士学位\n2. 在本市工作\n\n"
        "- 身份证\n- 学位证书\n\n"
        "> 《人才补贴办法》第五条\n\n"
        "| 学历 | 补贴（万元） |\n|:---|---:|\n| 博士 | 10 |\n| 硕士 | 5 |\n\n"
        "```python\nprint('<b>hi</b>')\n```\n\n"
        "行内代码 `x < y` 结束。\n\n---\n\n完。"
    )
    page = assert_inert(answer_html(text=text))
    for tag in ("h1", "h2", "strong", "em", "s", "ol", "ul", "li", "blockquote", "table", "thead", "tbody"):
        assert tag in page.tags(), tag
    assert {"th", "td", "pre", "code", "hr"} <= page.tags()
    cells = [attrs.get("class") for tag, attrs in page.elements if tag in ("th", "td")]
    assert cells == ["text-left", "text-right"] * 3
    assert "print('<b>hi</b>')" in page.all_text()
    assert "x < y" in page.all_text()
    (code_block,) = [attrs for tag, attrs in page.elements if tag == "code" and attrs]
    assert code_block == {"class": "language-python"}


def test_ordered_list_start_and_line_breaks():
    page = assert_inert(answer_html(text="3. 第三\n4. 第四\n\n第一行\n第二行"))
    assert ("ol", {"start": "3"}) in page.elements
    assert "br" in page.tags()


def test_code_language_class_cannot_carry_anything_else():
    page = assert_inert(answer_html(text='```x" onclick="alert(1)\ncode\n```'))
    for tag, attrs in page.elements:
        if tag == "code":
            assert "onclick" not in attrs
            assert attrs.get("class", "").startswith("language-") or not attrs


CITATIONS = {1: "/workspace/passages/12/", 2: "/workspace/passages/40/"}


def test_citation_markers_link_to_the_given_passages():
    html = answer_html(text="补贴标准为每人10万元[1]，分三年发放[2]。另见[3]。", citations=CITATIONS)
    page = assert_inert(html)
    assert page.cites() == [
        {"class": "cite", "href": "/workspace/passages/12/", "data-cite": "1", "rel": "noopener noreferrer nofollow"},
        {"class": "cite", "href": "/workspace/passages/40/", "data-cite": "2", "rel": "noopener noreferrer nofollow"},
    ]
    # A number the reader may not open stays plain text.
    assert "另见[3]" in page.all_text()
    assert '<a class="cite" href="/workspace/passages/12/" data-cite="1"' in html


def test_without_citations_markers_stay_text():
    page = assert_inert(answer_html(text="依据[1][2]。"))
    assert page.cites() == []
    assert "依据[1][2]" in page.all_text()


def test_citations_are_not_linked_inside_code_or_links():
    text = "正文[1]\n\n`数组[1]`\n\n```\nitems[2] = 0\n```\n\n    缩进代码[1]\n\n[链接文字[2]](https://x.example)"
    page = assert_inert(answer_html(text=text, citations=CITATIONS))
    assert [c["data-cite"] for c in page.cites()] == ["1"]
    code = "".join(page.code_text)
    assert "数组[1]" in code and "items[2] = 0" in code and "缩进代码[1]" in code
    assert "链接文字[2]" in page.all_text()


def test_citations_in_headings_lists_tables_and_quotes():
    text = "## 条件[1]\n\n- 学历[2]\n\n> 引文[1]\n\n| a | b |\n|---|---|\n| 依据[2] | x |"
    page = assert_inert(answer_html(text=text, citations=CITATIONS))
    assert [c["data-cite"] for c in page.cites()] == ["1", "2", "1", "2"]


def test_citation_hrefs_are_escaped_and_checked():
    citations = {1: '/p/1/"><script>alert(1)</script>', 2: "javascript:alert(1)", 3: "/p/?a=1&b=2"}
    html = answer_html(text="甲[1]乙[2]丙[3]", citations=citations)
    page = assert_inert(html)
    cites = page.cites()
    assert cites[0]["href"] == '/p/1/"><script>alert(1)</script>'
    assert "href" not in cites[1]
    assert cites[2]["href"] == "/p/?a=1&b=2"
    assert "<script" not in html


def test_escaped_marker_and_near_misses_are_not_citations():
    page = assert_inert(answer_html(text="[1](https://x.example) [a] [1a] [ 1 ] 【1】", citations=CITATIONS))
    assert page.cites() == []


def test_result_is_safe_string_and_empty_input_is_empty():
    assert isinstance(answer_html(text="x"), SafeString)
    assert str(answer_html(text="")) == ""
    assert str(answer_html(text="   \n")) == ""


def test_a_long_answer_renders_completely():
    section = (
        "## 第{i}部分[1]\n\n根据《某某条例》第三条[2]，申请人应当提交**材料**和`附件{i}`。\n\n"
        "| 条件 | 材料 |\n|---|---|\n| 博士 | 学位证[1] |\n\n- 项目一\n- 项目二\n\n> 引用<script>x</script>\n\n"
    )
    text = "".join(section.format(i=i) for i in range(120))
    assert len(text.encode()) > 20_000
    page = assert_inert(answer_html(text=text, citations=CITATIONS))
    assert len([tag for tag, _ in page.elements if tag == "h2"]) == 120
    assert len(page.cites()) == 360
    assert "附件119" in page.all_text()


def test_reasoning_is_escaped_plain_paragraphs():
    html = reasoning_html("先看条件<script>alert(1)</script>。\n再看材料。\n\n结论：**符合**。")
    assert isinstance(html, SafeString)
    page = Page(html)
    assert page.tags() == {"p", "br"}
    assert "<script>alert(1)</script>" in page.all_text()
    assert "**符合**" in page.all_text()
    assert len([tag for tag, _ in page.elements if tag == "p"]) == 2
