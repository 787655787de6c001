"""Find personal data in Chinese text: ID card, mobile, landline and bank card numbers, e-mail, plates, addresses.

Everything runs on a *folded* copy of the text in which full-width digits, letters and a few
punctuation marks are replaced by their ASCII forms one character for one character, so the
offsets found in the copy are offsets into the original text.

Numbers are found as *digit chains*: digit groups joined by single spaces or hyphens
("138 0013 8000", "6222-0212-3456-7890"). A number must consist of whole groups of a chain, so
digits inside a longer run of digits never match a shorter pattern; a number written in groups
is dropped when it is glued (by a space or hyphen) to a further group of three or more digits
that no other number accounts for ("130 1234 5678 9012" holds no mobile number).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

KINDS = ("id_card", "mobile", "landline", "bank_card", "email", "plate", "address")

# Labels of the masking placeholders (【手机号1】); defined here because placeholders are never detected.
PLACEHOLDER_LABELS = {
    "id_card": "身份证号",
    "mobile": "手机号",
    "landline": "固定电话",
    "bank_card": "银行卡号",
    "email": "邮箱",
    "plate": "车牌号",
    "address": "地址",
}
PLACEHOLDER_RE = re.compile("【(" + "|".join(PLACEHOLDER_LABELS.values()) + ")([0-9]{1,6})】")

# On findings of equal length, the kind with the stricter check wins.
_SPECIFICITY = {"id_card": 0, "bank_card": 1, "email": 2, "mobile": 3, "landline": 4, "plate": 5, "address": 6}


@dataclass(frozen=True)
class Finding:
    kind: str  # "id_card" | "mobile" | "landline" | "bank_card" | "email" | "plate" | "address"
    start: int  # offsets into the ORIGINAL text
    end: int
    text: str  # the original substring


# --------------------------------------------------------------------------- folding

_FOLD = {0xFF10 + i: ord("0") + i for i in range(10)}
_FOLD.update({0xFF21 + i: ord("A") + i for i in range(26)})
_FOLD.update({0xFF41 + i: ord("a") + i for i in range(26)})
_FOLD.update({ord(c): ord(" ") for c in "\u3000\u00a0\u2002\u2003\u2009\u202f"})
_FOLD.update({ord(c): ord("-") for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"})
_FOLD.update({ord(a): ord(b) for a, b in zip("＋（）＠．＿％", "+()@._%", strict=True)})


_FOLDABLE_RE = re.compile("[" + re.escape("".join(map(chr, _FOLD))) + "]")
_FOLD_CHARS = {chr(k): chr(v) for k, v in _FOLD.items()}


def fold_width(text: str) -> str:
    """Full-width digits, letters, spaces, hyphens and a few signs to ASCII; same length as ``text``."""
    # re.sub touches only the few characters to fold; str.translate would look up every character.
    return _FOLDABLE_RE.sub(lambda m: _FOLD_CHARS[m.group()], text)


def check_kinds(kinds: Iterable[str] | None) -> frozenset[str] | None:
    """The requested kinds as a set (None: all); unknown kinds are an error."""
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = [kinds]
    wanted = frozenset(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown personal-data kinds: {', '.join(sorted(unknown))}")
    return wanted


# --------------------------------------------------------------------------- checks

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# First two digits of the administrative division code (GB/T 2260): provinces, Taiwan, HK, Macao.
_ID_PROVINCES = frozenset(
    str(code)
    for code in (
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
        83,
    )
)


def id_check_char(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of an ID number."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _plausible_birth(year: int, month: int, day: int) -> bool:
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def valid_id_number(number: str) -> bool:
    """An 18-character ID number (region, birth date, check character) or a 15-digit legacy one."""
    number = number.upper()
    if len(number) == 18:
        if not (number[:17].isascii() and number[:17].isdigit()) or number[:2] not in _ID_PROVINCES:
            return False
        if not _plausible_birth(int(number[6:10]), int(number[10:12]), int(number[12:14])):
            return False
        return id_check_char(number[:17]) == number[17]
    if len(number) == 15 and number.isascii() and number.isdigit() and number[:2] in _ID_PROVINCES:
        # Legacy numbers were issued from 1984 on: nobody born 1900-1909 needs one, while 15-digit
        # registration numbers ("510100000123456": an authority's code, then zeros) read as such dates.
        return number[6] != "0" and _plausible_birth(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    return False


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Issuer prefixes: 3 (JCB, Amex), 4 (Visa), 5 (Mastercard), 6 (UnionPay: 62…), 9 (old domestic debit
# cards). Ticket and order numbers, which usually begin with a date (2025…), are left alone.
_CARD_FIRST_DIGITS = frozenset("34569")


def valid_bank_card(digits: str) -> bool:
    return 16 <= len(digits) <= 19 and digits[0] in _CARD_FIRST_DIGITS and len(set(digits)) > 2 and luhn_valid(digits)


_MOBILE_BODY = re.compile("1[3-9][0-9]{9}")
_MOBILE_SHAPES = frozenset({(11,), (3, 4, 4), (3, 8)})


def _mobile_ok(digits: str, shape: tuple[int, ...]) -> bool:
    for prefix in ("0086", "86", ""):
        if not digits.startswith(prefix) or not _MOBILE_BODY.fullmatch(digits, len(prefix)):
            continue
        if not prefix:
            body_shape = shape
        elif shape[0] == len(prefix):
            body_shape = shape[1:]
        elif len(shape) == 1:  # "8613800138000"
            body_shape = (11,)
        else:
            continue
        if body_shape in _MOBILE_SHAPES:
            return True
    return False


def _id_shape_ok(shape: tuple[int, ...]) -> bool:
    """One run, or up to five groups of 3+ characters of which the last may hold only two:
    6-8-4, 6-4-4-4, 3-3-4-4-4 and the 4-4-4-4-2 of card-style writing ("1101 0519 4912 3100 2X")."""
    return len(shape) == 1 or (len(shape) <= 5 and min(shape[:-1]) >= 3 and shape[-1] >= 2)


def _card_shape_ok(shape: tuple[int, ...]) -> bool:
    return len(shape) == 1 or (all(s == 4 for s in shape[:-1]) and 1 <= shape[-1] <= 4)


# --------------------------------------------------------------------------- numbers

# The look-behind comes after the first digit so that the regex engine can skip ahead to digits.
# (Decimals such as "13800138000.5" are dropped later, see _glued_to_more_digits.)
_CHAIN_RE = re.compile(r"[0-9](?<![0-9]{2})[0-9]*(?:[ \-][0-9]+)*(?:[Xx](?![A-Za-z])|(?![0-9]))")
_GROUP_RE = re.compile(r"[0-9]+")
_PLUS86_BEFORE = re.compile(r"(?:\(\+?86\)|\+86)[ \-]?$")

_AREA = r"(?:010|02[0-9]|0[3-9][0-9]{2})"
_LOCAL = r"(?:[1-9][0-9]{2,3}[ \-][0-9]{4}|[1-9][0-9]{6,7})"
_LANDLINE_RE = re.compile(
    rf"(?:\({_AREA}\)[ ]?|(?<![0-9]){_AREA}(?:[ ]?-[ ]?|[ ])?){_LOCAL}(?![0-9])"
    r"(?P<extension>[ ]?(?:-|转分机|转|分机|ext\.?|x)[ ]?[0-9]{1,6}(?![0-9]))?"
)

_MAX_NUMBER_DIGITS = 19
_MAX_GROUPS = 5  # "6222 0212 3456 7890 123", "+86 138 0013 8000"
_NUMBER_KINDS = frozenset({"id_card", "mobile", "landline", "bank_card"})


def _chain_numbers(n: str, out: list[tuple[int, int, str]]) -> None:
    for chain in _CHAIN_RE.finditer(n):
        if chain.end() - chain.start() < 11:  # no number here is shorter than a mobile number
            continue
        groups = [g.span() for g in _GROUP_RE.finditer(n, chain.start(), chain.end())]
        has_x = n[chain.end() - 1] in "Xx"
        for i in range(len(groups)):
            digits = ""
            shape: list[int] = []
            start = groups[i][0]
            for j in range(i, min(i + _MAX_GROUPS, len(groups))):
                gs, ge = groups[j]
                digits += n[gs:ge]
                shape.append(ge - gs)
                if len(digits) > _MAX_NUMBER_DIGITS:
                    break
                if has_x and j == len(groups) - 1:
                    x_shape = (*shape[:-1], shape[-1] + 1)
                    if len(digits) == 17 and _id_shape_ok(x_shape) and valid_id_number(digits + "X"):
                        out.append((start, ge + 1, "id_card"))
                if len(digits) >= 11:
                    _classify(n, digits, tuple(shape), start, ge, out)


def _classify(n: str, digits: str, shape: tuple[int, ...], start: int, end: int, out: list) -> None:
    size = len(digits)
    if size in (15, 18) and _id_shape_ok(shape) and valid_id_number(digits):
        out.append((start, end, "id_card"))
    if 16 <= size <= 19 and _card_shape_ok(shape) and valid_bank_card(digits):
        out.append((start, end, "bank_card"))
    if size in (11, 13, 15) and _mobile_ok(digits, shape):
        if size > 11:
            if start and n[start - 1] == "+":
                start -= 1
        else:
            before = _PLUS86_BEFORE.search(n, max(0, start - 7), start)
            if before:
                start = before.start()
        out.append((start, end, "mobile"))


def _digit_run_len(n: str, end: int, step: int) -> int:
    """Length of the run of digits starting at ``end`` and going in direction ``step``."""
    count, i = 0, end
    while 0 <= i < len(n) and "0" <= n[i] <= "9":
        count += 1
        i += step
    return count


def _glued_to_more_digits(n: str, start: int, end: int, grouped: bool, starts: set[int], ends: set[int]) -> bool:
    """Part of a longer number: "5.13800138000" (a decimal), or a grouped number followed or preceded,
    via one space or hyphen, by a further group of 3+ digits ("130 1234 5678 9012") -- unless that
    neighbour is accounted for by another finding ("138 0013 8000 139 0013 9000")."""
    glue = " -." if grouped else "."
    if start >= 2 and n[start - 1] in glue and (start - 1) not in ends:
        run = _digit_run_len(n, start - 2, -1)
        if run >= 3 or (run and n[start - 1] == "."):
            return True
    if end + 1 < len(n) and n[end] in glue and (end + 1) not in starts:
        run = _digit_run_len(n, end + 1, 1)
        if run >= 3 or (run and n[end] == "."):
            return True
    return False


# A number written right after an account label is a bank account whatever its checksum: passbook and
# corporate account numbers (12-23 digits) carry no Luhn digit, and a label says what the number is.
_ACCOUNT_RE = re.compile(
    "(?:银行卡|卡号|账号|帐号|账户|帐户|存折|借记卡|信用卡)(?:号码|号)?[ ]?[:：为是]?[ ]?"
    # Groups of four (the last may be shorter), or one run; either must end the digit chain.
    r"(?P<number>[0-9]{4}(?:[ \-][0-9]{4}){2,4}(?:[ \-][0-9]{1,4})?|[0-9]{12,23})(?![ \-]?[0-9])"
)


def _labelled_accounts(n: str, out: list[tuple[int, int, str]]) -> None:
    for m in _ACCOUNT_RE.finditer(n):
        digits = re.sub("[ -]", "", m.group("number"))
        if 12 <= len(digits) <= 23 and len(set(digits)) > 2:
            out.append((m.start("number"), m.end("number"), "bank_card"))


def _number_candidates(n: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    _chain_numbers(n, found)
    _labelled_accounts(n, found)
    for m in _LANDLINE_RE.finditer(n):
        found.append((m.start(), m.end(), "landline"))
        if m.group("extension"):  # also without it, should something longer claim the extension
            found.append((m.start(), m.start("extension"), "landline"))
    return found


# A number right after one of these labels is a code, not a phone number ("发票代码044031900111",
# "工号01012345678", "订单号13800138000"). "号码" alone is no such label: "联系号码010-12345678".
_CODE_LABEL_RE = re.compile(
    "(?:代码|编码|编号|字号|单号|工号|税号|票号|发票号码|流水号|案号|文号|批号|序号|账号|帐号|卡号|证号|登记号"
    "|合同号|凭证号|识别号|学号|货号|条码|批次号|型号|备案号|许可证号|注册号)[ ]?[:：为是]?[ ]?"
    # ... or a list of codes after such a label: "发票代码044031900111、044031900112".
    "(?:[0-9A-Za-z\\-]{4,30}[ ]?[、/][ ]?){0,5}$"
)
_PHONE_KINDS = frozenset({"mobile", "landline"})
_AMOUNT_AFTER = frozenset("元万亿%")
_AMOUNT_BEFORE = frozenset("¥￥$")


# ... and after these no ID number either (a 15-digit business registration number looks like a legacy ID).
_REGISTRATION_LABEL_RE = re.compile("(?:注册号|注册码|登记号|代码|编码|税号|识别号|编号)[ ]?[:：为是]?[ ]?$")


def _after_code_label(n: str, start: int, kind: str) -> bool:
    label = _CODE_LABEL_RE if kind in _PHONE_KINDS else _REGISTRATION_LABEL_RE
    return label.search(n, max(0, start - 8 if label is _REGISTRATION_LABEL_RE else start - 200), start) is not None


def _drop_glued(n: str, candidates: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Drop numbers that are part of longer ones and plates followed by more letters or digits,
    unless what follows (or precedes) is another candidate."""
    starts = {s for s, _, _ in candidates}
    ends = {e for _, e, _ in candidates}
    kept = []
    for s, e, kind in candidates:
        if kind in _NUMBER_KINDS and _glued_to_more_digits(n, s, e, _is_grouped(n[s:e]), starts, ends):
            continue
        if kind in _PHONE_KINDS | {"id_card"} and _after_code_label(n, s, kind):
            continue
        if kind in _NUMBER_KINDS and (n[e : e + 1] in _AMOUNT_AFTER or n[s - 1 : s] in _AMOUNT_BEFORE):
            continue  # an amount of money or a share: "13800138000元", "￥6222021234567890"
        if kind == "plate" and e < len(n) and _is_alnum(n[e]) and _is_alnum(n[e - 1]) and e not in starts:
            continue
        kept.append((s, e, kind))
    return kept


def _is_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _is_grouped(number: str) -> bool:
    return any(c in " -" for c in number.lstrip("+(").replace(")", ""))


# --------------------------------------------------------------------------- e-mail and plates

# No look-behind: an e-mail address starts wherever its run of name characters does, whatever comes
# before it (a number, a placeholder), so that masking a neighbour never changes what is an address.
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z\-])"
)

_PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_RE = re.compile(rf"[{_PLATE_PROVINCES}][ ]?[A-Z][·•・‧.\- ]?(?=[A-Z0-9]{{4}})")
_PLATE_SERIAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_PLATE_SUFFIXES = frozenset("挂学警港澳领试超使")


def _plates(n: str) -> list[tuple[int, int, str]]:
    """Plates with a 5- or 6-character serial, or 4 characters and 挂/学/警/港/...; each possible length is
    a candidate (one followed by more letters or digits is dropped later unless a number starts there)."""
    out = []
    for m in _PLATE_RE.finditer(n):
        serial = m.end()
        for end in (serial + 5, serial + 6):
            # A plate's serial has at most two letters (ordinary) or one or two (new energy): 3+ digits.
            chars = n[serial:end]
            if len(chars) == end - serial and _PLATE_SERIAL.issuperset(chars) and sum(c.isdigit() for c in chars) >= 3:
                out.append((m.start(), end, "plate"))
        if n[serial + 4 : serial + 5] in _PLATE_SUFFIXES and sum(c.isdigit() for c in n[serial : serial + 4]) >= 3:
            out.append((m.start(), serial + 5, "plate"))
    return out


# --------------------------------------------------------------------------- addresses

# A road, street, lane, village or housing estate, directly followed by a number. A road may come in
# sections ("人民南路四段", "天府大道北段", "东大街紫东楼段"): the section belongs to the marker.
_ADDRESS_MARKS = (
    "(?:大街|大道|街|路)[\u4e00-\u9fff]{0,3}?段"
    "|大街|大道|胡同|社区|小区|新村|花园|家园|公寓|大院|巷子|街|路|巷|弄|村|苑|庄|屯"
    "|道(?<![知通频渠报赛跑轨管隧]道)|里(?<![这那哪公英千万心]里)|园(?<![公校乐田菜茶儿陵墓物植])"
)
# "蜀汉路东289号": a side of the road before the number.
_SIDE = r"(?:[东西南北](?=[0-9]))?"
# A phase or zone of an estate ("翠苑三区", "阳光花园二期").
_PHASE = r"(?:(?:[0-9一二三四五六七八九十]{1,3}|[A-Z])[期区])?"
_NUM = r"(?:[0-9]{1,5}(?:-[0-9]{1,5})*|[零〇一二三四五六七八九十百两]{1,4}|[A-Z])"
# "户" only after a unit or floor ("2单元3户"): "贫困村100户" counts households.
_UNIT = (
    _NUM
    + "(?:号院|号楼|号|支弄|弄|组|队|栋|幢|座|单元|门|层|楼(?![上下梯道顶])|室|(?:(?<=[元层楼][0-9])|(?<=[元层楼][0-9]{2}))户)"
)
# A bare room number after a building or unit ("2单元501"), or "18号3-2-501".
_BARE = (
    r"(?:(?:(?<=单元)|(?<=[栋幢楼座门]))[0-9]{2,5}(?![0-9A-Za-z年月日时分秒元万千百人个次岁天周%])"
    r"|(?<=号)[0-9]{1,4}(?:-[0-9]{1,4}){1,3}(?![0-9A-Za-z\-]))"
)
_ADDRESS_RE = re.compile(rf"(?:{_ADDRESS_MARKS}){_SIDE}{_PHASE}(?:{_UNIT})+(?P<bare>{_BARE})?")
# After the house number: an estate, building or tower name and its own numbers
# ("401号翠苑三区23栋1807室", "16号金域华府16号楼", "18号SOHO现代城5号楼2201", "65号附3号"). The name has
# no function word in it, so that a sentence going on after the address is not taken for one.
_TAIL_NAME = r"(?:(?![的了是在于与和及或被把将对向从给让有为称等并但而因要请已经至到])[\u4e00-\u9fffA-Za-z]){0,12}?"
_TAIL_RE = re.compile(rf"{_TAIL_NAME}{_PHASE}(?:{_UNIT})+(?:{_BARE})?")

# What comes before the road: administrative units and further roads/estates, each with a short name.
_PREFIX_UNIT_RE = re.compile(
    "特别行政区|自治区|自治州|自治县|自治旗|街道|大街|大道|胡同|社区|小区|新村|花园|家园|公寓|大院"
    "|省|市|区|县|旗|盟|镇|乡|街|路|道|巷|弄|里|村|苑|庄|屯|段"
)
# Words that end the text before an address ("家住", "反映", "的").
_STOP_RE = re.compile(
    "居住在|居住于|坐落于|坐落在|住址为|住址是|地址为|地址是|户籍地|家住|住在|居住|现住|住址|地址|地点|住所|位于|地处"
    "|户籍|籍贯|来自|反映|投诉|举报|表示|诉求|咨询|来电|市民|群众|居民|业主|租户|称|在|到|至|往|去|是|为|的|了|其|及|或|与|址|住"
    "|于(?!都县)|对|请"
)
# A name ending in a province's name keeps the whole province name (the earliest start wins: the longest).
_PROVINCE_AT_END = re.compile(
    "(?:北京|天津|上海|重庆|河北|山西|内蒙古|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东"
    "|广西壮族|广西|海南|四川|贵州|云南|西藏|陕西|甘肃|青海|宁夏回族|宁夏|新疆维吾尔|新疆|台湾|香港|澳门)$"
)
_MAX_PREFIX = 40  # characters looked at before the road
_MAX_UNIT_NAME = 4  # characters of an administrative unit's or road's name before its marker


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or ch == "〇"


def _name_len(name: str, road: bool) -> int:
    """How much of an over-long name to keep: a province name, "中山东" before a road, else two characters."""
    province = _PROVINCE_AT_END.search(name)
    if province:
        return len(province.group())
    if road and len(name) >= 3 and name[-1] in "东西南北中":
        return 3
    return min(2, len(name))


def _address_start(n: str, mark: int, floor: int, barriers: set[int]) -> int:
    """Where the address whose road marker is at ``mark`` begins (not before ``floor`` nor a barrier)."""
    i = mark
    lowest = max(floor, mark - _MAX_PREFIX)
    while i > lowest and _is_cjk(n[i - 1]) and i not in barriers:
        i -= 1
    last_stop = None
    for last_stop in _STOP_RE.finditer(n, i, mark):  # noqa: B007 - the last one counts
        pass
    if last_stop is not None:
        i = last_stop.end()
    seg = n[i:mark]
    units: list[tuple[int, int]] = []
    for unit in _PREFIX_UNIT_RE.finditer(seg):
        # A marker with no name before it ("市" of "市民", "市" of "区市府路") is an ordinary character.
        if unit.start() != (units[-1][1] if units else 0):
            units.append(unit.span())
    road = seg[units[-1][1] :] if units else seg
    if len(road) > (_MAX_UNIT_NAME + 2 if units else _MAX_UNIT_NAME):
        return mark - _name_len(road, road=True)
    start = units[-1][1] if units else 0
    for k in range(len(units) - 1, -1, -1):
        name_start = units[k - 1][1] if k else 0
        name = seg[name_start : units[k][0]]
        if len(name) <= _MAX_UNIT_NAME or _name_len(name, road=False) == len(name):
            start = name_start
        else:
            start = units[k][0] - _name_len(name, road=False)
            break
    return i + start


def _addresses(n: str, barriers: set[int]) -> list[tuple[int, int, str]]:
    """Addresses; ``barriers`` are the ends of other findings ("粤Z1234港人民路18号"), which an address never crosses."""
    out: list[tuple[int, int, str]] = []
    without_bare_number: list[tuple[int, int, str]] = []  # in case something longer claims "501" of "2单元501"
    for m in _ADDRESS_RE.finditer(n):
        floor = out[-1][1] if out else 0
        start = _address_start(n, m.start(), floor, barriers)
        if start >= m.start():
            continue  # a marker without a name ("，路18号")
        if out and start == floor:
            start = out.pop()[0]  # "人民路18号阳光小区3栋": one address
        end = m.end()
        while tail := _TAIL_RE.match(n, end):
            end = tail.end()
        out.append((start, end, "address"))
        if m.group("bare"):
            without_bare_number.append((start, m.start("bare"), "address"))
    return out + without_bare_number


# An address given after a label needs no house number: "家住某某县某某镇某某村", "户籍地：某某市某某区某某街道".
_PLACE_LABEL_RE = re.compile(
    "(?:家住|现住|暂住|住址|住所地|住所|户籍地址|户籍所在地|户籍地|户籍|居住地|居住在|居住于|现居住地|现居住|现居|"
    "送达地址|通讯地址|通信地址|联系地址|家庭住址|家庭地址|经常居住地|原住|原籍|籍贯)"
    "(?:[为是在于]|[:：])?[ ]?"
)
_PLACE_RUN_RE = re.compile(r"[\u4e00-\u9fff0-9A-Za-z\-]{2,60}")
# Where the sentence goes on after the place.
_PLACE_BREAK_RE = re.compile(
    "反映|投诉|举报|来电|来信|来访|表示|要求|希望|请求|因为|由于|附近|门口|门前|旁边|对面|楼下|楼上|一带|周边"
    "|[称因的在于与和及被向对从给有是了现今已]"
)
_PLACE_END_RE = re.compile(
    "(?:特别行政区|自治区|自治州|自治县|街道|社区|小区|新村|花园|家园|公寓|大院|大厦|单元"
    "|[省市区县旗镇乡村组号室楼层栋幢座院弄巷路街屯庄苑园里队])"
)
# Enough to be an address: a place below a city, or two administrative units.
_PLACE_FINE_RE = re.compile("街道|社区|小区|新村|单元|[镇乡村组号室楼栋幢弄巷路街屯苑]")
_PLACE_UNIT_RE = re.compile("[省市区县旗]")


def _labelled_places(n: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out = []
    starts = sorted(s for s, _, _ in spans)
    for label in _PLACE_LABEL_RE.finditer(n):
        run = _PLACE_RUN_RE.match(n, label.end())
        if run is None:
            continue
        start, end = run.span()
        k = bisect.bisect_left(starts, start)
        if k < len(starts) and starts[k] < end:
            end = starts[k]  # a phone number or ID glued to the place
        stop = _PLACE_BREAK_RE.search(n, start + 1, end)
        if stop:
            end = stop.start()
        last = None
        for last in _PLACE_END_RE.finditer(n, start, end):  # noqa: B007 - the last one counts
            pass
        if last is None or last.end() - start < 3:
            continue
        place = n[start : last.end()]
        if _PLACE_FINE_RE.search(place) or len(_PLACE_UNIT_RE.findall(place)) >= 2:
            out.append((start, last.end(), "address"))
    return out


# --------------------------------------------------------------------------- all together


def _without_overlaps(candidates: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    candidates.sort(key=lambda c: (c[0] - c[1], _SPECIFICITY[c[2]], c[0]))
    starts: list[int] = []  # kept intervals, sorted by start
    ends: list[int] = []
    kept = []
    for s, e, kind in candidates:
        k = bisect.bisect_right(starts, s)
        if k and ends[k - 1] > s:
            continue
        if k < len(starts) and starts[k] < e:
            continue
        starts.insert(k, s)
        ends.insert(k, e)
        kept.append((s, e, kind))
    kept.sort()
    return kept


def _inside_placeholder(candidate: tuple[int, int, str], placeholders: list[tuple[int, int]]) -> bool:
    k = bisect.bisect_left(placeholders, (candidate[1],))  # placeholders starting before the candidate ends
    return k > 0 and placeholders[k - 1][1] > candidate[0]


def find_personal_data(text: str, kinds: Iterable[str] | None = None) -> list[Finding]:
    """All findings, non-overlapping (on overlap prefer the longer, then the more specific kind), sorted by start."""
    wanted = check_kinds(kinds)
    if not text:
        return []
    n = fold_width(text)
    # Every kind is looked for, whatever ``kinds`` says: what one kind accounts for decides about another.
    candidates = _number_candidates(n)
    if "@" in n:
        candidates.extend((m.start(), m.end(), "email") for m in _EMAIL_RE.finditer(n))
    candidates.extend(_plates(n))
    candidates.extend(_addresses(n, {e for _, e, _ in candidates}))
    candidates.extend(_labelled_places(n, candidates))
    candidates = _drop_glued(n, candidates)
    if wanted is not None:
        candidates = [c for c in candidates if c[2] in wanted]
    placeholders = [m.span() for m in PLACEHOLDER_RE.finditer(n)]
    if placeholders:
        candidates = [c for c in candidates if not _inside_placeholder(c, placeholders)]
    return [Finding(kind, s, e, text[s:e]) for s, e, kind in _without_overlaps(candidates)]
