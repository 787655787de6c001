"""Model output as safe HTML for the staff workspace.

Answers come from a model, and a model repeats whatever its prompt, its sources or a user put in
front of it, so its output is untrusted input. ``answer_html`` renders the Markdown the models
write (headings, paragraphs, lists, tables, code, quotes, emphasis, links) and then sanitises the
rendered HTML against an allow-list, so that nothing can run or load in the reader's browser:

- Raw HTML typed by the model is never parsed as HTML: Markdown's HTML blocks are off, so
  ``<script>`` arrives as the text "<script>".
- The sanitiser (nh3, bindings to the Rust ``ammonia`` crate) then keeps only the tags Markdown
  produces and a handful of attributes on them. Event handlers, ``style``, htmx and Alpine
  attributes (``hx-*``, ``data-hx-*``, ``x-*``, ``@…``), ``target``, iframes, objects, forms,
  inputs and styles cannot survive, whatever produced them.
- Links keep ``http``, ``https``, relative and ``#`` targets only, and every link carries
  ``rel="noopener noreferrer nofollow"``. Images are shown as their alt text: a remote image
  would tell a third party who read the answer and when.
- Citation markers ``[1]``, ``[2]``… outside code and outside links become links to the passage
  they cite, but only for the numbers in ``citations`` — the caller passes exactly the passages
  the reader may open; every other marker stays the plain text ``[n]``.

Both functions are pure: the same text always gives the same HTML.
"""

from __future__ import annotations

import html
import re
from typing import Any

import nh3
from django.utils.html import linebreaks
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

_CITE = re.compile(r"\[(\d{1,4})\]")
_LANGUAGE_CLASS = re.compile(r"^language-[A-Za-z0-9_+#.-]{1,40}$")
_ALIGN_CLASS = {"text-align:left": "text-left", "text-align:center": "text-center", "text-align:right": "text-right"}

# What Markdown renders, and nothing else.
_TAGS = {
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
_ATTRIBUTES = {
    "a": {"href", "title", "class", "data-cite"},
    "code": {"class"},
    "ol": {"start"},
    "th": {"class"},
    "td": {"class"},
}
# Tags removed together with their content should they ever reach the sanitiser.
_DROP_WITH_CONTENT = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "form",
    "textarea",
    "select",
    "template",
    "noscript",
    "svg",
    "math",
    "title",
    "xmp",
    "noembed",
    "noframes",
}


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """Narrow the allowed attributes to the values this module itself produces."""
    if attribute == "class":
        if tag == "a":
            return "cite" if value == "cite" else None
        if tag == "code":
            return value if _LANGUAGE_CLASS.match(value) else None
        if tag in ("th", "td"):
            return value if value in _ALIGN_CLASS.values() else None
        return None
    if attribute == "data-cite":
        return value if value.isdigit() else None
    if attribute == "start":
        return value if value.isdigit() else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_DROP_WITH_CONTENT,
    attributes=_ATTRIBUTES,
    attribute_filter=_attribute_filter,
    strip_comments=True,
    link_rel="noopener noreferrer nofollow",
    url_schemes={"http", "https"},
)


def _link_citations(state: StateCore) -> None:
    """Turn ``[n]`` in plain text into ``cite`` tokens for the numbers the caller may show.

    Runs after inline parsing, so code spans, code blocks and raw text inside links are separate
    tokens and are never touched.
    """
    citations: dict[int, str] = state.env.get("citations") or {}
    if not citations:
        return
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        in_link = 0
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
            elif token.type == "link_close":
                in_link -= 1
            if token.type != "text" or in_link or "[" not in token.content:
                children.append(token)
                continue
            children.extend(_split_citations(token.content, citations))
        block.children = children


def _split_citations(content: str, citations: dict[int, str]) -> list[Token]:
    tokens: list[Token] = []
    last = 0
    for match in _CITE.finditer(content):
        number = int(match.group(1))
        if number not in citations:
            continue
        if match.start() > last:
            tokens.append(_text(content[last : match.start()]))
        cite = Token("cite", "a", 0)
        cite.meta = {"n": number, "href": citations[number]}
        tokens.append(cite)
        last = match.end()
    if last < len(content):
        tokens.append(_text(content[last:]))
    return tokens


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _render_cite(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    n = tokens[idx].meta["n"]
    href = html.escape(str(tokens[idx].meta["href"]), quote=True)
    return f'<a class="cite" href="{href}" data-cite="{n}">[{n}]</a>'


def _render_image(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    # The alt text stands in for the picture: loading it would reach a third party.
    return html.escape(self.renderInlineAsText(tokens[idx].children or [], options, env), quote=False)


def _render_cell(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    # Column alignment as a class: inline styles are refused by the content security policy.
    token = tokens[idx]
    style = token.attrs.pop("style", None)
    if style in _ALIGN_CLASS:
        token.attrSet("class", _ALIGN_CLASS[str(style)])
    return self.renderToken(tokens, idx, options, env)


def _build_markdown() -> MarkdownIt:
    # "breaks": a single newline is a line break; models write Chinese text line by line, where a
    # soft break rendered as a space would join sentences with a stray gap.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("link_citations", _link_citations)
    md.add_render_rule("cite", _render_cite)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("th_open", _render_cell)
    md.add_render_rule("td_open", _render_cell)
    return md


_MARKDOWN = _build_markdown()


def answer_html(*, text: str, citations: dict[int, str] | None = None) -> SafeString:
    """Model output (Markdown) as sanitised HTML, ready to be put in a template as it is.

    ``citations`` maps citation numbers to the URLs of the passages the reader may open; markers
    ``[n]`` for those numbers become ``<a class="cite" href="…" data-cite="n">[n]</a>``, all others
    stay plain text. URLs with other schemes than http(s) are dropped by the sanitiser like any
    other link's.
    """
    rendered = _MARKDOWN.render(text or "", {"citations": dict(citations or {})})
    return mark_safe(_CLEANER.clean(rendered))  # noqa: S308 - sanitised by the allow-list above


def reasoning_html(text: str) -> SafeString:
    """A model's reasoning as escaped plain paragraphs: blank lines part paragraphs, newlines break lines."""
    return mark_safe(linebreaks(text or "", autoescape=True))  # noqa: S308 - linebreaks escapes the text
