"""Output guardrails: sensitive words (masked or blocking, even when split across streamed chunks),
structured output checked against the agent's JSON Schema, and the reasoning kept out of answers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import jsonschema
from django.utils.translation import gettext as _

from ..models import SensitiveWordList

WORD_MASK = "***"


@dataclass
class WordLists:
    mask: list[str] = field(default_factory=list)
    block: list[str] = field(default_factory=list)

    @classmethod
    def for_snapshot(cls, snapshot: dict) -> WordLists:
        ids = (snapshot.get("guardrails") or {}).get("sensitive_word_list_ids") or []
        lists = cls()
        for word_list in SensitiveWordList.objects.filter(pk__in=ids):
            target = lists.block if word_list.action == SensitiveWordList.Action.BLOCK else lists.mask
            target.extend(word_list.word_list())
        return lists

    def __bool__(self) -> bool:
        return bool(self.mask or self.block)


class StreamWordFilter:
    """Masks listed words in a stream of text chunks and stops at the first blocking word.

    It holds back the last ``longest word - 1`` characters, so a word split across chunks is still
    caught and a blocking word is never passed on. ``blocked_by`` names the blocking word found.
    """

    def __init__(self, lists: WordLists):
        self._mask = sorted(set(lists.mask), key=len, reverse=True)
        self._block = sorted(set(lists.block), key=len, reverse=True)
        words = self._mask + self._block
        self._hold = max((len(w) for w in words), default=1) - 1
        self._mask_re = re.compile("|".join(map(re.escape, self._mask))) if self._mask else None
        self._block_re = re.compile("|".join(map(re.escape, self._block))) if self._block else None
        self._pending = ""
        self.blocked_by: str | None = None
        self.masked: dict[str, int] = {}

    def feed(self, text: str) -> str:
        """The text that is safe to pass on now."""
        if self.blocked_by is not None:
            return ""
        self._pending += text
        if self._block_re is not None:
            found = self._block_re.search(self._pending)
            if found:
                self.blocked_by = found.group()
                self._pending = ""
                return ""
        if len(self._pending) <= self._hold:
            return ""
        cut = len(self._pending) - self._hold
        # Never cut inside a masked word: extend the cut over a match that starts before it.
        if self._mask_re is not None:
            for match in self._mask_re.finditer(self._pending):
                if match.start() < cut < match.end():
                    cut = match.end()
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return self._apply_mask(out)

    def flush(self) -> str:
        if self.blocked_by is not None:
            return ""
        out, self._pending = self._pending, ""
        return self._apply_mask(out)

    def _apply_mask(self, text: str) -> str:
        if self._mask_re is None:
            return text

        def hide(match: re.Match) -> str:
            self.masked[match.group()] = self.masked.get(match.group(), 0) + 1
            return WORD_MASK

        return self._mask_re.sub(hide, text)


def filter_text(text: str, lists: WordLists) -> tuple[str, str | None]:
    """A whole text through the word lists: (masked text, blocking word or None)."""
    word_filter = StreamWordFilter(lists)
    out = word_filter.feed(text) + word_filter.flush()
    return out, word_filter.blocked_by


_FENCE_RE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def parse_structured(text: str, schema: dict) -> tuple[object | None, str]:
    """The answer as JSON valid against ``schema``: (data, "") or (None, a sentence saying what is wrong)."""
    body = text.strip()
    fenced = _FENCE_RE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body.startswith(("{", "[")):
        start = body.find("{")
        end = body.rfind("}")
        if start != -1 and end > start:
            body = body[start : end + 1]
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, _("输出不是合法的 JSON：%(reason)s。") % {"reason": exc.msg}
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "（根）"
        return None, _("输出不符合 JSON Schema：%(where)s：%(message)s。") % {"where": where, "message": error.message}
    return data, ""


def repair_messages(*, messages: list[dict], answer: str, problem: str, schema: dict) -> list[dict]:
    """The conversation asking the model to correct an invalid structured answer, once."""
    return [
        *messages,
        {"role": "assistant", "content": answer},
        {
            "role": "user",
            "content": _(
                "上面的输出不符合要求：%(problem)s 请只输出一个符合下列 JSON Schema 的 JSON 对象，不要输出其他文字：\n%(schema)s"
            )
            % {"problem": problem, "schema": json.dumps(schema, ensure_ascii=False)},
        },
    ]
