"""Masked texts as a given viewer may see them."""

from __future__ import annotations

import json
import re

from ..models import Run
from ..privacy.masking import unmask
from .access import may_see_personal_data

_OPEN_PLACEHOLDER = re.compile(r"【[^【】]{0,40}$")


def run_mapping_for(*, run: Run, user) -> dict[str, str]:
    """The placeholder → value mapping ``user`` may apply to ``run`` (empty when they may not)."""
    if not run.mask_mapping or not may_see_personal_data(user=user, run=run):
        return {}
    return json.loads(run.mask_mapping)


def text_for(*, run: Run, user, text: str) -> str:
    return unmask(text, run_mapping_for(run=run, user=user))


class StreamUnmasker:
    """Unmasks streamed chunks; a placeholder split across chunks is held back until it is whole."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping
        self._pending = ""

    def feed(self, text: str) -> str:
        if not self.mapping:
            return text
        self._pending += text
        open_tail = _OPEN_PLACEHOLDER.search(self._pending)
        cut = open_tail.start() if open_tail else len(self._pending)
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return unmask(out, self.mapping)

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return unmask(out, self.mapping)
