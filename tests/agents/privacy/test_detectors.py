"""Personal-data detection: every kind, its separators and full-width forms, and the look-alikes it must skip.

All numbers are made up here: ID numbers get their GB 11643-1999 check character and card
numbers their Luhn digit computed below, independently of the code under test.
"""

import itertools

import pytest

from agents.privacy.detectors import KINDS, PLACEHOLDER_LABELS, Finding, find_personal_data

# --------------------------------------------------------------------------- test data


def id_check(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def make_id(region: str = "110101", birth: str = "19900307", seq: str = "002") -> str:
    first17 = region + birth + seq
    return first17 + id_check(first17)


def wrong_check(number: str) -> str:
    """The same ID number with a wrong check character."""
    return number[:17] + next(c for c in "0123456789X" if c != number[17])


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def make_card(prefix: str = "622202", length: int = 16) -> str:
    body = (prefix + "3141592653589793238")[: length - 1]
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def bad_card(number: str) -> str:
    """The same card number with a wrong last digit."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" or "A" <= c <= "Z" else c for c in text)


def grouped(number: str, sizes, sep=" ") -> str:
    parts, pos = [], 0
    for size in sizes:
        parts.append(number[pos : pos + size])
        pos += size
    return sep.join(parts)


ID = make_id()  # ends in X
ID_DIGIT = make_id(seq="001")  # ends in a digit
ID_X = next(make_id(seq=f"{n:03d}") for n in range(1000) if make_id(seq=f"{n:03d}").endswith("X"))
ID15 = "110101900307123"  # legacy: region, YYMMDD, sequence; no check character
CARD16 = make_card("622202", 16)
CARD19 = make_card("6217000010", 19)


def found(text, kinds=None):
    return [(f.kind, f.text) for f in find_personal_data(text, kinds)]


def kinds_found(text):
    return [f.kind for f in find_personal_data(text)]


# --------------------------------------------------------------------------- the finding itself


def test_findings_carry_offsets_into_the_original_text():
    text = f"张某，身份证号{fullwidth(ID)}，电话１３８ ００１３ ８０００。"
    findings = find_personal_data(text)
    assert [f.kind for f in findings] == ["id_card", "mobile"]
    for f in findings:
        assert isinstance(f, Finding)
        assert text[f.start : f.end] == f.text
    assert findings[0].text == fullwidth(ID)
    assert findings[1].text == "１３８ ００１３ ８０００"


def test_empty_and_plain_text():
    assert find_personal_data("") == []
    assert find_personal_data("今天天气不错，请按时参加会议。") == []


def test_finding_is_frozen():
    f = find_personal_data("电话13800138000")[0]
    with pytest.raises(AttributeError):
        f.start = 0


# --------------------------------------------------------------------------- ID cards


def test_test_data_is_what_it_claims():
    assert len(ID) == 18 and ID.endswith("X") and ID_X.endswith("X") and ID_DIGIT[-1].isdigit()
    assert luhn_ok(CARD16) and len(CARD16) == 16
    assert luhn_ok(CARD19) and len(CARD19) == 19
    assert not luhn_ok(bad_card(CARD16))


@pytest.mark.parametrize(
    "written",
    [
        ID,
        ID_X,
        ID_X[:-1] + "x",
        fullwidth(ID_X),
        grouped(ID, (6, 8, 4)),
        grouped(ID, (6, 8, 4), "-"),
        grouped(ID, (6, 4, 4, 4)),
        grouped(ID_X, (6, 8, 4)),
        ID15,
        grouped(ID15, (6, 6, 3)),
        fullwidth(grouped(ID, (6, 8, 4))),
    ],
)
def test_id_numbers_in_their_usual_forms(written):
    assert found(f"身份证号码：{written}，已核实。") == [("id_card", written)]


def test_id_numbers_next_to_chinese_text_and_at_the_edges():
    assert found(ID) == [("id_card", ID)]
    assert found(f"身份证{ID}号") == [("id_card", ID)]
    # The check character X ends the number: digits after it are something else.
    assert found(f"{ID_X}010-12345678") == [("id_card", ID_X), ("landline", "010-12345678")]


@pytest.mark.parametrize(
    "text",
    [
        wrong_check(ID),  # wrong check character
        wrong_check(ID_X),
        make_id(birth="19901332")[:17] + "0",  # no such date
        make_id(birth="19901332"),  # right check character, impossible date
        make_id(birth="18890101"),  # too old
        make_id(birth="20990101"),  # not born yet
        make_id(region="990101"),  # no such province
        "1" + ID_DIGIT,  # 19 digits: the ID is inside a longer run
        ID_DIGIT + "5",
        "12" + ID_DIGIT + "34",
        "1" + ID,
        "110101991332123",  # 15 digits, impossible date
        "000000000000000",
    ],
)
def test_not_id_numbers(text):
    assert "id_card" not in kinds_found(f"编号{text}。")


def test_valid_id_that_is_also_luhn_valid_counts_as_id():
    numbers = (make_id(seq=f"{n:03d}") for n in range(1000))
    both = next(number for number in numbers if number.isdigit() and luhn_ok(number))
    assert found(f"证件号{both}") == [("id_card", both)]


# --------------------------------------------------------------------------- mobile numbers


@pytest.mark.parametrize(
    "written",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "138-00138000",
        "+8613800138000",
        "+86 13800138000",
        "+86-138-0013-8000",
        "+86 138 0013 8000",
        "0086 13800138000",
        "008613800138000",
        "86 13800138000",
        "8613800138000",
        "(+86)13800138000",
        "(+86) 138 0013 8000",
        "１３８００１３８０００",
        "＋８６ １３８ ００１３ ８０００",
        "19912345678",
        "166-1234-5678",
    ],
)
def test_mobile_numbers_in_their_usual_forms(written):
    assert found(f"联系电话：{written}，工作日可联系。") == [("mobile", written)]
    assert found(f"电话{written}") == [("mobile", written)]


@pytest.mark.parametrize(
    "text",
    [
        "12800138000",  # no mobile network starts with 12
        "1380013800",  # ten digits
        "138001380001",  # twelve digits
        "2138001380001",  # inside a longer run
        "GD20251123138001380001",  # ticket number with a phone-like middle
        "1380 013 8000",  # not the 3-4-4 grouping
        "130 1234 5678 9012",  # a longer grouped number, not a phone
        "13800138000.25",  # a decimal number
        "6.13800138000",
    ],
)
def test_not_mobile_numbers(text):
    assert "mobile" not in kinds_found(f"数值{text}。")


def test_several_mobiles_in_a_row():
    assert found("138 0013 8000 139 0013 9000") == [("mobile", "138 0013 8000"), ("mobile", "139 0013 9000")]
    assert found("13800138000、13900139000/15912345678") == [
        ("mobile", "13800138000"),
        ("mobile", "13900139000"),
        ("mobile", "15912345678"),
    ]


def test_grouped_mobile_next_to_a_short_number_still_counts():
    assert found("2026-11-23 138 0013 8000") == [("mobile", "138 0013 8000")]
    assert found("于2026-11-23 13800138000来电") == [("mobile", "13800138000")]


# --------------------------------------------------------------------------- landlines


@pytest.mark.parametrize(
    "written",
    [
        "010-12345678",
        "(010)12345678",
        "（010）12345678",
        "(010) 12345678",
        "010 12345678",
        "01012345678",
        "021-62345678",
        "0755-86013388",
        "0755-8601 3388",
        "0755 8601-3388",
        "0571-8765432",
        "010-12345678-8001",
        "010-12345678转8001",
        "010-12345678 转 8001",
        "０１０－１２３４５６７８",
        "（０１０）１２３４５６７８",
    ],
)
def test_landlines_in_their_usual_forms(written):
    assert found(f"办公电话：{written}。") == [("landline", written)]
    assert found(f"电话{written}咨询") == [("landline", written)]


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23",
        "010-123456",  # local number too short
        "010-123456789",  # too long
        "12010-12345678",  # inside a longer run
        "0010-12345678",  # no such area code
        "（2025）12345678",
        "400-800-8888",  # service number without area code
    ],
)
def test_not_landlines(text):
    assert "landline" not in kinds_found(f"内容{text}。")


# --------------------------------------------------------------------------- bank cards


@pytest.mark.parametrize(
    "written",
    [
        CARD16,
        CARD19,
        make_card("4", 16),
        make_card("5", 16),
        make_card("62", 17),
        make_card("95599", 19),
        grouped(CARD16, (4, 4, 4, 4)),
        grouped(CARD16, (4, 4, 4, 4), "-"),
        grouped(CARD19, (4, 4, 4, 4, 3)),
        fullwidth(CARD16),
        fullwidth(grouped(CARD19, (4, 4, 4, 4, 3))),
    ],
)
def test_bank_cards_in_their_usual_forms(written):
    assert found(f"退款至银行卡{written}，请查收。") == [("bank_card", written)]


@pytest.mark.parametrize(
    "text",
    [
        bad_card(CARD16),  # Luhn-invalid
        bad_card(CARD19),
        grouped(bad_card(CARD16), (4, 4, 4, 4)),
        make_card("622202", 15),  # too short
        make_card("622202", 20),  # too long
        "1" + CARD16,  # inside a longer run
        CARD16 + "12",
        "0000000000000000",
        "4444444444444448",
        make_card("2025112300", 16),  # a date-based ticket number that happens to pass Luhn
        grouped(CARD16, (4, 4, 4, 4)) + " 1234",  # a longer grouped number
    ],
)
def test_not_bank_cards(text):
    assert "bank_card" not in kinds_found(f"号码{text}。")


def test_grouped_card_followed_by_a_phone_keeps_both():
    text = f"卡号{grouped(CARD16, (4, 4, 4, 4))} 138 0013 8000"
    assert found(text) == [("bank_card", grouped(CARD16, (4, 4, 4, 4))), ("mobile", "138 0013 8000")]


# --------------------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    "written",
    [
        "zhangsan@example.com",
        "Zhang.San+12345@mail.example.gov.cn",
        "li_si-2025@example.org",
        "13800138000@example.com",
        "ｚｈａｎｇｓａｎ＠ｅｘａｍｐｌｅ．ｃｏｍ",
    ],
)
def test_email_addresses(written):
    assert found(f"邮箱{written}。") == [("email", written)]
    assert found(f"请发送至 {written} ，谢谢") == [("email", written)]


@pytest.mark.parametrize("text", ["@张三", "zhangsan@", "zhangsan@localhost", "a@b.c", "user at example.com"])
def test_not_email_addresses(text):
    assert "email" not in kinds_found(f"联系{text}。")


# --------------------------------------------------------------------------- plates


@pytest.mark.parametrize(
    "written",
    [
        "京A12345",
        "沪A·12345",
        "粤B·D12345",
        "粤BD12345",
        "苏E05EV8",
        "浙A 12345",
        "川A-1234F",
        "粤Z1234港",
        "京A1234警",
        "京Ａ１２３４５",
    ],
)
def test_licence_plates(written):
    assert found(f"车牌号{written}的车辆停放在路边。") == [("plate", written)]
    assert found(written) == [("plate", written)]


@pytest.mark.parametrize(
    "text",
    [
        "京A1234",  # too short
        "京A1234567",  # too long
        "美A12345",  # not a province
        "京ABCDE1",  # at most two letters
        "新ABC",
        "京a12345",
    ],
)
def test_not_licence_plates(text):
    assert "plate" not in kinds_found(f"内容{text}。")


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("示范区人民路18号3栋2单元501室", "示范区人民路18号3栋2单元501室"),
        ("家住示范区人民路18号3栋2单元501室，", "示范区人民路18号3栋2单元501室"),
        ("户籍地为某某县某某镇某某村5组12号。", "某某县某某镇某某村5组12号"),
        ("公司位于北京市朝阳区建国路88号。", "北京市朝阳区建国路88号"),
        ("投诉人反映北京市朝阳区建国路88号噪音扰民", "北京市朝阳区建国路88号"),
        ("市民来电反映示范区人民路18号门前积水", "示范区人民路18号"),
        ("地址：人民路18号", "人民路18号"),
        ("其居住的中山东路1-2号", "中山东路1-2号"),
        ("住在示范区市府路8号院3号楼2单元502", "示范区市府路8号院3号楼2单元502"),
        ("住址：示范区人民路18号3-2-501。", "示范区人民路18号3-2-501"),
        ("家住阳光小区3栋2单元501室", "阳光小区3栋2单元501室"),
        ("现住示范区人民路阳光花园5幢1201室", "示范区人民路阳光花园5幢1201室"),
        ("住某某镇某某村三组", "某某镇某某村三组"),
        ("住址为广东省深圳市南山区科技南路１８号", "广东省深圳市南山区科技南路１８号"),
        ("新疆维吾尔自治区某某市某某路6号", "新疆维吾尔自治区某某市某某路6号"),
        ("上海市某某区某某路100弄5号602室", "上海市某某区某某路100弄5号602室"),
    ],
)
def test_street_level_addresses(text, address):
    assert found(text) == [("address", address)]


@pytest.mark.parametrize(
    "text",
    [
        "示范区",
        "北京市朝阳区",
        "请到示范区政务服务中心办理。",
        "示范区人民路改造工程已完工。",
        "关于印发《示范区就业补助资金管理办法》的通知（示人社发〔2025〕12号）",
        "国务院令第588号",
        "2025年11月18号前提交",
        "第3组讨论",
        "这里3号楼",
        "渠道5号文件",
    ],
)
def test_not_addresses(text):
    assert "address" not in kinds_found(text)


def test_two_addresses_in_one_sentence():
    text = "住在示范区人民路18号，单位在示范区解放路20号。"
    assert found(text) == [("address", "示范区人民路18号"), ("address", "示范区解放路20号")]


# --------------------------------------------------------------------------- look-alikes and mixtures

POLICY_ARTICLE = (
    "第十二条　县级以上人民政府人力资源社会保障部门负责本行政区域内的就业补助资金管理工作。"
    "依据《示范区就业补助资金管理办法》（示人社发〔2025〕12号）第三条、第五条，"
    "对符合条件的人员按每人每月300元标准给予补贴，补贴期限不超过36个月，资金总额30000元，"
    "申请截止日期为2026-11-23，受理时间为9:00-17:00，咨询热线12345，统计数据截至2025年11月23日。"
    "项目编号20251123000012345678，预算金额1,380,013,800.00元，合同号HT-2025-0012。"
)


def test_no_false_positives_in_policy_text():
    assert find_personal_data(POLICY_ARTICLE) == []


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23",
        "2026/11/23 08:30",
        "30000元",
        "人民币138,001,380.00元",
        "示人社发〔2025〕12号",
        "粤府办〔2024〕3号",
        "12345678901234567890123",
        "13800138000138001380001",
        "1380013800013800",
        "0755-12",
        "第18号令",
        "GB 11643-1999",
        "ISO 8601",
    ],
)
def test_no_false_positives(text):
    assert find_personal_data(text) == []


def test_on_overlap_the_longer_finding_wins():
    assert found("13800138000@example.com") == [("email", "13800138000@example.com")]
    assert found("+86 138 0013 8000") == [("mobile", "+86 138 0013 8000")]


def test_kinds_limits_what_is_looked_for():
    text = f"身份证{ID}，电话13800138000，邮箱zhangsan@example.com"
    assert found(text, ["mobile"]) == [("mobile", "13800138000")]
    assert found(text, ("id_card", "email")) == [("id_card", ID), ("email", "zhangsan@example.com")]
    assert found(text, []) == []
    # A phone inside an e-mail address is still masked when e-mail addresses are not asked for.
    assert found("13800138000@example.com", ["mobile"]) == [("mobile", "13800138000")]


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="passport"):
        find_personal_data("x", ["mobile", "passport"])


def test_placeholders_are_never_personal_data():
    for label in PLACEHOLDER_LABELS.values():
        assert find_personal_data(f"住在【{label}1】，电话【{label}12】。") == []
    assert set(PLACEHOLDER_LABELS) == set(KINDS)


def test_a_bracketed_number_is_not_a_placeholder():
    assert found("【13800138000】") == [("mobile", "13800138000")]
    assert found("【手机号13800138000】") == [("mobile", "13800138000")]


HOTLINE_TICKET = (
    "工单编号：GD2025112300137。2025年11月23日9时15分，市民张某（身份证号{id}，联系电话138 0013 8000，"
    "备用电话010-12345678转8001）来电反映：其居住的示范区人民路18号3栋2单元501室楼上住户长期漏水，"
    "多次协调无果；楼下停放的车辆京A12345、粤B·D12345长期占用消防通道。张某要求物业退还押金30000元"
    "至其银行卡{card}，并将处理结果发送至邮箱zhangsan@example.com。依据《示范区物业管理办法》"
    "（示住建发〔2025〕12号）第十八条，转示范区住建局办理，办理时限2026-11-23前。"
)


def test_hotline_ticket_with_several_kinds():
    card = grouped(CARD19, (4, 4, 4, 4, 3))
    text = HOTLINE_TICKET.format(id=grouped(ID, (6, 8, 4)), card=card)
    assert found(text) == [
        ("id_card", grouped(ID, (6, 8, 4))),
        ("mobile", "138 0013 8000"),
        ("landline", "010-12345678转8001"),
        ("address", "示范区人民路18号3栋2单元501室"),
        ("plate", "京A12345"),
        ("plate", "粤B·D12345"),
        ("bank_card", card),
        ("email", "zhangsan@example.com"),
    ]


def test_findings_are_sorted_and_do_not_overlap():
    text = (HOTLINE_TICKET.format(id=ID, card=CARD16) + POLICY_ARTICLE) * 3
    findings = find_personal_data(text)
    assert len(findings) == 24
    for a, b in itertools.pairwise(findings):
        assert a.end <= b.start


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zhangsan@example.com138 0013 8000", [("email", "zhangsan@example.com"), ("mobile", "138 0013 8000")]),
        (f"粤Z1234港{ID}", [("plate", "粤Z1234港"), ("id_card", ID)]),
        (
            f"京A12345A{grouped(CARD16, (4, 4, 4, 4))}",
            [("plate", "京A12345A"), ("bank_card", grouped(CARD16, (4, 4, 4, 4)))],
        ),
        ("(010)12345678转12zhangsan@example.com", [("landline", "(010)12345678"), ("email", "12zhangsan@example.com")]),
        (
            "人民路18号3-2-501zhangsan@example.com",
            [("address", "人民路18号"), ("email", "3-2-501zhangsan@example.com")],
        ),
        (f"{CARD16}.{ID}", [("bank_card", CARD16), ("id_card", ID)]),
        (f"京A12345.{ID}", [("plate", "京A12345"), ("id_card", ID)]),
    ],
)
def test_glued_values_are_each_found(text, expected):
    """Values written without anything between them: each is found, so masking one never reveals another."""
    assert found(text) == expected


# --------------------------------------------------------------------------- issue 13's failure classes

ID_LUHN = next(n for n in (make_id(seq=f"{s:03d}") for s in range(1000)) if n.isdigit() and luhn_ok(n))


@pytest.mark.parametrize(
    "written",
    [
        grouped(ID_X, (4, 4, 4, 4, 2)),
        grouped(ID_X, (4, 4, 4, 4, 2), "-"),
        grouped(ID_DIGIT, (4, 4, 4, 4, 2)),
        grouped(ID_DIGIT, (3, 3, 4, 4, 4)),
        fullwidth(grouped(ID_X, (4, 4, 4, 4, 2))),
        grouped(ID_LUHN, (4, 4, 4, 4, 2)),  # also passes Luhn: still an ID, not a card
        ID_LUHN,
    ],
)
def test_id_numbers_in_card_style_groups(written):
    assert found(f"来电人（身份证{written}）称") == [("id_card", written)]


def test_card_style_groups_that_are_no_id_stay_a_card():
    card18 = make_card("622202", 18)
    assert found(f"卡号{grouped(card18, (4, 4, 4, 4, 2))}") == [("bank_card", grouped(card18, (4, 4, 4, 4, 2)))]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("家住成都市武侯区人民南路四段12号，", "成都市武侯区人民南路四段12号"),
        ("其在红星路三段99号附近", "红星路三段99号"),
        ("诉求：金牛区一环路北三段1号门口施工", "金牛区一环路北三段1号"),
        ("市民反映天府大道北段1700号积水", "天府大道北段1700号"),
        ("住锦江区东大街紫东楼段35号", "锦江区东大街紫东楼段35号"),
    ],
)
def test_roads_in_sections(text, address):
    assert found(text) == [("address", address)]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("住双龙大道401号翠苑三区23栋1807室，反映", "双龙大道401号翠苑三区23栋1807室"),
        ("天府大道北段1700号金域华府16号楼地下车库", "天府大道北段1700号金域华府16号楼"),
        ("住建国路88号SOHO现代城5号楼2201", "建国路88号SOHO现代城5号楼2201"),
        ("经营地址：武侯区科华北路65号附3号。", "武侯区科华北路65号附3号"),
        ("家住海淀区中关村南大街5号院2号楼1门302", "海淀区中关村南大街5号院2号楼1门302"),
        ("住花果园街道花果园B区3栋1单元1203", "花果园街道花果园B区3栋1单元1203"),
    ],
)
def test_estate_and_building_after_the_house_number(text, address):
    assert found(text) == [("address", address)]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("人民路18号门前有三辆车", "人民路18号"),  # the sentence goes on: no estate name
        ("对人民路1号至99号路段进行改造", "人民路1号"),
        ("人民路18号2单元302楼上住户", "人民路18号2单元302"),
    ],
)
def test_a_sentence_after_the_address_is_not_taken_for_a_building(text, address):
    assert found(text) == [("address", address)]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("户籍地：河南省周口市商水县固墙镇孙庄村", "河南省周口市商水县固墙镇孙庄村"),
        ("家住某某县某某乡某某村，反映村道损坏", "某某县某某乡某某村"),
        ("户籍所在地为四川省仁寿县文林镇红花村13812345678", "四川省仁寿县文林镇红花村"),
    ],
)
def test_an_address_after_its_label_needs_no_house_number(text, address):
    assert ("address", address) in found(text)


@pytest.mark.parametrize(
    "text",
    ["家住这里", "申请人应当提供住所证明", "由被告住所地人民法院管辖", "住址证明、户口簿", "家住成都"],
)
def test_not_labelled_addresses(text):
    assert find_personal_data(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "发票代码044031900111",
        "发票代码：044031900111",
        "发票代码为044031900111",
        "发票代码044031900111、044031900112",  # a list of codes after one label
        "编号02812345678",
        "工号01012345678",
        "订单号13800138000",
        "快递单号 13800138000",
        "注册号510100000123456",
        "预算13800138000元",
        "￥13800138000",
    ],
)
def test_codes_and_amounts_are_not_phone_numbers(text):
    assert find_personal_data(text) == []


def test_a_phone_after_a_phone_label_is_still_found():
    assert found("联系号码02812345678") == [("landline", "02812345678")]
    assert found("手机号13800138000") == [("mobile", "13800138000")]
    assert found("工号123456，13800138000") == [("mobile", "13800138000")]
    assert found("固定电话028—85123456转分机7542") == [("landline", "028—85123456转分机7542")]


@pytest.mark.parametrize(
    "written",
    [
        "6217 0038 1000 1234 567",  # a card number that fails Luhn, after 账号
        "51050142610800001234",  # a corporate account: 20 digits, no check digit
        "4402-2012-3456-7890-123",
        "1234567890123",  # a passbook
    ],
)
def test_a_number_after_an_account_label_is_a_bank_account_whatever_its_checksum(written):
    for label in ("账号", "对公账户：", "收款账号是", "存折号码"):
        assert found(f"请将款项汇入{label}{written}，谢谢。") == [("bank_card", written)], label


@pytest.mark.parametrize(
    "text",
    [
        "登录账号zhangsan123，初始密码已短信发送。",
        "账号12345678901",  # eleven digits: not an account number
        "账户余额128,000.00元",
        f"卡号{grouped(bad_card(CARD16), (4, 4, 4, 4))} 138 0013 8000",  # the phone stays a phone
    ],
)
def test_account_labels_without_an_account_number(text):
    assert "bank_card" not in kinds_found(text)
