"""Replace personal data with stable placeholders (【手机号1】) and put it back for entitled viewers.

A ``Masker`` lives as long as a conversation or run: the same value, however it is written
("138 0013 8000", "+86 13800138000", full-width digits), always gets the same placeholder, and
placeholders are numbered per kind in order of first appearance. Its ``mapping`` (placeholder →
original value, as first seen) can be stored and handed to a new ``Masker`` to continue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .detectors import KINDS, PLACEHOLDER_LABELS, PLACEHOLDER_RE, Finding, check_kinds, find_personal_data, fold_width

__all__ = ["PLACEHOLDER_LABELS", "MaskResult", "Masker", "mask_text", "normalize_value", "unmask"]

_KIND_OF_LABEL = {label: kind for kind, label in PLACEHOLDER_LABELS.items()}
_NUMBER_NOISE = re.compile(r"[\s\-()+.]")
_LANDLINE_EXTENSION = re.compile(r"(.*[0-9])\s?(?:-|转分机|转|分机|ext\.?|x)\s?([0-9]{1,6})")
_PLATE_NOISE = re.compile(r"[\s·•・‧.\-]")
_ANY_PLACEHOLDER = re.compile(r"【[^【】]{1,40}】")


@dataclass
class MaskResult:
    text: str  # masked text, e.g. "张某，【身份证号1】，电话【手机号1】"
    mapping: dict[str, str] = field(default_factory=dict)  # placeholder -> original value


def normalize_value(kind: str, value: str) -> str:
    """The form under which two writings of one value are the same (for stable placeholders)."""
    value = fold_width(value).strip()
    if kind in ("id_card", "bank_card"):
        return _NUMBER_NOISE.sub("", value).upper()
    if kind == "mobile":
        digits = _NUMBER_NOISE.sub("", value)
        return digits[-11:]  # without +86 / 0086 / 86
    if kind == "landline":
        match = _LANDLINE_EXTENSION.fullmatch(value)
        number = re.sub("[^0-9]", "", match.group(1) if match else value)
        if match and len(number) >= 10:  # area code and local number before the extension
            return f"{number}x{match.group(2)}"
        return re.sub("[^0-9]", "", value)
    if kind == "email":
        return value.lower()
    if kind == "plate":
        return _PLATE_NOISE.sub("", value).upper()
    return re.sub(r"\s+", "", value)


class Masker:
    """Stable placeholders across several texts of one conversation/run: the same value (after
    normalising full-width digits, spaces, hyphens and +86/0086 prefixes) always gets the same
    placeholder, numbered per kind in order of first appearance."""

    def __init__(self, mapping: dict[str, str] | None = None, kinds: Iterable[str] | None = None):
        self._kinds = check_kinds(kinds)
        self._mapping: dict[str, str] = {}
        self._by_value: dict[tuple[str, str], str] = {}
        self._last_number = dict.fromkeys(KINDS, 0)
        for placeholder, original in (mapping or {}).items():
            match = PLACEHOLDER_RE.fullmatch(placeholder)
            if match is None:
                raise ValueError(f"not a masking placeholder: {placeholder!r}")
            kind = _KIND_OF_LABEL[match.group(1)]
            self._mapping[placeholder] = original
            self._by_value.setdefault((kind, normalize_value(kind, original)), placeholder)
            self._last_number[kind] = max(self._last_number[kind], int(match.group(2)))

    @property
    def mapping(self) -> dict[str, str]:
        """Placeholder -> original value, for every placeholder handed out (or given) so far."""
        return dict(self._mapping)

    def mask(self, text: str) -> str:
        findings = find_personal_data(text, self._kinds)
        # Placeholders already in the text that this masker did not hand out keep their numbers.
        for match in PLACEHOLDER_RE.finditer(text):
            if match.group(0) not in self._mapping:
                kind = _KIND_OF_LABEL[match.group(1)]
                self._last_number[kind] = max(self._last_number[kind], int(match.group(2)))
        if not findings:
            return text
        parts = []
        pos = 0
        for finding in findings:
            parts.append(text[pos : finding.start])
            parts.append(self._placeholder(finding))
            pos = finding.end
        parts.append(text[pos:])
        return "".join(parts)

    def _placeholder(self, finding: Finding) -> str:
        key = (finding.kind, normalize_value(finding.kind, finding.text))
        placeholder = self._by_value.get(key)
        if placeholder is None:
            number = self._last_number[finding.kind] + 1
            placeholder = f"【{PLACEHOLDER_LABELS[finding.kind]}{number}】"
            self._last_number[finding.kind] = number
            self._by_value[key] = placeholder
            self._mapping[placeholder] = finding.text
        return placeholder


def mask_text(text: str, kinds: Iterable[str] | None = None) -> MaskResult:
    """Mask one text on its own; ``mapping`` holds the placeholders it used."""
    masker = Masker(kinds=kinds)
    return MaskResult(masker.mask(text), masker.mapping)


def unmask(text: str, mapping: dict[str, str]) -> str:
    """Put the original values back (used only for viewers entitled to see them)."""
    if not mapping:
        return text
    return _ANY_PLACEHOLDER.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
