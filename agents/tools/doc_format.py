"""Check an official document's text against GB/T 9704-2012《党政机关公文格式》, without a model.

``format_check`` reads the plain text of a document (as pasted or extracted from a file), finds its
parts — the 版头 (issuing authority, 发文字号), the title, the addressee (主送机关), the body with its
heading levels, the attachment notes (附件说明), the date (成文日期), the attachment pages and the
版记 (抄送, 印发) — and reports each concrete deviation with its line and column (both from 1, in
characters) and the text it concerns. A missing part is reported where it belongs (a missing
date at the 署名); only a missing title has line 0.

What is checked, by the clause of the standard or of the 《党政机关公文处理工作条例》 it follows (each
finding carries its clause in ``clause`` and at the end of its message):

- 发文字号 (7.2.5): ``机关代字〔年份〕序号号`` — six-sided brackets 〔〕, a four-digit year, no 第, no
  leading zero, ends with 号. Numbers of documents cited in the body are checked the same way, and a
  cited document's title comes before its number (“《标题》（文号）”).
- 签发人 (7.2.6): beside the number of every 上行文 (请示, 报告).
- 标题 (7.3.1; 条例第八条): present; no punctuation at the end; no other punctuation than 书名号, 引号,
  括号 and 顿号 inside; ends with one of the fifteen document types, and with only one (“请示报告” is
  read as a 请示 and reported).
- 主送机关 (7.3.2): the line under the title ends with a full-width colon; a 请示 goes to one
  authority only (条例第十五条（一）).
- 正文 (7.3.3): 结构层次序数 一、 → （一） → 1. → （1）, in that order, with the right punctuation and
  full-width parentheses, numbered without gaps or repeats, no level skipped — two headings in each
  other's place are one finding, not a cascade; full-width punctuation in Chinese text
  (GB/T 15834-2011); no request for approval inside a 报告 (条例第十五条（四）).
- 附件说明 (7.3.4): ``附件：1.名称`` with a full-width colon, numbered items when there are several,
  no punctuation or 书名号 around the names; matching the attachment pages (7.3.7) and the references
  in the body.
- 成文日期 (7.3.5): Arabic numerals, year in full, no leading zeros (``2025年7月1日``); a real date;
  when missing, reported at the 署名 it belongs under. A 决议's or 公报's date under its title counts.
- 附注 (7.3.6; 条例第九条（十三）): a 请示 names a contact person.
- 版记 (7.4.2, 7.4.3): ``抄送：`` with a full-width colon and a full stop after the last name; the 印发 date.

Everything here is deterministic: the same text always gives the same problems, in reading order.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from functools import partial

from django.utils.translation import gettext as _

ERROR = "error"
WARNING = "warning"

# The fifteen kinds of official document (《党政机关公文处理工作条例》第八条); 令 is 命令's short form.
DOC_TYPES = (
    "决议",
    "决定",
    "命令",
    "令",
    "公报",
    "公告",
    "通告",
    "意见",
    "通知",
    "通报",
    "报告",
    "请示",
    "批复",
    "议案",
    "函",
    "纪要",
)
# Kinds that are addressed to someone, so a missing 主送机关 is worth a warning.
ADDRESSED_TYPES = ("通知", "通报", "报告", "请示", "批复", "函")
# 上行文: sent up to a superior, so they carry the 签发人 (GB/T 9704-2012 7.2.6).
UPWARD_TYPES = ("请示", "报告")


def _canonical_type(kind: str | None) -> str | None:
    """命令 and its short form 令 are one 文种."""
    kind = (kind or "").strip() or None
    return "命令" if kind == "令" else kind


SPACES = " \t\u3000\u00a0"
_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
CN_NUM = "一二三四五六七八九十"
_CN_VALUE = {c: i for i, c in enumerate("零一二三四五六七八九", start=0)}
_CN_YEAR_DIGIT = {"〇": "0", "零": "0", "○": "0", "Ｏ": "0", "O": "0", **{c: str(i) for c, i in _CN_VALUE.items()}}


@dataclass(frozen=True)
class Problem:
    """One deviation from the standard: where it is and what to do about it."""

    code: str  # stable identifier, e.g. "number.brackets"
    message: str  # a Chinese sentence for the person fixing the document
    line: int  # from 1; 0 when it concerns the whole document
    column: int  # from 1, in characters; 0 with line 0
    excerpt: str  # the text concerned, as written
    severity: str = ERROR  # "error": the standard is broken; "warning": probably wrong, worth a look
    suggestion: str = ""  # the corrected form, when there is one
    clause: str = ""  # the clause of GB/T 9704-2012 or of the 条例 the finding follows

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- clauses

_STANDARD = "GB/T 9704-2012"
_RULES = "《党政机关公文处理工作条例》"
# The clause each finding follows, by the longest prefix of its code.
_CLAUSES = {
    "number": f"{_STANDARD} 7.2.5",
    "signer": f"{_STANDARD} 7.2.6；{_RULES}第九条第（六）项",
    "title": f"{_STANDARD} 7.3.1",
    "title.doc_type": f"{_STANDARD} 7.3.1；{_RULES}第九条第（七）项",
    "title.mixed_doc_type": f"{_RULES}第八条、第九条第（七）项",
    "addressee": f"{_STANDARD} 7.3.2",
    "heading": f"{_STANDARD} 7.3.3",
    "punctuation": f"{_STANDARD} 7.3.3；GB/T 15834-2011《标点符号用法》",
    "citation": f"{_STANDARD} 7.3.3；{_RULES}第十九条第（四）项",
    "attachment": f"{_STANDARD} 7.3.4",
    "attachment.note_missing": f"{_STANDARD} 7.3.4、7.3.7",
    "attachment.count_mismatch": f"{_STANDARD} 7.3.4、7.3.7",
    "attachment.page_number": f"{_STANDARD} 7.3.7",
    "attachment.title_mismatch": f"{_STANDARD} 7.3.7",
    "date": f"{_STANDARD} 7.3.5",
    "date.printed": f"{_STANDARD} 7.4.3",
    "cc": f"{_STANDARD} 7.4.2",
    "request.contact_missing": f"{_STANDARD} 7.3.6；{_RULES}第九条第（十三）项",
    "request.multiple_addressees": f"{_RULES}第十五条第（一）项",
    "report.contains_request": f"{_RULES}第十五条第（四）项",
}


def clause_of(code: str) -> str:
    """The clause a finding's code follows ("" for codes that are no rule, like an empty document)."""
    parts = code.split(".")
    for end in range(len(parts), 0, -1):
        clause = _CLAUSES.get(".".join(parts[:end]))
        if clause:
            return clause
    return ""


# --------------------------------------------------------------------------- numbers


def cn_to_int(text: str) -> int | None:
    """一 → 1, 十 → 10, 十二 → 12, 二十三 → 23 (up to 99); None if ``text`` is not such a numeral."""
    if not text or any(c not in CN_NUM for c in text):
        return None
    if "十" not in text:
        return _CN_VALUE[text] if len(text) == 1 else None
    tens, _sep, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1 or "十" in units:
        return None
    return (_CN_VALUE[tens] if tens else 1) * 10 + (_CN_VALUE[units] if units else 0)


def int_to_cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, units = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[units] if units else "")


def _cn_digits_to_int(text: str) -> int | None:
    """二〇二五 → 2025 (year written digit by digit); 七 → 7, 十二 → 12, 三十一 → 31."""
    if text and all(c in _CN_YEAR_DIGIT for c in text) and len(text) >= 2 and "十" not in text:
        return int("".join(_CN_YEAR_DIGIT[c] for c in text))
    return cn_to_int(text)


# --------------------------------------------------------------------------- lines


@dataclass
class _Line:
    number: int  # from 1
    raw: str
    indent: int  # leading spaces (half- or full-width)

    @property
    def text(self) -> str:
        return self.raw.strip(SPACES)

    def col(self, offset_in_text: int) -> int:
        return self.indent + offset_in_text + 1


def _lines(text: str) -> list[_Line]:
    out = []
    for i, raw in enumerate(text.splitlines(), start=1):
        raw = raw.rstrip(SPACES)
        out.append(_Line(i, raw, len(raw) - len(raw.lstrip(SPACES))))
    return out


def _short(text: str, length: int = 40) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


# --------------------------------------------------------------------------- patterns

_OPEN = "〔\\[(（【［{｛<《"
_CLOSE = "〕\\])）】］}｝>》"
_YEAR = "[0-9０-９]{1,6}|[〇零○一二三四五六七八九]{2,4}"
# 机关代字 + bracketed year + serial; everything after the code is captured to check it piece by piece.
_NUMBER = re.compile(
    rf"(?P<code>[\u4e00-\u9fff][\u4e00-\u9fffA-Za-z]{{0,14}}?)\s*(?P<open>[{_OPEN}])\s*(?P<year>{_YEAR})\s*"
    rf"(?P<close>[{_CLOSE}])\s*(?P<di>第?)\s*(?P<serial>[0-9０-９]+)\s*(?P<hao>号?)"
)
# A cited number followed by the cited document's title: “根据示政发〔2024〕3号《关于……的通知》”.
_TITLE_AFTER_NUMBER = re.compile(r"[）)\]】\s]*(?:文件|文)?\s*《")
_HALF_PUNCT = re.compile(r"[,;:?!()]")
_FULL_WIDTH = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
# Latin runs where half-width marks belong: web and mail addresses, times, ratios.
_LATIN_RUN = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w.-]+|\d+:\d+")
_ADDRESSEE_SPLIT = re.compile(r"[、，,；;]")
# Asking a superior to approve, in a 报告 (a 报告 asks nothing: 条例第十五条（四）).
_REQUEST_WORDS = re.compile(
    r"(?:妥否|当否|可否|是否可行|是否妥当)[，,]?\s*请(?:予)?(?:批示|审批|批复|指示|示)"
    r"|请(?:予以|予|给予)?(?:审批|批准|批示|批复|核准|核拨|拨付)"
    r"|特此请示"
    r"|(?:恳请|请求)[^。；]{0,30}?(?:批准|审批|拨付|解决|支持|同意|安排|给予|协调|帮助)"
)
_LEAD_IN = re.compile(r"^.*(?:根据|按照|依据|依照|参照|详见|见|和|及|与|的|在|从|将|是|为)")
# A header line holding the number alone (perhaps in parentheses, perhaps with the 签发人).
_NUMBER_LINE = re.compile(
    rf"^[(（]?\s*(?P<number>{_NUMBER.pattern})\s*[)）]?\s*(?:签发人\s*[：:]\s*(?P<signer>\S.*))?$"
)

_HEADER_LINE = re.compile(
    r"^(?:\d{6}"  # 份号
    r"|(?:绝密|机密|秘密)(?:★.*)?"  # 密级和保密期限
    r"|(?:特急|加急|特提|平急)"  # 紧急程度
    r"|(?:绝密|机密|秘密)(?:★\S*)?\s+(?:特急|加急|特提|平急)"
    r"|.{2,40}文件)$"  # 发文机关标志
)
_TYPES_BY_LENGTH = sorted(DOC_TYPES, key=len, reverse=True)
_TYPES_ALT = "|".join(_TYPES_BY_LENGTH)
_TITLE_END = re.compile(rf"(?:{_TYPES_ALT})(?:[（(][^）)]*[）)])?$")
_TRAILING_PUNCT = "。，、；：！？.,;:!?"
_TITLE_INNER_PUNCT = re.compile(r"[，。；：！？,;:!?]|(?<![0-9])\.|\.(?![0-9])")
_AGENCY_END = re.compile(
    r"(?:政府|委员会|党委|党组|局|委|办|厅|部|院|署|会|处|科|室|所|站|队|中心|单位|部门|公司|集团|街道|办事处|乡|镇|村|社区|学校|大学|学院|医院"
    r"|机构|机关|组|同志|代表|企业|团体|协会|银行|海关|区|县|市|州|盟|旗)$"
)
_AGENCY_WORD = re.compile(r"政府|委员会|党委|局|厅|办|部门|单位|机构|机关|街道|乡镇|学校|企业|组织")
_BODY_OPENERS = ("为", "根据", "按照", "经", "现将", "近日", "近期", "今年", "去年", "依据", "鉴于", "关于")

_DATE_ARABIC = re.compile(r"(?P<y>\d{1,4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*(?P<unit>[日号])")
_DATE_CN = re.compile(
    r"(?P<y>[〇零○ＯO一二三四五六七八九]{2,4})\s*年\s*(?P<m>[一二三四五六七八九十]{1,2})\s*月"
    r"\s*(?P<d>[一二三四五六七八九十]{1,3})\s*(?P<unit>[日号])"
)
_DATE_SEP = re.compile(r"(?P<y>\d{2,4})(?P<sep>[-./／])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})")
_DATE_FORMS = (_DATE_ARABIC, _DATE_CN, _DATE_SEP)
# A date under a 决议's title, in parentheses with the meeting that passed it.
_PASSED = re.compile(
    r"^[（(](?P<date>(?:\d{4}|[〇零○一二三四五六七八九]{4})\s*年\s*[\d一二三四五六七八九十]{1,2}\s*月"
    r"\s*[\d一二三四五六七八九十]{1,3}\s*[日号]).*[）)]$"
)
_PRINTED = re.compile(r"^(?P<org>.+?)\s*(?P<date>\S+?)\s*印发$")

_ATTACHMENT_NOTE = re.compile(r"^附\s*件\s*(?P<colon>[：:])?\s*(?P<rest>.*)$")
_ATTACHMENT_PAGE = re.compile(r"^附\s*件\s*(?P<n>[0-9０-９]{1,2})?$")
_ITEM = re.compile(r"^(?P<n>[0-9]{1,2})(?![0-9])\s*(?P<mark>[.．、，,:：)）])\s*(?P<name>.*)$")
_ATTACHMENT_REF = re.compile(r"附件\s*(?P<n>[0-9０-９]{1,2})?")

_CN = f"[{CN_NUM}]{{1,3}}"
# Heading markers; "bad" forms are matched first and reported with the right form.
_HEADINGS = [
    # level 1: 一、
    (1, re.compile(rf"^(?P<n>{_CN})、"), None),
    (1, re.compile(rf"^(?P<n>{_CN})\s*(?P<bad>[.．,，:：])"), "{cn}、"),
    # level 2: （一）
    (2, re.compile(rf"^（\s*(?P<n>{_CN})\s*）(?![、.．,，])"), None),
    (2, re.compile(rf"^(?P<bad>[(（]\s*(?P<n>{_CN})\s*[)）][、.．,，]?)"), "（{cn}）"),
    # level 3: 1.
    (3, re.compile(r"^(?P<n>[0-9]{1,2})[.．](?![0-9])"), None),
    (3, re.compile(r"^(?P<n>[0-9]{1,2})\s*(?P<bad>[、,，:：])(?![0-9])"), "{n}."),
    # level 4: （1）
    (4, re.compile(r"^（\s*(?P<n>[0-9]{1,2})\s*）(?![、.．,，])"), None),
    (4, re.compile(r"^(?P<bad>[(（]\s*(?P<n>[0-9]{1,2})\s*[)）][、.．,，]?)"), "（{n}）"),
    (4, re.compile(r"^(?P<bad>(?P<n>[0-9]{1,2})[)）])(?![0-9])"), "（{n}）"),
]
_LEVEL_FORM = {1: "一、", 2: "（一）", 3: "1.", 4: "（1）"}


def _marker(level: int, n: int) -> str:
    return {1: f"{int_to_cn(n)}、", 2: f"（{int_to_cn(n)}）", 3: f"{n}.", 4: f"（{n}）"}[level]


# --------------------------------------------------------------------------- the checker


class _Checker:
    def __init__(self, text: str, doc_type: str | None):
        self.lines = _lines(text)
        self.nonblank = [ln for ln in self.lines if ln.text]
        self.problems: list[Problem] = []
        self.doc_type = (doc_type or "").strip() or None
        self.signer = False
        self.addressee = None

    def add(
        self, code, message, line: _Line | None, offset: int, excerpt: str, severity=ERROR, suggestion="", clause=None
    ):
        clause = clause or clause_of(code)
        self.problems.append(
            Problem(
                code=code,
                message=f"{message.rstrip('。')}（{clause}）。" if clause else message,
                clause=clause,
                line=line.number if line else 0,
                column=line.col(offset) if line else 0,
                excerpt=excerpt,
                severity=severity,
                suggestion=suggestion,
            )
        )

    # ------------------------------------------------------------------ structure

    def run(self) -> list[Problem]:
        if not self.nonblank:
            self.add("document.empty", _("没有可检查的公文内容。"), None, 0, "")
            return self.problems
        number_line = self._find_number_line()
        title_lines = self._find_title(number_line)
        title_text = "".join(ln.text for ln in title_lines)
        found_kind, mixed = self._type_of(title_text)
        kind = _canonical_type(self.doc_type) or found_kind
        after_title = self._index_after(title_lines[-1]) if title_lines else self._first_body_index(number_line)
        head_dates, after_head = self._head_dates(after_title)
        addressee = self._find_addressee(after_head, number_line)
        self.addressee = addressee
        body_start = self._index_after(addressee) if addressee else after_head
        date_line = self._find_date_line(body_start)
        cc_start = self._find_copy_block(body_start)
        body_end = self._first_index(
            [
                date_line and self.lines.index(date_line),
                cc_start,
                self._first_attachment_page(body_start),
            ]
        )
        notes, note_lines = self._find_attachment_notes(body_start, body_end)
        signature_start = self._signature_start(date_line, body_start)
        signature = None
        if date_line is None:  # the 署名 then ends the body: the last short line without punctuation
            signature = self._closing_signature(body_start, body_end, note_lines)
            if signature is not None:
                signature_start = self.lines.index(signature)
        body = [
            ln
            for ln in self.lines[body_start : min(body_end, signature_start)]
            if ln.text and ln.number not in note_lines
        ]

        if number_line is not None:
            self._check_number_line(number_line, kind)
        self._check_title(title_lines, title_text, kind, mixed)
        self._check_addressee(addressee, kind, after_head)
        self._check_body_numbers(body)
        self._check_headings(body)
        self._check_punctuation([*([addressee] if addressee else []), *body])
        for ln, offset, raw in head_dates:
            self._check_date_text(ln, offset, raw, _("成文日期"))
        if not head_dates:
            self._check_date(date_line, body, kind, signature)
        pages = self._attachment_pages(body_end, cc_start)
        self._check_attachments(notes, pages, body)
        for page in pages:
            self._check_headings(page["lines"])
        self._check_copy_block(cc_start)
        # A number under the title is a copy as published, which shows no 签发人.
        published = number_line is not None and bool(title_lines) and number_line.number > title_lines[-1].number
        if kind in UPWARD_TYPES and not published:
            self._check_signer(number_line, kind)
        if kind == "请示":
            self._check_request(addressee, date_line or signature or (body[-1] if body else None))
        if kind == "报告":
            self._check_report(body)
        self.problems.sort(key=lambda p: (p.line, p.column))
        return self.problems

    def _index_after(self, line: _Line) -> int:
        return self.lines.index(line) + 1

    @staticmethod
    def _first_index(candidates) -> int:
        found = [c for c in candidates if c is not None and c is not False]
        return min(found) if found else 10**9

    def _type_of(self, title: str) -> tuple[str | None, str | None]:
        """The 文种 a title ends with, and the two 文种 run together when it ends with both (“请示报告”).

        A request mixed with a report is taken for a 请示: what it asks for needs the 请示's checks.
        """
        bare = title.rstrip(_TRAILING_PUNCT)
        match = _TITLE_END.search(bare)
        if not match:
            return None, None
        last = next(t for t in _TYPES_BY_LENGTH if match.group(0).startswith(t))
        before = bare[: match.start()]
        first = next((t for t in _TYPES_BY_LENGTH if t != "令" and before.endswith(t)), None)
        if first and first != last and last != "令":
            return ("请示" if "请示" in (first, last) else last), first + last
        return _canonical_type(last), None

    def _is_number_line(self, ln: _Line) -> re.Match | None:
        return _NUMBER_LINE.match(ln.text)

    def _find_number_line(self) -> _Line | None:
        for ln in self.nonblank[:10]:
            if self._is_number_line(ln):
                return ln
        return None

    def _is_header(self, ln: _Line, number_line: _Line | None) -> bool:
        if _HEADER_LINE.match(ln.text) or ln is number_line:
            return True
        # Everything above the 发文字号 belongs to the 版头 (issuing authority's mark, 份号, 密级) —
        # unless the number stands under the title, as in documents published on the web.
        if number_line is None or ln.number > number_line.number:
            return False
        above = [other for other in self.nonblank if other.number < number_line.number]
        return not any(_title_like(other.text) for other in above)

    def _first_body_index(self, number_line: _Line | None) -> int:
        for ln in self.nonblank:
            if not self._is_header(ln, number_line):
                return self.lines.index(ln)
        return len(self.lines)

    def _find_title(self, number_line: _Line | None) -> list[_Line]:
        """The title's lines (a long title may be broken over two or three adjacent lines)."""
        start = self._first_body_index(number_line)
        if start >= len(self.lines):
            return []
        block = []
        for ln in self.lines[start : start + 3]:
            if not ln.text or self._is_number_line(ln):
                break
            block.append(ln)
        for end in range(len(block)):
            if _TITLE_END.search(block[end].text.rstrip(_TRAILING_PUNCT)) and len(block[end].text) <= 80:
                candidate = block[: end + 1]
                if all("。" not in ln.text.rstrip("。") for ln in candidate):
                    return candidate
        # “××局” on one line and “关于××” on the next: the title is both, up to the 关于 line.
        for end, ln in enumerate(block):
            if ln.text.startswith("关于") and len(ln.text) <= 80 and "。" not in ln.text:
                return block[: end + 1]
        first = block[0]
        following = self._next_nonblank(self.lines.index(first) + 1, skip_numbers=True)
        if (
            len(first.text) <= 50
            and "。" not in first.text
            and not first.text.endswith(("：", ":"))
            and not self._heading_of(first.text)
            and following is not None
            and self._looks_like_addressee(following.text)
        ):
            return [first]
        return []

    def _next_nonblank(self, index: int, *, skip_numbers: bool = False) -> _Line | None:
        for ln in self.lines[index:]:
            if ln.text and not (skip_numbers and self._is_number_line(ln)):
                return ln
        return None

    def _looks_like_addressee(self, text: str) -> bool:
        if len(text) > 120 or "。" in text or self._heading_of(text) or _ATTACHMENT_NOTE.match(text):
            return False
        if any(w in text for w in ("如下", "以下")) or text.startswith(_BODY_OPENERS):
            return False
        core = text.rstrip(_TRAILING_PUNCT + SPACES)
        if text.endswith(("：", ":")):
            return True
        if len(core) > 60:
            return False
        # “各有关单位、个人”: a line of names that does not end with an agency word still names them.
        return bool(_AGENCY_END.search(core) or (core.startswith("各") and _AGENCY_WORD.search(core)))

    def _find_addressee(self, index: int, number_line: _Line | None) -> _Line | None:
        ln = self._next_nonblank(index, skip_numbers=True)
        if ln is None or not self._looks_like_addressee(ln.text):
            return None
        # An agency name without a colon is only an addressee when body text follows it.
        if not ln.text.endswith(("：", ":")):
            after = self._next_nonblank(self.lines.index(ln) + 1)
            if after is None or _is_date(after.text) or len(after.text) < 8:
                return None
        return ln

    def _head_dates(self, index: int) -> tuple[list[tuple[_Line, int, str]], int]:
        """Dates under the title (a 公报's “××局 / 2025年3月1日”, a 决议's “（2025年1月15日××会议通过）”).

        Returns each date (line, offset, text) and the index after them; none, and ``index``, when the
        title is followed by anything else.
        """
        lines = [ln for ln in self.lines[index : index + 6] if ln.text][:3]
        for count in (1, 2):
            if len(lines) < count:
                break
            last = lines[count - 1]
            if count == 2 and not (len(lines[0].text) <= 30 and _AGENCY_END.search(lines[0].text)):
                break
            if _is_date(last.text):
                return [(last, 0, last.text)], self._index_after(last)
            match = _PASSED.match(last.text)
            if match:
                return [(last, match.start("date"), match.group("date"))], self._index_after(last)
        return [], index

    def _closing_signature(self, start: int, end: int, note_lines: set[int]) -> _Line | None:
        """Without a 成文日期, the 署名: the body's last line when it is a short name without punctuation."""
        for ln in reversed(self.lines[start : min(end, len(self.lines))]):
            text = ln.text
            if not text or ln.number in note_lines or (text[0] in "（(" and text[-1] in "）)"):
                continue  # blank, 附件说明, 附注
            if text.startswith(("出席", "列席", "参加", "请假")):
                continue  # a 纪要's list of those present
            if len(text) <= 40 and text[-1] not in _TRAILING_PUNCT and not self._heading_of(text):
                return ln
            return None
        return None

    def _find_date_line(self, start: int) -> _Line | None:
        for ln in self.lines[start:]:
            if ln.text and _is_date(ln.text):
                return ln
        return None

    def _find_copy_block(self, start: int) -> int | None:
        for i in range(start, len(self.lines)):
            text = self.lines[i].text
            if text.startswith("抄送") or (text.endswith("印发") and _PRINTED.match(text)):
                return i
        return None

    def _first_attachment_page(self, start: int) -> int | None:
        for i in range(start, len(self.lines)):
            if _ATTACHMENT_PAGE.match(self.lines[i].text):
                return i
        return None

    def _signature_start(self, date_line: _Line | None, body_start: int) -> int:
        """Index of the first signature line (the issuing authority's name right above the date)."""
        if date_line is None:
            return 10**9
        i = self.lines.index(date_line)
        while i - 1 >= body_start:
            text = self.lines[i - 1].text
            if not text or len(text) > 40 or text[-1] in _TRAILING_PUNCT or self._heading_of(text):
                break
            if _ATTACHMENT_NOTE.match(text) or _ITEM.match(text):
                break
            i -= 1
        return i

    # ------------------------------------------------------------------ 发文字号

    def _check_number(self, ln: _Line, match: re.Match, offset: int, *, cited: bool) -> None:
        g = match.groupdict()
        year = g["year"].translate(_DIGITS)
        serial = g["serial"].translate(_DIGITS)
        year_value = int(year) if year.isdigit() else _cn_digits_to_int(year)
        good_year = str(year_value) if year_value and year_value >= 1000 else year
        code, start = g["code"], match.start()
        if cited:  # in a sentence the match may begin before the 机关代字: “根据国办发〔2024〕3号”
            lead_in = _LEAD_IN.match(code)
            if lead_in:
                code, start = code[lead_in.end() :], start + lead_in.end()
        suggestion = f"{code}〔{good_year}〕{int(serial)}号"
        excerpt = ln.text[start + offset : match.end() + offset]
        where = _("引用的发文字号") if cited else _("发文字号")
        col = offset + start
        if g["open"] != "〔" or g["close"] != "〕":
            self.add(
                "number.brackets",
                _("%(where)s中的年份应使用六角括号“〔〕”，不能用“%(open)s%(close)s”。")
                % {"where": where, "open": g["open"], "close": g["close"]},
                ln,
                offset + match.start("open"),
                excerpt,
                suggestion=suggestion,
            )
        if not (year.isdigit() and len(year) == 4):
            self.add(
                "number.year",
                _("%(where)s中的年份应使用阿拉伯数字标全称（四位数字），如“〔2025〕”。") % {"where": where},
                ln,
                offset + match.start("year"),
                excerpt,
                suggestion=suggestion if len(good_year) == 4 else "",
            )
        if g["di"]:
            self.add(
                "number.di",
                _("%(where)s中的发文顺序号前不加“第”字。") % {"where": where},
                ln,
                offset + match.start("di"),
                excerpt,
                suggestion=suggestion,
            )
        if len(serial) > 1 and serial.startswith("0"):
            self.add(
                "number.leading_zero",
                _("%(where)s中的发文顺序号不编虚位（1 不编为 01），应写作“%(n)s号”。")
                % {"where": where, "n": int(serial)},
                ln,
                offset + match.start("serial"),
                excerpt,
                suggestion=suggestion,
            )
        if not g["hao"] and not cited:
            self.add(
                "number.missing_hao",
                _("发文字号的顺序号后应加“号”字。"),
                ln,
                col + len(excerpt),
                excerpt,
                suggestion=suggestion,
            )

    def _check_number_line(self, ln: _Line, kind: str | None) -> None:
        match = self._is_number_line(ln)
        inner = _NUMBER.search(ln.text)
        self._check_number(ln, inner, 0, cited=False)
        self.signer = bool(match.group("signer"))

    def _check_body_numbers(self, body: list[_Line]) -> None:
        for ln in body:
            for match in _NUMBER.finditer(ln.text):
                # Only a citation that ends with 号 is surely a document number.
                if match.group("hao") and len(match.group("code")) >= 2:
                    self._check_number(ln, match, 0, cited=True)
                    if _TITLE_AFTER_NUMBER.match(ln.text, match.end()):
                        self._cited_number_first(ln, match)

    def _cited_number_first(self, ln: _Line, match: re.Match) -> None:
        code, start = match.group("code"), match.start()
        lead_in = _LEAD_IN.match(code)
        if lead_in:
            start += lead_in.end()
        number = ln.text[start : match.end()]
        title_end = ln.text.find("》", match.end())
        title = ln.text[ln.text.index("《", match.end()) : title_end + 1] if title_end > 0 else ""
        self.add(
            "citation.order",
            _("引用公文应当先引标题，后引发文字号，应写作“%(title)s（%(number)s）”。")
            % {"title": title or "《标题》", "number": number},
            ln,
            start,
            _short(ln.text[start : (title_end + 1) if title_end > 0 else match.end()]),
            suggestion=f"{title}（{number}）" if title else "",
        )

    # ------------------------------------------------------------------ 标题

    def _check_title(self, lines: list[_Line], text: str, kind: str | None, mixed: str | None = None) -> None:
        if not lines:
            self.add(
                "title.missing",
                _("未找到公文标题。标题应位于版头之下、主送机关之上，如“关于××的通知”。"),
                None,
                0,
                "",
            )
            return
        last = lines[-1]
        if last.text[-1] in _TRAILING_PUNCT:
            self.add(
                "title.trailing_punctuation",
                _("标题末尾不加标点符号。"),
                last,
                len(last.text) - 1,
                text,
                suggestion=text.rstrip(_TRAILING_PUNCT),
            )
        for ln in lines:
            core = ln.text.rstrip(_TRAILING_PUNCT) if ln is last else ln.text
            for match in _TITLE_INNER_PUNCT.finditer(core):
                self.add(
                    "title.punctuation",
                    _("标题中除法规、规章名称加书名号外，一般不用标点符号（此处有“%(mark)s”）。")
                    % {"mark": match.group(0)},
                    ln,
                    match.start(),
                    text,
                    severity=WARNING,
                )
        bare = text.rstrip(_TRAILING_PUNCT)
        if not _TITLE_END.search(bare):
            self.add(
                "title.doc_type_missing",
                _("标题应由发文机关名称、事由和文种组成，末尾缺少文种（如通知、请示、报告、函）。"),
                last,
                0,
                text,
                severity=WARNING,
            )
        elif mixed:
            self.add(
                "title.mixed_doc_type",
                _("标题中的文种“%(mixed)s”混用了两个文种，应根据行文目的选用一个（请求批准的用“请示”）。")
                % {"mixed": mixed},
                last,
                bare.rindex(mixed) - sum(len(ln.text) for ln in lines[:-1]),
                text,
            )
        elif self.doc_type and _canonical_type(self.doc_type) != _canonical_type(self._type_of(text)[0]):
            self.add(
                "title.doc_type_mismatch",
                _("标题的文种与所选文种“%(type)s”不一致。") % {"type": self.doc_type},
                last,
                0,
                text,
                severity=WARNING,
            )

    # ------------------------------------------------------------------ 主送机关

    def _check_addressee(self, ln: _Line | None, kind: str | None, after_title: int) -> None:
        if ln is None:
            if kind in ADDRESSED_TYPES:
                anchor = self._next_nonblank(after_title, skip_numbers=True)
                self.add(
                    "addressee.missing",
                    _("%(type)s一般应有主送机关，编排于标题之下，末尾标全角冒号。") % {"type": kind},
                    anchor,
                    0,
                    _short(anchor.text) if anchor else "",
                    severity=WARNING,
                )
            return
        text = ln.text
        if text.endswith(":"):
            self.add(
                "addressee.colon",
                _("主送机关最后一个机关名称后应标全角冒号“：”，不能用半角冒号。"),
                ln,
                len(text) - 1,
                text,
                suggestion=text[:-1] + "：",
            )
        elif not text.endswith("："):
            core = text.rstrip(_TRAILING_PUNCT)
            if text[-1] in _TRAILING_PUNCT:
                message = _("主送机关末尾应标全角冒号“：”，不能用“%(mark)s”。") % {"mark": text[-1]}
                code, offset = "addressee.punctuation", len(text) - 1
            else:
                message = _("主送机关最后一个机关名称后缺少全角冒号“：”。")
                code, offset = "addressee.missing_colon", len(text)
            self.add(code, message, ln, offset, text, suggestion=core + "：")

    # ------------------------------------------------------------------ 层次序数

    def _heading_of(self, text: str):
        """(level, number, wrong marker or None, correct form) for a line starting with a heading marker."""
        folded = text.translate(_DIGITS)
        for level, pattern, right in _HEADINGS:
            match = pattern.match(folded)
            if not match:
                continue
            raw_n = match.group("n")
            n = cn_to_int(raw_n) if level <= 2 else int(raw_n)
            if n is None:
                continue
            bad = match.groupdict().get("bad") if right else None
            if right and bad is None:
                continue
            return level, n, (match.group(0) if right else None), match
        return None

    def _check_headings(self, lines: list[_Line]) -> None:
        items = []
        for ln in lines:
            found = self._heading_of(ln.text)
            if not found:
                continue
            level, n, wrong, match = found
            items.append((ln, level, n))
            if wrong:
                self.add(
                    "heading.form",
                    _("第%(level)s层序数应写作“%(right)s”的形式，不能写作“%(wrong)s”。")
                    % {"level": int_to_cn(level), "right": _LEVEL_FORM[level], "wrong": match.group(0).strip()},
                    ln,
                    0,
                    _short(ln.text, 30),
                    suggestion=_marker(level, n),
                )
        findings = _sequence_findings(items)
        if findings:
            # Two headings written in each other's place (“（一）” before “一、”) put every later
            # number out of step; when exchanging one adjacent pair explains the findings, that pair
            # is the one mistake to report.
            best = None
            for i in range(len(items) - 1):
                swapped = [*items[:i], items[i + 1], items[i], *items[i + 2 :]]
                rest = _sequence_findings(swapped)
                if (not rest or len(rest) + 1 < len(findings)) and (best is None or len(rest) < len(best[1])):
                    best = (i, rest)
            if best is not None:
                i, findings = best
                (first, l1, n1), (_second, l2, n2) = items[i], items[i + 1]
                self.add(
                    "heading.order",
                    _("结构层次顺序颠倒：“%(a)s”应在“%(b)s”之后（层次依次为一、（一）1.（1））。")
                    % {"a": _marker(l1, n1), "b": _marker(l2, n2)},
                    first,
                    0,
                    _short(first.text, 30),
                )
        for ln, code, message, severity, suggestion in findings:
            self.add(code, message, ln, 0, _short(ln.text, 30), severity=severity, suggestion=suggestion)

    # ------------------------------------------------------------------ 成文日期

    def _check_date_text(self, ln: _Line, offset: int, raw: str, what: str, clause: str | None = None) -> None:
        """Check one written date (``raw`` starts at ``offset`` in the line's text)."""
        add = partial(self.add, clause=clause)
        compact = raw.replace(" ", "").replace("\u3000", "")
        folded = compact.translate(_DIGITS)
        if m := _DATE_ARABIC.fullmatch(folded):
            y, mo, d = m.group("y"), m.group("m"), m.group("d")
            good = f"{int(y)}年{int(mo)}月{int(d)}日" if len(y) == 4 else ""
            if len(y) != 4:
                add(
                    "date.year",
                    _("%(what)s的年份应标全称（四位数字），如“2025年”。") % {"what": what},
                    ln,
                    offset,
                    raw,
                )
            if (len(mo) > 1 and mo.startswith("0")) or (len(d) > 1 and d.startswith("0")):
                add(
                    "date.leading_zero",
                    _("%(what)s的月、日不编虚位（1 不编为 01），应写作“%(good)s”。") % {"what": what, "good": good},
                    ln,
                    offset,
                    raw,
                    suggestion=good,
                )
            if m.group("unit") == "号":
                add(
                    "date.unit",
                    _("%(what)s应写“日”，不写“号”。") % {"what": what},
                    ln,
                    offset,
                    raw,
                    suggestion=good,
                )
            if len(y) == 4 and not _valid_date(int(y), int(mo), int(d)):
                add(
                    "date.invalid",
                    _("%(what)s“%(date)s”不是有效的日期。") % {"what": what, "date": raw},
                    ln,
                    offset,
                    raw,
                )
            if compact != folded:
                add(
                    "date.fullwidth_digits",
                    _("%(what)s应使用半角阿拉伯数字。") % {"what": what},
                    ln,
                    offset,
                    raw,
                    severity=WARNING,
                    suggestion=good,
                )
            return
        if m := _DATE_CN.fullmatch(compact):
            y, mo, d = (_cn_digits_to_int(m.group(k)) for k in ("y", "m", "d"))
            good = f"{y}年{mo}月{d}日" if y and mo and d and y >= 1000 else ""
            add(
                "date.chinese_numerals",
                _("%(what)s应使用阿拉伯数字将年、月、日标全（GB/T 9704-2012），如“%(good)s”。")
                % {"what": what, "good": good or "2025年7月1日"},
                ln,
                offset,
                raw,
                suggestion=good,
            )
            return
        if m := _DATE_SEP.fullmatch(folded):
            y, mo, d = m.group("y"), int(m.group("m")), int(m.group("d"))
            good = f"{int(y)}年{mo}月{d}日" if len(y) == 4 else ""
            add(
                "date.separator",
                _("%(what)s应写作“××××年×月×日”，不能用“%(sep)s”分隔。") % {"what": what, "sep": m.group("sep")},
                ln,
                offset,
                raw,
                suggestion=good,
            )

    def _check_date(self, date_line: _Line | None, body: list[_Line], kind: str | None, signature) -> None:
        if date_line is None:
            if body and kind != "纪要":  # a 纪要 is dated in its head or its first sentence
                anchor = signature or body[-1]
                self.add(
                    "date.missing",
                    _("未找到成文日期。成文日期应署在发文机关署名之下，用阿拉伯数字标全年、月、日，如“2025年7月1日”。"),
                    anchor,
                    0,
                    _short(anchor.text),
                    severity=WARNING,
                )
            return
        self._check_date_text(date_line, 0, date_line.text, _("成文日期"))

    # ------------------------------------------------------------------ 附件

    def _find_attachment_notes(self, start: int, end: int) -> tuple[list[dict], set[int]]:
        """The 附件说明 items (number, name, line) and the line numbers they take."""
        end = min(end, len(self.lines))
        for i in range(start, end):
            ln = self.lines[i]
            match = _ATTACHMENT_NOTE.match(ln.text)
            if not match:
                continue
            rest = match.group("rest")
            if not match.group("colon") and not _ITEM.match(rest.translate(_DIGITS) or "x"):
                continue  # a sentence starting with 附件, not the note
            if match.group("colon") == ":":
                colon_at = ln.text.index(":")
                self.add(
                    "attachment.colon",
                    _("附件说明中“附件”二字后应标全角冒号“：”。"),
                    ln,
                    colon_at,
                    _short(ln.text),
                    suggestion=ln.text.replace(":", "：", 1),
                )
            elif not match.group("colon"):
                self.add(
                    "attachment.colon",
                    _("附件说明中“附件”二字后缺少全角冒号“：”。"),
                    ln,
                    2,
                    _short(ln.text),
                )
            items: list[dict] = []
            taken = {ln.number}
            if rest:
                items.append({"line": ln, "offset": ln.text.index(rest), "text": rest})
            for follow in self.lines[i + 1 : end]:
                if not follow.text:
                    break
                if not _ITEM.match(follow.text.translate(_DIGITS)) or not follow.text.translate(_DIGITS)[0].isdigit():
                    break
                items.append({"line": follow, "offset": 0, "text": follow.text})
                taken.add(follow.number)
            return self._check_note_items(items), taken
        return [], set()

    def _check_note_items(self, items: list[dict]) -> list[dict]:
        notes = []
        several = len(items) > 1
        for position, item in enumerate(items, start=1):
            ln, offset, text = item["line"], item["offset"], item["text"]
            match = _ITEM.match(text.translate(_DIGITS))
            numbered = bool(match and text.translate(_DIGITS)[0].isdigit())
            name = match.group("name") if numbered else text
            number = int(match.group("n")) if numbered else None
            if several and not numbered:
                self.add(
                    "attachment.numbering",
                    _("有多个附件时，应使用阿拉伯数字标注附件顺序号，如“附件：1.××××”。"),
                    ln,
                    offset,
                    _short(text),
                )
            elif numbered and number != position:
                self.add(
                    "attachment.numbering",
                    _("附件顺序号不连续：第%(pos)s个附件应为“%(pos)s.”，实为“%(n)s”。")
                    % {"pos": position, "n": number},
                    ln,
                    offset,
                    _short(text),
                    suggestion=f"{position}.{name}",
                )
            if numbered and match.group("mark") not in (".", "．"):
                self.add(
                    "attachment.number_format",
                    _("附件顺序号应写作“%(n)s.”（阿拉伯数字后加下脚点），不能写作“%(wrong)s”。")
                    % {"n": number, "wrong": f"{number}{match.group('mark')}"},
                    ln,
                    offset,
                    _short(text),
                    suggestion=f"{number}.{name}",
                )
            if numbered and not several:
                self.add(
                    "attachment.single_numbered",
                    _("只有一个附件时不标注顺序号。"),
                    ln,
                    offset,
                    _short(text),
                    severity=WARNING,
                    suggestion=name,
                )
            if name and name[-1] in _TRAILING_PUNCT:
                self.add(
                    "attachment.trailing_punctuation",
                    _("附件名称后不加标点符号。"),
                    ln,
                    offset + len(text) - 1,
                    _short(text),
                    suggestion=name.rstrip(_TRAILING_PUNCT),
                )
            bare = name.rstrip(_TRAILING_PUNCT)
            if bare.startswith("《") and bare.endswith("》"):
                self.add(
                    "attachment.book_title_marks",
                    _("附件名称不加书名号。"),
                    ln,
                    offset,
                    _short(text),
                    severity=WARNING,
                    suggestion=bare[1:-1],
                )
                bare = bare[1:-1]
            notes.append({"number": number or position, "name": bare, "line": ln})
        return notes

    def _attachment_pages(self, start: int, end: int | None) -> list[dict]:
        """Attachment pages after the body: a line “附件1”, the attachment's title, its content."""
        end = len(self.lines) if end is None else min(end, len(self.lines))
        pages: list[dict] = []
        for i in range(start, end):
            ln = self.lines[i]
            if not ln.text:
                continue
            match = _ATTACHMENT_PAGE.match(ln.text)
            if match:
                number = match.group("n")
                pages.append(
                    {
                        "number": int(number.translate(_DIGITS)) if number else None,
                        "line": ln,
                        "title": None,
                        "lines": [],
                    }
                )
            elif pages and pages[-1]["title"] is None:
                pages[-1]["title"] = ln
            elif pages:
                pages[-1]["lines"].append(ln)
        return pages

    def _check_attachments(self, notes: list[dict], pages: list[dict], body: list[_Line]) -> None:
        # References in the body: “（附件2）”, “见附件”.
        refs = []
        for ln in body:
            for match in _ATTACHMENT_REF.finditer(ln.text):
                n = match.group("n")
                refs.append((ln, match.start(), int(n.translate(_DIGITS)) if n else None, match.group(0)))
        if refs and not notes and not pages:
            ln, offset, _n, excerpt = refs[0]
            self.add(
                "attachment.referenced_without_note",
                _("正文提到了附件，但正文之后没有附件说明（“附件：××××”）。"),
                ln,
                offset,
                excerpt,
            )
        if notes:
            for ln, offset, n, excerpt in refs:
                if n is not None and n > len(notes):
                    self.add(
                        "attachment.reference_out_of_range",
                        _("正文提到“%(ref)s”，但附件说明只列了%(count)s个附件。")
                        % {"ref": excerpt, "count": len(notes)},
                        ln,
                        offset,
                        excerpt,
                    )
        if pages and not notes:
            page = pages[0]
            self.add(
                "attachment.note_missing",
                _("公文带有附件，但正文之后缺少附件说明（“附件：1.××××”）。"),
                page["line"],
                0,
                page["line"].text,
            )
            return
        if not pages:
            return
        if len(pages) != len(notes):
            self.add(
                "attachment.count_mismatch",
                _("附件说明列了%(notes)s个附件，但公文后附了%(pages)s个附件。")
                % {"notes": len(notes), "pages": len(pages)},
                pages[0]["line"],
                0,
                pages[0]["line"].text,
            )
        by_number = {note["number"]: note for note in notes}
        for position, page in enumerate(pages, start=1):
            number = page["number"] or (1 if len(pages) == 1 else None)
            if number is None:
                self.add(
                    "attachment.page_number",
                    _("有多个附件时，附件页的“附件”二字后应标注顺序号，如“附件%(n)s”。") % {"n": position},
                    page["line"],
                    0,
                    page["line"].text,
                    suggestion=f"附件{position}",
                )
                number = position
            note = by_number.get(number)
            title = page["title"]
            if note is None or title is None:
                continue
            if _plain(title.text) != _plain(note["name"]):
                self.add(
                    "attachment.title_mismatch",
                    _("附件%(n)s的标题“%(title)s”与附件说明中的名称“%(name)s”不一致。")
                    % {"n": number, "title": title.text, "name": note["name"]},
                    title,
                    0,
                    title.text,
                    suggestion=note["name"],
                )

    # ------------------------------------------------------------------ 版记

    def _check_copy_block(self, start: int | None) -> None:
        if start is None:
            return
        for ln in self.lines[start:]:
            text = ln.text
            if text.startswith("抄送"):
                after = text[2:].lstrip(SPACES)
                if after.startswith(":"):
                    self.add(
                        "cc.colon",
                        _("“抄送”二字后应标全角冒号“：”。"),
                        ln,
                        text.index(":"),
                        _short(text),
                        suggestion="抄送：" + after[1:],
                    )
                elif not after.startswith("："):
                    self.add(
                        "cc.colon",
                        _("“抄送”二字后缺少全角冒号“：”。"),
                        ln,
                        2,
                        _short(text),
                        suggestion="抄送：" + after,
                    )
                if not text.endswith("。"):
                    self.add(
                        "cc.trailing_period",
                        _("最后一个抄送机关名称后标句号。"),
                        ln,
                        len(text) - 1,
                        _short(text),
                        suggestion="抄送：" + text[2:].lstrip(SPACES + ":：").rstrip(_TRAILING_PUNCT) + "。",
                    )
            elif text.endswith("印发"):
                folded = text.translate(_DIGITS)
                found = [m for m in (p.search(folded) for p in _DATE_FORMS) if m]
                if found:
                    match = min(found, key=lambda m: m.start())
                    self._check_date_text(
                        ln, match.start(), text[match.start() : match.end()], _("印发日期"), clause_of("date.printed")
                    )

    # ------------------------------------------------------------------ 请示

    def _check_signer(self, number_line: _Line | None, kind: str) -> None:
        # Without a 版头 (a text as published) there is no place for the 签发人 to be missing from.
        if number_line is None or self.signer:
            return
        header = [ln for ln in self.nonblank if ln.number <= number_line.number + 1]
        if any("签发人" in ln.text for ln in header):
            return
        self.add(
            "signer.missing",
            _("%(kind)s属上行文，应在发文字号右侧标注签发人姓名（“签发人：××”）。") % {"kind": kind},
            number_line,
            0,
            number_line.text,
            severity=WARNING,
        )

    def _check_request(self, addressee: _Line | None, anchor: _Line | None) -> None:
        if addressee is not None:
            names = [n for n in _ADDRESSEE_SPLIT.split(addressee.text.rstrip(_TRAILING_PUNCT + SPACES)) if n]
            if len(names) > 1:
                self.add(
                    "request.multiple_addressees",
                    _("请示应当一文一事，只主送一个上级机关（此处主送了%(n)s个机关：%(names)s），其他机关可抄送。")
                    % {"n": len(names), "names": "、".join(names)},
                    addressee,
                    0,
                    addressee.text,
                    severity=WARNING,
                )
        if not any("联系人" in ln.text for ln in self.nonblank):
            self.add(
                "request.contact_missing",
                _("请示应当在附注处（成文日期下一行）注明联系人和联系电话。"),
                anchor,
                0,
                _short(anchor.text) if anchor else "",
                severity=WARNING,
            )

    def _check_report(self, body: list[_Line]) -> None:
        for ln in body:
            match = _REQUEST_WORDS.search(ln.text)
            if match:
                self.add(
                    "report.contains_request",
                    _("报告中不得夹带请示事项（此处有“%(words)s”）；需要上级批准的事项应另行请示。")
                    % {"words": match.group(0)},
                    ln,
                    match.start(),
                    _short(ln.text),
                )

    # ------------------------------------------------------------------ 标点

    def _check_punctuation(self, lines: list[_Line]) -> None:
        """Half-width , ; : ? ! ( ) in Chinese text, outside document numbers, web addresses and headings."""
        for ln in lines:
            text = ln.text
            skip = [m.span() for m in _NUMBER.finditer(text)] + [m.span() for m in _LATIN_RUN.finditer(text)]
            heading = self._heading_of(text)
            if heading and heading[2]:
                skip.append((0, heading[3].end()))
            if ln is self.addressee:  # its closing colon is the addressee rule's
                skip.append((len(text) - 1, len(text)))
            for match in _HALF_PUNCT.finditer(text):
                k, mark = match.start(), match.group(0)
                if any(a <= k < b for a, b in skip):
                    continue
                before, after = text[k - 1 : k], text[k + 1 : k + 2]
                if mark in "(（":
                    chinese = _is_chinese(after) or _is_chinese(before)
                elif mark == ")":
                    chinese = _is_chinese(before) or _is_chinese(after)
                else:
                    chinese = _is_chinese(before) or (_is_chinese(after) and not before.isdigit())
                if not chinese:
                    continue
                full = _FULL_WIDTH[mark]
                self.add(
                    "punctuation.halfwidth",
                    _("中文行文中应使用全角标点“%(full)s”，不能用半角“%(half)s”。") % {"full": full, "half": mark},
                    ln,
                    k,
                    _short(text[max(0, k - 10) : k + 10]),
                    suggestion=full,
                )


def _sequence_findings(items: list[tuple]) -> list[tuple]:
    """The numbering findings of a run of headings ``(line, level, number)``: skipped levels, gaps,
    repeats and a level not starting at one, as ``(line, code, message, severity, suggestion)``."""
    out = []
    last: dict[int, int | None] = dict.fromkeys(range(1, 5))
    for ln, level, n in items:
        deepest = max((k for k, v in last.items() if v is not None), default=0)
        if level > deepest + 1 and not (deepest == 0 and level == 3):
            missing = level - 1
            out.append(
                (
                    ln,
                    "heading.skipped_level",
                    _("结构层次跳级：“%(marker)s”之前缺少第%(missing)s层“%(form)s”（层次依次为一、（一）1.（1））。")
                    % {"marker": _marker(level, n), "missing": int_to_cn(missing), "form": _LEVEL_FORM[missing]},
                    WARNING,
                    "",
                )
            )
        previous = last[level]
        expected = 1 if previous is None else previous + 1
        if n != expected:
            if previous is not None and n == previous:
                message = _("序号重复：“%(marker)s”已经用过。") % {"marker": _marker(level, n)}
                code = "heading.duplicate"
            elif previous is None:
                message = _("本层序号应从“%(first)s”开始，实为“%(marker)s”。") % {
                    "first": _marker(level, 1),
                    "marker": _marker(level, n),
                }
                code = "heading.first_number"
            else:
                message = _("序号不连续：“%(prev)s”之后应为“%(next)s”，实为“%(marker)s”。") % {
                    "prev": _marker(level, previous),
                    "next": _marker(level, expected),
                    "marker": _marker(level, n),
                }
                code = "heading.numbering"
            out.append((ln, code, message, ERROR, _marker(level, expected)))
        last[level] = n
        for deeper in range(level + 1, 5):
            last[deeper] = None
    return out


def _is_chinese(char: str) -> bool:
    return bool(char) and ("\u4e00" <= char <= "\u9fff" or char in "“”‘’《》、。，；：？！（）")


def _title_like(text: str) -> bool:
    return len(text) <= 80 and ("关于" in text or bool(_TITLE_END.search(text.rstrip(_TRAILING_PUNCT))))


def _is_date(text: str) -> bool:
    """Whether ``text`` is a date and nothing else (in any of the forms people write)."""
    compact = re.sub(f"[{SPACES}]", "", text).translate(_DIGITS)
    return any(p.fullmatch(compact) for p in _DATE_FORMS)


def _plain(text: str) -> str:
    return re.sub(rf"[{SPACES}《》]", "", text)


def _valid_date(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
    except ValueError:
        return False
    return True


def format_check(text: str, *, doc_type: str | None = None) -> list[Problem]:
    """Every deviation from GB/T 9704-2012 found in ``text``, in reading order (empty when none).

    ``doc_type`` (通知, 请示, 函 …) enables the checks particular to a kind of document; without it the
    kind is read from the end of the title.
    """
    return _Checker(text or "", doc_type).run()
