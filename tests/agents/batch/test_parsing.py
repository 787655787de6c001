"""Reading batch files as government systems export them: GBK and UTF-8 CSV, Excel, and files that are not tables."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from agents.batch.parsing import BatchInputInvalid, table_read

TICKETS = [["工单号", "来电内容", "来电人"], ["A001", "小区路灯坏了", "张三"], ["A002", "噪音扰民，晚上施工", "李四"]]


def csv_bytes(rows, encoding="utf-8", delimiter=","):
    return "\r\n".join(delimiter.join(r) for r in rows).encode(encoding)


def xlsx_bytes(rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula, as typed after an apostrophe
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_in_the_encodings_government_systems_export(encoding):
    table = table_read(data=csv_bytes(TICKETS, encoding))
    assert table.columns == ["工单号", "来电内容", "来电人"]
    assert table.rows == [
        (2, {"工单号": "A001", "来电内容": "小区路灯坏了", "来电人": "张三"}),
        (3, {"工单号": "A002", "来电内容": "噪音扰民，晚上施工", "来电人": "李四"}),
    ]


def test_tab_separated_and_quoted_cells_with_line_breaks():
    text = '编号\t内容\n1\t"第一行\n第二行"\n2\t普通\n'
    table = table_read(data=text.encode("gbk"))
    assert table.columns == ["编号", "内容"]
    assert [values["内容"] for _n, values in table.rows] == ["第一行\n第二行", "普通"]


def test_empty_rows_are_skipped_and_short_rows_filled():
    table = table_read(data="问题,备注\n\n路灯坏了\n,,\n噪音,夜间\n".encode())
    assert [(n, v) for n, v in table.rows] == [
        (3, {"问题": "路灯坏了", "备注": ""}),
        (5, {"问题": "噪音", "备注": "夜间"}),
    ]


def test_xlsx_cells_read_as_people_see_them():
    rows = [
        ["编号", "金额", "比例", "日期", "时间", "内容"],
        [1, 3000.0, 0.25, date(2025, 3, 1), datetime(2025, 3, 1, 9, 30), "=1+1"],
        [None, None, None, None, None, None],
        [2, 12.5, 1, datetime(2025, 4, 2), None, "  有空格  "],
    ]
    table = table_read(data=xlsx_bytes(rows))
    assert table.columns == ["编号", "金额", "比例", "日期", "时间", "内容"]
    assert table.rows == [
        (
            2,
            {
                "编号": "1",
                "金额": "3000",
                "比例": "0.25",
                "日期": "2025-03-01",
                "时间": "2025-03-01 09:30:00",
                "内容": "=1+1",
            },
        ),
        (4, {"编号": "2", "金额": "12.5", "比例": "1", "日期": "2025-04-02", "时间": "", "内容": "有空格"}),
    ]


def test_an_excel_file_named_csv_is_read_as_excel_by_its_content():
    # Judged by content: the name plays no part (the parser is not even told it).
    assert table_read(data=xlsx_bytes(TICKETS)).columns == ["工单号", "来电内容", "来电人"]


def problem(data: bytes) -> str:
    with pytest.raises(BatchInputInvalid) as caught:
        table_read(data=data)
    assert list(caught.value.fields) == ["file"]
    return str(caught.value)


def test_empty_files():
    assert "空" in problem(b"")
    assert "空" in problem(b"\n\n  \n")
    assert "空" in problem(b"\xef\xbb\xbf")
    assert "没有数据行" in problem("工单号,内容\n".encode())
    assert "没有数据行" in problem(xlsx_bytes([["工单号", "内容"]]))


def test_duplicate_headers_are_named():
    message = problem("工单号,内容,内容,备注,备注\n1,2,3,4,5\n".encode())
    assert "列名重复" in message and "内容、备注" in message


def test_data_in_a_column_without_a_header_is_refused():
    assert "第 3 行" in problem("工单号,,内容\n1,,a\n2,x,b\n".encode())
    assert "第 2 行" in problem("工单号,内容\n1,a,多出来的\n".encode())
    # An unnamed column with nothing in it is simply left out.
    assert table_read(data="工单号,,内容\n1,,a\n".encode()).columns == ["工单号", "内容"]


def test_files_that_are_not_tables():
    assert "不是 CSV 或 Excel" in problem(b"%PDF-1.7\n1 0 obj\n")
    assert "不是 CSV 或 Excel" in problem(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert ".xls" in problem(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert "无法识别" in problem(bytes(range(256)) * 4)
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    assert "不是 CSV 或 Excel" in problem(buffer.getvalue())
    damaged = xlsx_bytes(TICKETS)
    assert "Excel" in problem(damaged[: len(damaged) // 2])


def test_row_and_size_limits(settings):
    settings.SHUZHI_BATCH_MAX_ROWS = 3
    rows = [["问题"], *[[f"第{n}个问题"] for n in range(4)]]
    assert "最多 3 行" in problem(csv_bytes(rows))
    assert "最多 3 行" in problem(xlsx_bytes(rows))
    assert len(table_read(data=csv_bytes(rows[:4])).rows) == 3
    settings.SHUZHI_BATCH_MAX_MB = 1
    assert "1 MB" in problem(("问题\n" + "很长的问题\n" * 80000).encode())


def rebuilt_xlsx(data: bytes, *, sheet_padding: int = 0, extra_members: int = 0) -> bytes:
    """A real workbook rewritten: its first sheet padded with ``sheet_padding`` spaces (which deflate
    to almost nothing) and ``extra_members`` tiny members added."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml" and sheet_padding:
                opening, rest = content.split(b">", 1)  # padding goes after the <worksheet> tag
                with archive.open(info.filename, "w") as member:
                    member.write(opening + b">")
                    left = sheet_padding
                    while left:
                        member.write(b" " * min(left, 1 << 20))
                        left -= min(left, 1 << 20)
                    member.write(rest)
            else:
                archive.writestr(info.filename, content)
        for n in range(extra_members):
            archive.writestr(f"customXml/item{n}.xml", b"<a/>")
    return buffer.getvalue()


def test_an_excel_zip_bomb_is_refused_before_it_is_opened():
    # ~0.3 MB on disk, a 256 MB sheet once decompressed: beyond the 200 MB the upload rule allows.
    bomb = rebuilt_xlsx(xlsx_bytes(TICKETS), sheet_padding=256 << 20)
    assert len(bomb) < 1_000_000
    assert problem(bomb) == "Excel 文件解压后体积过大或压缩比异常（疑似压缩炸弹），已拒绝处理。"


def test_excel_files_compressed_like_no_real_workbook_or_with_too_many_members_are_refused():
    workbook = xlsx_bytes(TICKETS)
    # A 2 MB sheet of spaces compresses about a thousand times: no real sheet does that.
    assert "疑似压缩炸弹" in problem(rebuilt_xlsx(workbook, sheet_padding=2 << 20))
    assert "疑似压缩炸弹" in problem(rebuilt_xlsx(workbook, extra_members=10_000))
    # Padding below the ratio check and a few more members: the workbook reads as before.
    assert (
        table_read(data=rebuilt_xlsx(workbook, sheet_padding=512 << 10, extra_members=10)).rows
        == table_read(data=workbook).rows
    )


def test_the_zip_bomb_message_is_translated():
    from django.utils import translation

    bomb = rebuilt_xlsx(xlsx_bytes(TICKETS), sheet_padding=2 << 20)
    with translation.override("en"):
        assert problem(bomb).startswith("The Excel file would be too large once decompressed")
