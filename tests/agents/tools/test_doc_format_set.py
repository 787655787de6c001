"""The format checker on the labelled set (generated and hand-written documents of the fifteen 文种),
the rules a 办公室 proofreader applies that a first version missed, and documents read from .docx
and .ofd files as a user uploads them."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from agents.chat.services import attachments_parse
from agents.knowledge.parsing import ParseError, parse_document
from agents.tools.doc_format import DOC_TYPES, format_check
from tests.agents.tools.docformat_set import load, score
from tests.agents.tools.test_doc_format import NOTICE, REQUEST, edit, line_of

SET = load()


def test_the_set_covers_the_fifteen_kinds_with_clean_and_faulty_documents():
    assert len(SET) >= 100
    kinds = {d["kind"] for d in SET}
    assert kinds >= set(DOC_TYPES) - {"令"}
    assert sum(1 for d in SET if d["id"].startswith("hand-")) >= 20
    assert sum(1 for d in SET if not d["errors"]) >= 30


@pytest.mark.parametrize("given", [True, False], ids=["type-given", "type-from-title"])
def test_floor_on_the_labelled_set(given):
    result = score(SET, lambda text, doc_type: format_check(text, doc_type=doc_type if given else None))
    assert result["false_alarm_docs"] == []
    assert result["recall"] >= 0.95, result["misses"]
    assert result["precision"] >= 0.95, result["extras"]


def test_every_finding_names_its_clause():
    for doc in SET:
        for problem in format_check(doc["text"], doc_type=doc["doc_type"]):
            assert problem.clause and problem.clause in problem.message


def lines_of(problems):
    return [(p.code, p.line) for p in problems]


def test_half_width_punctuation_in_chinese_text_but_not_in_addresses_times_or_numbers():
    text = edit(NOTICE, "坚持人民至上、生命至上，立足", "坚持人民至上、生命至上,立足")
    (problem,) = format_check(text)
    assert (problem.code, problem.suggestion) == ("punctuation.halfwidth", "，")
    assert problem.line == line_of(text, "生命至上,立足") and "GB/T 15834" in problem.message
    fine = edit(NOTICE, "值班和领导带班制度", "值班（9:30至17:30，详见www.example.gov.cn）和领导带班制度")
    assert format_check(fine) == []


def test_a_request_to_two_authorities_and_a_report_that_asks_for_approval():
    two = edit(REQUEST, "区人民政府：", "区人民政府、区财政局：")
    assert lines_of(format_check(two)) == [("request.multiple_addressees", line_of(two, "区财政局："))]
    report = edit(REQUEST, "的请示", "的报告").replace("妥否，请批示。", "特此报告，请予批准。")
    assert lines_of(format_check(report)) == [("report.contains_request", line_of(report, "请予批准"))]


def test_a_report_needs_its_signer_too_and_a_request_report_is_a_request():
    report = edit(edit(REQUEST, "的请示", "的报告"), "    妥否，请批示。\n", "")
    assert lines_of(format_check(report)) == []
    unsigned = edit(report, "                签发人：李强", "")
    assert lines_of(format_check(unsigned)) == [("signer.missing", 3)]
    # A copy as published (the number under the title) shows no 签发人, and is not faulted for it.
    published = "\n".join(unsigned.splitlines()[4:6] + unsigned.splitlines()[2:3] + unsigned.splitlines()[6:]) + "\n"
    assert lines_of(format_check(published)) == []
    mixed = edit(REQUEST, "的请示", "的请示报告").replace("                签发人：李强", "")
    assert lines_of(format_check(mixed)) == [("signer.missing", 3), ("title.mixed_doc_type", 6)]


def test_citing_the_number_before_the_title():
    text = edit(NOTICE, "《示范区防汛应急预案》（示政办发〔2024〕8号）", "示政办发〔2024〕8号《示范区防汛应急预案》")
    (problem,) = format_check(text)
    assert (problem.code, problem.line) == ("citation.order", line_of(text, "8号《"))
    assert problem.suggestion == "《示范区防汛应急预案》（示政办发〔2024〕8号）"


def test_findings_land_where_the_mistake_is():
    no_colon = edit(REQUEST, "区人民政府：", "区人民政府")
    assert lines_of(format_check(no_colon)) == [("addressee.missing_colon", line_of(no_colon, "区人民政府"))]
    no_date = edit(REQUEST, "2025年5月20日\n", "")
    assert lines_of(format_check(no_date)) == [("date.missing", 12)]  # the 署名 above where the date belongs
    inverted = NOTICE.replace("    二、重点任务\n    （一）压实防汛责任", "    （一）压实防汛责任\n    二、重点任务")
    assert [c for c, _line in lines_of(format_check(inverted))] == ["heading.order"]


# --------------------------------------------------------------------------- files


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def ofd_bytes(text: str) -> bytes:
    """A minimal OFD file: one page, each line a TextObject at its own height."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    objects = "".join(
        f'<ofd:TextObject ID="{i + 10}" Boundary="25 {30 + i * 8} 160 8" Font="1" Size="5.6">'
        f'<ofd:TextCode X="0" Y="6">{line.strip()}</ofd:TextCode></ofd:TextObject>'
        for i, line in enumerate(text.splitlines())
        if line.strip()
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "OFD.xml",
            f"<ofd:OFD {ns}><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>",
        )
        archive.writestr(
            "Doc_0/Document.xml",
            f'<ofd:Document {ns}><ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>',
        )
        archive.writestr(
            "Doc_0/Pages/Page_0/Content.xml",
            f'<ofd:Page {ns}><ofd:Content><ofd:Layer ID="2">{objects}</ofd:Layer></ofd:Content></ofd:Page>',
        )
    return out.getvalue()


def text_of(data: bytes, name: str) -> str:
    return "\n".join(block.text for block in parse_document(data, name).blocks)


@pytest.mark.parametrize("make, name", [(docx_bytes, "请示.docx"), (ofd_bytes, "请示.ofd")], ids=["docx", "ofd"])
def test_an_uploaded_document_is_checked_like_its_text(make, name):
    assert format_check(text_of(make(REQUEST), name)) == []
    sloppy = edit(REQUEST, "示应急〔2025〕5号", "示应急[2025]5号").replace("区人民政府：", "区人民政府、区财政局：")
    codes = [p.code for p in format_check(text_of(make(sloppy), name))]
    assert codes == ["number.brackets", "request.multiple_addressees"]


def test_a_bad_ofd_gets_a_clear_chinese_error():
    broken = ofd_bytes(REQUEST).replace(b"Doc_0/Document.xml</ofd:DocRoot>", b"Doc_9/Document.xml</ofd:DocRoot>")
    with pytest.raises(ParseError, match="OFD 文件已损坏"):
        parse_document(broken, "请示.ofd")
    with pytest.raises(ParseError, match="OFD 文件已损坏"):
        parse_document(b"PK\x03\x04 not really a zip", "请示.ofd")
    with pytest.raises(ParseError, match=r"扩展名为 \.ofd"):
        parse_document("示范区应急管理局".encode(), "请示.ofd")


@pytest.mark.django_db
def test_chat_attachments_take_ofd_and_refuse_a_corrupt_one():
    (parsed,) = attachments_parse(files=[SimpleUploadedFile("请示.ofd", ofd_bytes(REQUEST))])
    assert parsed["name"] == "请示.ofd" and "关于申请拨付2025年防汛物资购置经费的请示" in parsed["text"]
    with pytest.raises(ValidationError, match=r"未能上传“坏\.ofd”：OFD 文件已损坏"):
        attachments_parse(files=[SimpleUploadedFile("坏.ofd", b"PK\x03\x04 broken")])
