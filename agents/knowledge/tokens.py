"""Chinese word segmentation for keyword search (jieba, search mode)."""

from __future__ import annotations

import logging
import re

import jieba

from .lexicon import synonyms, terms

jieba.setLogLevel(logging.WARNING)
for _term in terms():
    jieba.add_word(_term, freq=20000)
for _phrase in synonyms():
    jieba.add_word(_phrase, freq=2000)

_WORD = re.compile(r"[\w\u4e00-\u9fff]")
# Words too common in policy text to say anything about a question.
_STOPWORD_TEXT = (
    "的 了 和 与 及 或 等 是 在 为 对 由 按 将 把 被 其 之 于 以 中 上 下 可 应 须 并 且 也 都 就 "
    "我 你 他 她 它 我们 你们 他们 这 那 哪 什么 怎么 如何 多少 吗 呢 吧 啊 有 没有 能 能否 可以 需要 要 "
    "请问 一下 一个 哪些 什么样"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def tokenize(text: str) -> list[str]:
    """Search-mode tokens, lower-cased, without punctuation or stopwords."""
    return [
        token.lower()
        for token in jieba.lcut_for_search(text)
        if _WORD.search(token) and token.strip() and token.lower() not in STOPWORDS
    ]


def token_text(text: str) -> str:
    return " ".join(tokenize(text))


def query_terms(question: str) -> dict[str, float]:
    """The keyword-search terms of a question with their weights: its own tokens (1.0) and the
    statute's words for the citizen phrases it uses (0.6)."""
    weighted: dict[str, float] = dict.fromkeys(tokenize(question), 1.0)
    table = synonyms()
    for phrase, words in table.items():
        if phrase in question:
            for word in words:
                for token in tokenize(word):
                    weighted.setdefault(token, 0.6)
    return weighted
