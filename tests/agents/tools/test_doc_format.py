"""The GB/T 9704-2012 format checker on realistic documents: correct ones pass clean, and each kind of
mistake is reported once, at its line and column, with the text concerned and the corrected form."""

from __future__ import annotations

import pytest

from agents.tools.doc_format import Problem, cn_to_int, format_check, int_to_cn

NOTICE = """\
示范区人民政府办公室文件

示政办发〔2025〕12号

示范区人民政府办公室
关于做好2025年汛期安全防范工作的通知

各街道办事处、乡镇人民政府，区政府各委、办、局：

    为切实做好2025年汛期安全防范工作，保障人民群众生命财产安全，根据《示范区防汛应急预案》（示政办发〔2024〕8号）等有关规定，现将有关事项通知如下：

    一、总体要求
    坚持人民至上、生命至上，立足防大汛、抗大洪、抢大险、救大灾，全面落实防汛责任。

    二、重点任务
    （一）压实防汛责任。各单位主要负责同志是本单位防汛第一责任人，要亲自部署、亲自检查。
    （二）开展隐患排查。
    1.排查范围。重点排查地下空间、低洼院落、在建工地和危旧房屋，排查面积约1.5万平方米。
    2.排查要求。
    （1）建立隐患台账，逐项明确整改责任人和时限。
    （2）6月15日前完成首轮排查，并报区防汛办。
    （三）加强值班值守。汛期实行24小时值班和领导带班制度，严格执行信息报送规定。

    三、工作要求
    各单位于2025年6月10日前将防汛责任人名单（附件1）和隐患排查情况（附件2）报区防汛办。

    附件：1.示范区防汛责任人名单
          2.示范区汛期隐患排查情况统计表

                                        示范区人民政府办公室
                                          2025年6月3日

    （联系人：王明；联系电话：010-12345678）

附件1

示范区防汛责任人名单

    一、区级责任人
    区长为全区防汛第一责任人。
    二、街道责任人
    各街道办事处主任为本辖区防汛第一责任人。

附件2

示范区汛期隐患排查情况统计表

    填报单位：            填报日期：

抄送：区委办公室，区人大常委会办公室，区政协办公室。
  示范区人民政府办公室                 2025年6月3日印发
"""

LETTER = """\
示范区财政局关于商请提供2025年上半年经济指标数据的函

区统计局：
    为做好2025年上半年预算执行分析工作，请贵局于2025年7月10日前提供上半年全区主要经济指标数据（格式见附件）。
    特此函告。

    附件：2025年上半年主要经济指标数据表

示范区财政局
2025年7月1日
"""

REQUEST = """\
示范区应急管理局文件

示应急〔2025〕5号                签发人：李强

示范区应急管理局
关于申请拨付2025年防汛物资购置经费的请示

区人民政府：
    根据《示范区防汛应急预案》要求，为做好今年汛期物资保障，我局拟购置冲锋舟、救生衣、抽水泵等防汛物资，共需经费86.5万元，现申请区财政予以拨付。
    妥否，请批示。

示范区应急管理局
2025年5月20日

（联系人：赵敏，联系电话：010-87654321）
"""

ANNOUNCEMENT = """\
示范区人民政府
关于2025年夏季高温期间调整户外作业时间的公告

    为保障户外劳动者身体健康，经区人民政府研究决定，2025年7月1日至8月31日，日最高气温达到35摄氏度以上时，全区户外作业时间调整如下：
    一、12时至15时停止户外露天作业。
    二、因特殊情况确需作业的，用人单位应当采取有效防暑降温措施。
    特此公告。

示范区人民政府
2025年6月25日
"""

# As published on the web: the number under the title, no 版头.
PUBLISHED = """\
示范区人民政府办公室关于印发《示范区促进数字经济高质量发展若干措施》的通知
示政办发〔2025〕21号

各街道办事处，区政府各部门：
    《示范区促进数字经济高质量发展若干措施》已经区政府同意，现印发给你们，请认真贯彻执行。

示范区人民政府办公室
2025年3月18日

（此件公开发布）
"""

REPLY = """\
示范区人民政府
关于同意设立示范区智慧城市运行管理中心的批复

示政函〔2025〕9号

区大数据局：
    你局《关于设立示范区智慧城市运行管理中心的请示》（示数据〔2025〕3号）收悉。经研究，现批复如下：
    一、同意设立示范区智慧城市运行管理中心，为你局所属公益一类事业单位。
    二、所需编制由区委编办另行核定。
    此复。

示范区人民政府
2025年4月2日
"""

MINUTES = """\
示范区防汛工作专题会议纪要

    2025年6月5日，区长张伟主持召开防汛工作专题会议，研究部署今年防汛工作。纪要如下：
    一、会议听取了区应急局关于汛前准备情况的汇报。
    二、会议要求各单位严格落实24小时值班制度。

参加：李明、王芳、赵强
"""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize(
    "text",
    [NOTICE, LETTER, REQUEST, ANNOUNCEMENT, PUBLISHED, REPLY, MINUTES],
    ids=["notice", "letter", "request", "announcement", "published", "reply", "minutes"],
)
def test_correct_documents_have_no_problems(text):
    assert format_check(text) == []


def test_chinese_numerals_both_ways():
    assert [cn_to_int(t) for t in ("一", "九", "十", "十一", "二十", "二十三", "九十九")] == [1, 9, 10, 11, 20, 23, 99]
    assert cn_to_int("二二") is None and cn_to_int("是") is None
    assert [int_to_cn(n) for n in (1, 10, 11, 20, 23)] == ["一", "十", "十一", "二十", "二十三"]


# --------------------------------------------------------------------------- 发文字号


@pytest.mark.parametrize(
    ("written", "code", "column"),
    [
        ("示政办发[2025]12号", "number.brackets", 5),
        ("示政办发(2025)12号", "number.brackets", 5),
        ("示政办发（2025）12号", "number.brackets", 5),
        ("示政办发【2025】12号", "number.brackets", 5),
        ("示政办发［2025］12号", "number.brackets", 5),
        ("示政办发〔2025〕012号", "number.leading_zero", 11),
        ("示政办发〔2025〕第12号", "number.di", 11),
        ("示政办发〔25〕12号", "number.year", 6),
        ("示政办发〔2025〕12", "number.missing_hao", 13),
    ],
)
def test_issuing_number_mistakes(written, code, column):
    text = edit(NOTICE, "示政办发〔2025〕12号", written)
    problems = format_check(text)
    assert codes(problems) == [code]
    (problem,) = problems
    assert (problem.line, problem.column) == (3, column)
    assert problem.excerpt == written and problem.severity == "error"
    if code != "number.year":
        assert problem.suggestion == "示政办发〔2025〕12号"


def test_several_mistakes_in_one_number_are_each_reported():
    text = edit(NOTICE, "示政办发〔2025〕12号", "示政办发【2025】第012号")
    assert codes(format_check(text)) == ["number.brackets", "number.di", "number.leading_zero"]


def test_numbers_of_documents_cited_in_the_body_are_checked_too():
    text = edit(NOTICE, "（示政办发〔2024〕8号）", "（示政办发(2024)08号）")
    problems = format_check(text)
    assert codes(problems) == ["number.brackets", "number.leading_zero"]
    assert {p.line for p in problems} == {line_of(text, "示政办发(2024)08号")}
    assert "引用的发文字号" in problems[0].message
    assert problems[0].suggestion == "示政办发〔2024〕8号"


# --------------------------------------------------------------------------- 标题


def test_title_ending_with_punctuation():
    text = edit(NOTICE, "安全防范工作的通知\n", "安全防范工作的通知。\n")
    (problem,) = format_check(text)
    assert problem.code == "title.trailing_punctuation"
    assert (problem.line, problem.column) == (6, 21)
    assert problem.excerpt == "示范区人民政府办公室关于做好2025年汛期安全防范工作的通知。"
    assert problem.suggestion == "示范区人民政府办公室关于做好2025年汛期安全防范工作的通知"


def test_punctuation_inside_the_title_is_a_warning_but_book_title_marks_are_fine():
    text = edit(
        LETTER, "关于商请提供2025年上半年经济指标数据的函", "关于商请提供2025年上半年经济指标数据，请予支持的函"
    )
    (problem,) = format_check(text)
    assert (problem.code, problem.severity, problem.line, problem.column) == ("title.punctuation", "warning", 1, 27)
    assert "，" in problem.message
    fine = edit(NOTICE, "关于做好2025年汛期", "关于印发《示范区防汛应急预案》、做好2025年汛期")
    assert format_check(fine) == []


def test_missing_title():
    text = edit(NOTICE, "示范区人民政府办公室\n关于做好2025年汛期安全防范工作的通知\n\n", "")
    problems = format_check(text)
    assert codes(problems) == ["title.missing"]
    assert (problems[0].line, problems[0].column) == (0, 0)


def test_title_without_document_type_and_type_mismatch():
    text = edit(LETTER, "数据的函", "数据")
    assert codes(format_check(text)) == ["title.doc_type_missing"]
    mismatch = format_check(LETTER, doc_type="通知")
    assert codes(mismatch) == ["title.doc_type_mismatch"]
    assert "通知" in mismatch[0].message


# --------------------------------------------------------------------------- 主送机关


@pytest.mark.parametrize(
    ("ending", "code", "column"),
    [(":", "addressee.colon", 24), ("", "addressee.missing_colon", 24), ("；", "addressee.punctuation", 24)],
)
def test_addressee_must_end_with_a_full_width_colon(ending, code, column):
    text = edit(NOTICE, "委、办、局：", f"委、办、局{ending}")
    (problem,) = format_check(text)
    assert (problem.code, problem.line, problem.column) == (code, 8, column)
    assert problem.suggestion == "各街道办事处、乡镇人民政府，区政府各委、办、局："


def test_a_letter_without_addressee_is_a_warning():
    text = edit(LETTER, "区统计局：\n", "")
    (problem,) = format_check(text)
    assert (problem.code, problem.severity) == ("addressee.missing", "warning")


# --------------------------------------------------------------------------- 结构层次序数


@pytest.mark.parametrize(
    ("old", "new", "suggestion"),
    [
        ("一、总体要求", "一．总体要求", "一、"),
        ("一、总体要求", "一.总体要求", "一、"),
        ("（一）压实防汛责任", "（一）、压实防汛责任", "（一）"),
        ("（一）压实防汛责任", "(一)压实防汛责任", "（一）"),
        ("1.排查范围", "1、排查范围", "1."),
        ("（1）建立隐患台账", "(1)建立隐患台账", "（1）"),
        ("（1）建立隐患台账", "1)建立隐患台账", "（1）"),
    ],
)
def test_wrong_heading_forms(old, new, suggestion):
    text = edit(NOTICE, old, new)
    (problem,) = format_check(text)
    assert problem.code == "heading.form"
    assert (problem.line, problem.column) == (line_of(text, new), 5)  # after the 4-space indent
    assert problem.suggestion == suggestion and problem.excerpt.startswith(new)


def test_full_width_dot_is_accepted_for_the_third_level():
    assert format_check(edit(NOTICE, "1.排查范围", "１．排查范围")) == []


def test_skipped_heading_level():
    text = edit(
        NOTICE,
        "    1.排查范围。重点排查地下空间、低洼院落、在建工地和危旧房屋，排查面积约1.5万平方米。\n    2.排查要求。\n",
        "",
    )
    (problem,) = format_check(text)
    assert (problem.code, problem.severity) == ("heading.skipped_level", "warning")
    assert problem.line == line_of(text, "（1）建立隐患台账")
    assert "1." in problem.message


def test_heading_numbers_that_skip_or_repeat():
    skipped = edit(NOTICE, "三、工作要求", "四、工作要求")
    (problem,) = format_check(skipped)
    assert problem.code == "heading.numbering" and problem.suggestion == "三、"
    assert "“二、”之后应为“三、”" in problem.message
    repeated = edit(NOTICE, "（三）加强值班值守", "（二）加强值班值守")
    assert codes(format_check(repeated)) == ["heading.duplicate"]
    late_start = edit(NOTICE, "（一）压实防汛责任", "（二）压实防汛责任")
    assert codes(format_check(late_start))[0] == "heading.first_number"


def test_decimals_and_sentences_are_not_taken_for_headings():
    text = edit(NOTICE, "    坚持人民至上", "    1.5万名干部坚持人民至上")
    assert format_check(text) == []


# --------------------------------------------------------------------------- 成文日期


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("2025年06月03日", "date.leading_zero"),
        ("2025年6月03日", "date.leading_zero"),
        ("二〇二五年六月三日", "date.chinese_numerals"),
        ("2025-06-03", "date.separator"),
        ("2025.6.3", "date.separator"),
        ("2025/6/3", "date.separator"),
        ("2025年6月3号", "date.unit"),
    ],
)
def test_date_mistakes(written, code):
    text = NOTICE.replace("  2025年6月3日\n", f"  {written}\n", 1)
    (problem,) = format_check(text)
    assert problem.code == code
    assert (problem.line, problem.column) == (line_of(text, written), 43)
    assert problem.excerpt == written and problem.suggestion == "2025年6月3日"
    assert "成文日期" in problem.message


def test_impossible_and_abbreviated_dates():
    assert codes(format_check(edit(LETTER, "2025年7月1日", "2025年2月30日"))) == ["date.invalid"]
    assert codes(format_check(edit(LETTER, "2025年7月1日", "25年7月1日"))) == ["date.year"]
    assert codes(format_check(edit(LETTER, "\n2025年7月1日\n", "\n"))) == ["date.missing"]


# --------------------------------------------------------------------------- 附件说明


def test_attachment_note_mistakes():
    half_colon = edit(NOTICE, "附件：1.示范区", "附件:1.示范区")
    (problem,) = format_check(half_colon)
    assert (problem.code, problem.column) == ("attachment.colon", 7)
    wrong_mark = edit(NOTICE, "1.示范区防汛责任人名单\n", "1、示范区防汛责任人名单\n")
    (problem,) = format_check(wrong_mark)
    assert problem.code == "attachment.number_format" and problem.suggestion == "1.示范区防汛责任人名单"
    full_stop = edit(NOTICE, "2.示范区汛期隐患排查情况统计表\n", "2.示范区汛期隐患排查情况统计表。\n")
    (problem,) = format_check(full_stop)
    assert problem.code == "attachment.trailing_punctuation"
    assert problem.line == line_of(full_stop, "统计表。") and problem.column == 27
    marks = edit(NOTICE, "2.示范区汛期隐患排查情况统计表\n", "2.《示范区汛期隐患排查情况统计表》\n")
    assert [(p.code, p.severity) for p in format_check(marks)] == [("attachment.book_title_marks", "warning")]
    gap = edit(NOTICE, "2.示范区汛期隐患", "3.示范区汛期隐患")
    assert codes(format_check(gap)) == ["attachment.numbering"]


def test_several_attachments_must_be_numbered_and_one_need_not_be():
    unnumbered = edit(NOTICE, "附件：1.示范区防汛责任人名单", "附件：示范区防汛责任人名单")
    (problem,) = format_check(unnumbered)
    assert (problem.code, problem.line, problem.column) == ("attachment.numbering", 27, 8)
    single = edit(LETTER, "附件：2025年", "附件：1.2025年")
    assert [(p.code, p.severity) for p in format_check(single)] == [("attachment.single_numbered", "warning")]


def test_attachment_notes_against_the_attachments_and_the_body():
    renamed = edit(NOTICE, "\n示范区防汛责任人名单\n", "\n示范区防汛工作责任人名单\n")
    (problem,) = format_check(renamed)
    assert problem.code == "attachment.title_mismatch"
    assert problem.line == line_of(renamed, "示范区防汛工作责任人名单")
    assert problem.suggestion == "示范区防汛责任人名单"

    one_page_missing = NOTICE[: NOTICE.index("附件2\n")] + NOTICE[NOTICE.index("抄送") :]
    assert codes(format_check(one_page_missing)) == ["attachment.count_mismatch"]

    no_note = edit(NOTICE, "    附件：1.示范区防汛责任人名单\n          2.示范区汛期隐患排查情况统计表\n", "")
    (problem,) = format_check(no_note)
    assert problem.code == "attachment.note_missing" and problem.excerpt == "附件1"
    assert no_note.splitlines()[problem.line - 1] == "附件1"

    out_of_range = edit(NOTICE, "（附件2）", "（附件3）")
    (problem,) = format_check(out_of_range)
    assert problem.code == "attachment.reference_out_of_range" and problem.excerpt == "附件3"

    mentioned_only = edit(LETTER, "    附件：2025年上半年主要经济指标数据表\n", "")
    assert codes(format_check(mentioned_only)) == ["attachment.referenced_without_note"]


# --------------------------------------------------------------------------- 版记 and 请示


def test_copy_block():
    half = edit(NOTICE, "抄送：", "抄送:")
    assert [(p.code, p.column) for p in format_check(half)] == [("cc.colon", 3)]
    no_stop = edit(NOTICE, "区政协办公室。", "区政协办公室")
    (problem,) = format_check(no_stop)
    assert problem.code == "cc.trailing_period" and problem.suggestion.endswith("区政协办公室。")
    printed = edit(NOTICE, "2025年6月3日印发", "2025.6.3印发")
    (problem,) = format_check(printed)
    assert problem.code == "date.separator" and "印发日期" in problem.message and problem.excerpt == "2025.6.3"


def test_request_needs_signer_and_contact():
    no_signer = edit(REQUEST, "                签发人：李强", "")
    assert [(p.code, p.severity) for p in format_check(no_signer)] == [("signer.missing", "warning")]
    no_contact = edit(REQUEST, "\n（联系人：赵敏，联系电话：010-87654321）\n", "\n")
    assert codes(format_check(no_contact)) == ["request.contact_missing"]
    # The kind can be given when the title does not say it.
    assert "request.contact_missing" in codes(format_check(LETTER, doc_type="请示"))


def test_a_sloppy_document_gets_every_problem_in_reading_order():
    sloppy = """\
示政办发[2025]第012号
关于做好2025年汛期安全防范工作的通知。
各街道办事处、乡镇人民政府:
为做好汛期安全防范工作，现通知如下：
一.总体要求
三、重点任务
（一）、压实防汛责任。
（1）建立台账。
附件:1、示范区防汛责任人名单。
示范区人民政府办公室
二〇二五年六月三日
"""
    problems = format_check(sloppy)
    assert [(p.line, p.code) for p in problems] == [
        (1, "number.brackets"),
        (1, "number.di"),
        (1, "number.leading_zero"),
        (2, "title.trailing_punctuation"),
        (3, "addressee.colon"),
        (5, "heading.form"),
        (6, "heading.numbering"),
        (7, "heading.form"),
        (8, "heading.skipped_level"),
        (9, "attachment.colon"),
        (9, "attachment.number_format"),
        (9, "attachment.single_numbered"),
        (9, "attachment.trailing_punctuation"),
        (11, "date.chinese_numerals"),
    ]
    assert all(p.message and p.excerpt for p in problems)


def test_empty_text():
    assert codes(format_check("  \n\n")) == ["document.empty"]


def test_a_cited_number_is_reported_without_the_words_before_it():
    text = edit(
        NOTICE, "根据《示范区防汛应急预案》（示政办发〔2024〕8号）等有关规定", "根据示政办发[2024]8号等有关规定"
    )
    (problem,) = format_check(text)
    assert problem.excerpt == "示政办发[2024]8号" and problem.suggestion == "示政办发〔2024〕8号"
    assert problem.column == text.splitlines()[problem.line - 1].index("[") + 1
