"""Masking with stable placeholders, continuing from a stored mapping, unmasking, idempotence."""

import random

import pytest

from agents.privacy.masking import PLACEHOLDER_LABELS, Masker, MaskResult, mask_text, normalize_value, unmask
from tests.agents.privacy.test_detectors import (
    CARD16,
    CARD19,
    HOTLINE_TICKET,
    ID,
    ID_X,
    POLICY_ARTICLE,
    fullwidth,
    grouped,
    make_id,
)


def test_labels():
    assert PLACEHOLDER_LABELS == {
        "id_card": "身份证号",
        "mobile": "手机号",
        "landline": "固定电话",
        "bank_card": "银行卡号",
        "email": "邮箱",
        "plate": "车牌号",
        "address": "地址",
    }


def test_mask_text_replaces_each_kind_and_returns_the_mapping():
    result = mask_text(f"张某，{ID}，电话138 0013 8000")
    assert isinstance(result, MaskResult)
    assert result.text == "张某，【身份证号1】，电话【手机号1】"
    assert result.mapping == {"【身份证号1】": ID, "【手机号1】": "138 0013 8000"}


def test_text_without_personal_data_is_unchanged():
    result = mask_text(POLICY_ARTICLE)
    assert result.text == POLICY_ARTICLE
    assert result.mapping == {}
    assert mask_text("") == MaskResult("", {})


@pytest.mark.parametrize(
    ("kind", "written"),
    [
        ("mobile", ["13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "0086-13800138000"]),
        ("mobile", ["8613800138000", "(+86)13800138000", "１３８００１３８０００"]),
        ("id_card", [ID_X, ID_X.lower(), grouped(ID_X, (6, 8, 4)), fullwidth(grouped(ID_X, (6, 8, 4), "-"))]),
        ("bank_card", [CARD19, grouped(CARD19, (4, 4, 4, 4, 3)), fullwidth(grouped(CARD19, (4, 4, 4, 4, 3), "-"))]),
        ("landline", ["010-12345678", "(010)12345678", "01012345678", "（０１０）１２３４５６７８", "010 1234 5678"]),
        ("email", ["ZhangSan@Example.com", "zhangsan@example.com"]),
        ("plate", ["粤B·D12345", "粤BD12345", "粤B D12345"]),
    ],
)
def test_one_value_written_differently_gets_one_placeholder(kind, written):
    assert len({normalize_value(kind, w) for w in written}) == 1
    text = "；".join(f"第{i}次：{w}" for i, w in enumerate(written))
    result = mask_text(text)
    label = PLACEHOLDER_LABELS[kind]
    assert result.text == "；".join(f"第{i}次：【{label}1】" for i in range(len(written)))
    assert result.mapping == {f"【{label}1】": written[0]}


def test_extension_makes_a_different_landline():
    result = mask_text("总机010-12345678，分机010-12345678转8001")
    assert result.text == "总机【固定电话1】，分机【固定电话2】"


def test_numbering_is_per_kind_in_order_of_first_appearance():
    text = "13900139000、010-12345678、13800138000、13900139000、021-62345678、zhangsan@example.com、15912345678"
    result = mask_text(text)
    assert result.text == "【手机号1】、【固定电话1】、【手机号2】、【手机号1】、【固定电话2】、【邮箱1】、【手机号3】"
    assert list(result.mapping) == [
        "【手机号1】",
        "【固定电话1】",
        "【手机号2】",
        "【固定电话2】",
        "【邮箱1】",
        "【手机号3】",
    ]


def test_masker_is_stable_across_the_texts_of_a_conversation():
    masker = Masker()
    assert masker.mask("我的电话是138 0013 8000") == "我的电话是【手机号1】"
    assert masker.mask("备用号码13900139000，原号码+86 13800138000") == "备用号码【手机号2】，原号码【手机号1】"
    assert masker.mask(f"身份证{ID}") == "身份证【身份证号1】"
    assert masker.mask("没有个人信息") == "没有个人信息"
    assert masker.mapping == {"【手机号1】": "138 0013 8000", "【手机号2】": "13900139000", "【身份证号1】": ID}


def test_masker_continues_from_a_stored_mapping():
    first = Masker()
    first.mask("电话13800138000，邮箱zhangsan@example.com，电话13900139000")
    stored = first.mapping
    again = Masker(mapping=stored)
    assert again.mapping == stored
    assert again.mask("新号码15912345678，旧号码138-0013-8000，邮箱ZHANGSAN@example.com") == (
        "新号码【手机号3】，旧号码【手机号1】，邮箱【邮箱1】"
    )
    assert again.mapping == {**stored, "【手机号3】": "15912345678"}
    assert stored == first.mapping  # the given mapping is not changed


def test_masker_continues_after_the_highest_number_even_with_gaps():
    masker = Masker(mapping={"【手机号7】": "13800138000", "【地址2】": "示范区人民路18号"})
    assert masker.mask("13900139000，住在示范区人民路18号，另住示范区解放路20号") == (
        "【手机号8】，住在【地址2】，另住【地址3】"
    )


def test_mapping_property_is_a_copy():
    masker = Masker()
    masker.mask("13800138000")
    masker.mapping.clear()
    assert masker.mapping == {"【手机号1】": "13800138000"}


def test_mapping_with_something_else_than_placeholders_is_an_error():
    with pytest.raises(ValueError, match="placeholder"):
        Masker(mapping={"[手机号1]": "13800138000"})
    with pytest.raises(ValueError, match="placeholder"):
        Masker(mapping={"【电话1】": "13800138000"})


def test_kinds_limits_what_is_masked():
    text = f"身份证{ID}，电话13800138000，住在示范区人民路18号"
    assert mask_text(text, kinds=["mobile"]).text == f"身份证{ID}，电话【手机号1】，住在示范区人民路18号"
    masker = Masker(kinds={"address", "id_card"})
    assert masker.mask(text) == "身份证【身份证号1】，电话13800138000，住在【地址1】"
    with pytest.raises(ValueError):
        Masker(kinds=["phone"])
    with pytest.raises(ValueError):
        mask_text(text, kinds=["phone"])


def test_unmask_round_trip():
    text = HOTLINE_TICKET.format(id=grouped(ID, (6, 8, 4)), card=grouped(CARD19, (4, 4, 4, 4, 3)))
    result = mask_text(text)
    for value in (grouped(ID, (6, 8, 4)), "138 0013 8000", "京A12345", "zhangsan@example.com", "人民路18号"):
        assert value not in result.text
    assert unmask(result.text, result.mapping) == text


def test_unmask_puts_back_the_value_as_first_written():
    result = mask_text("电话13800138000，又说是138 0013 8000")
    assert result.text == "电话【手机号1】，又说是【手机号1】"
    assert unmask(result.text, result.mapping) == "电话13800138000，又说是13800138000"


def test_unmask_leaves_unknown_placeholders_and_brackets_alone():
    mapping = {"【手机号1】": "13800138000"}
    assert unmask("【手机号1】和【手机号2】，【注意】", mapping) == "13800138000和【手机号2】，【注意】"
    assert unmask("【手机号1】", {}) == "【手机号1】"


def test_unmask_does_not_expand_placeholders_inside_values():
    mapping = {"【地址1】": "某某路【地址2】号", "【地址2】": "示范区人民路18号"}
    assert unmask("【地址1】", mapping) == "某某路【地址2】号"


def test_masking_is_idempotent():
    text = HOTLINE_TICKET.format(id=ID_X, card=CARD16)
    once = mask_text(text)
    twice = mask_text(once.text)
    assert twice.text == once.text
    assert twice.mapping == {}
    masker = Masker()
    masked = masker.mask(text)
    mapping = masker.mapping
    assert masker.mask(masked) == masked
    assert masker.mapping == mapping


def test_placeholders_already_in_a_text_are_not_reused_for_other_values():
    masker = Masker()
    assert masker.mask("前文：【手机号1】。新号码13800138000") == "前文：【手机号1】。新号码【手机号2】"
    assert masker.mapping == {"【手机号2】": "13800138000"}


def test_hotline_ticket_masked():
    text = HOTLINE_TICKET.format(id=grouped(ID, (6, 8, 4)), card=grouped(CARD19, (4, 4, 4, 4, 3)))
    assert mask_text(text).text == (
        "工单编号：GD2025112300137。2025年11月23日9时15分，市民张某（身份证号【身份证号1】，联系电话【手机号1】，"
        "备用电话【固定电话1】）来电反映：其居住的【地址1】楼上住户长期漏水，"
        "多次协调无果；楼下停放的车辆【车牌号1】、【车牌号2】长期占用消防通道。张某要求物业退还押金30000元"
        "至其银行卡【银行卡号1】，并将处理结果发送至邮箱【邮箱1】。依据《示范区物业管理办法》"
        "（示住建发〔2025〕12号）第十八条，转示范区住建局办理，办理时限2026-11-23前。"
    )


def test_a_conversation_about_two_people():
    other = make_id("440305", "19851231", "015")
    masker = Masker()
    turns = [
        f"申请人张某，身份证{ID}，手机138 0013 8000。",
        f"共同申请人李某，身份证{other}，手机13900139000，与张某同住示范区人民路18号3栋2单元501室。",
        f"请核对张某（{ID}）和李某（{grouped(other, (6, 8, 4))}）的信息，联系+86 139 0013 9000。",
    ]
    assert [masker.mask(t) for t in turns] == [
        "申请人张某，身份证【身份证号1】，手机【手机号1】。",
        "共同申请人李某，身份证【身份证号2】，手机【手机号2】，与张某同住【地址1】。",
        "请核对张某（【身份证号1】）和李某（【身份证号2】）的信息，联系【手机号2】。",
    ]


def test_masking_twice_changes_nothing_even_for_glued_and_random_text():
    rng = random.Random(20251123)
    pieces = [
        ID,
        CARD16,
        grouped(CARD19, (4, 4, 4, 4, 3)),
        "138 0013 8000",
        "+86 13900139000",
        "(010)12345678转12",
        "zhangsan@example.com",
        "京A12345",
        "粤Z1234港",
        "示范区人民路18号3栋2单元501室",
        "人民路18号3-2-501",
        "【手机号1】",
        "2026-11-23",
        "13800138000.5",
    ]
    noise = list("0123456789０１ -+()（）@.xX京A粤·路村号栋单元室组市区县镇某人民示范住在的，。abc转港")
    for _ in range(1500):
        parts = [
            rng.choice(pieces) if rng.random() < 0.4 else "".join(rng.choices(noise, k=rng.randint(1, 8)))
            for _ in range(rng.randint(1, 8))
        ]
        text = "".join(parts)
        masked = mask_text(text).text
        assert mask_text(masked).text == masked, text
