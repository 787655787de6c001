"""Reading an uploaded batch file: CSV (UTF-8 with or without BOM, UTF-16, GB18030/GBK) or Excel (.xlsx).

The format is judged by the content, not the file name: government systems export GBK CSV files
named ``.xls``, and Excel files arrive named ``.csv``. The first non-empty row is the header; empty
rows are skipped; each row keeps its row number in the file (the header is row 1 when it is the
first row), so errors and results point at the row the user sees in Excel. An Excel file passes the
upload rule for zip containers (``knowledge.sniffing.zip_members``) before openpyxl opens it.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.conf import settings
from django.utils.translation import gettext as _

from ..knowledge.sniffing import ArchiveCorrupt, ArchiveOversized, zip_members

_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and Excel files saved with a password
_BINARY_STARTS = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")
_DELIMITERS = (",", "\t", ";", "|")


class BatchInputInvalid(ValueError):
    """Input that cannot become a batch job: ``fields`` maps each field at fault to its messages."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = {name: [str(m) for m in messages] for name, messages in fields.items()}
        super().__init__(next(iter(self.fields.values()))[0])

    @classmethod
    def on(cls, field_name: str, message: str) -> BatchInputInvalid:
        return cls({field_name: [message]})


@dataclass
class Table:
    """The file's header and data rows: ``rows`` holds (row number in the file, {column: text})."""

    columns: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def max_rows() -> int:
    return int(getattr(settings, "SHUZHI_BATCH_MAX_ROWS", 50000))


def max_bytes() -> int:
    return int(getattr(settings, "SHUZHI_BATCH_MAX_MB", 20)) * 1024 * 1024


def table_read(*, data: bytes) -> Table:
    """The table in ``data``; raises ``BatchInputInvalid`` (field "file") saying what is wrong with it."""
    if not data or not data.strip():
        raise BatchInputInvalid.on("file", _("文件是空的。"))
    if len(data) > max_bytes():
        raise BatchInputInvalid.on(
            "file", _("文件太大：最大 %(mb)s MB。") % {"mb": getattr(settings, "SHUZHI_BATCH_MAX_MB", 20)}
        )
    if data.startswith(_ZIP):
        return _read_xlsx(data)
    if data.startswith(_OLE2):
        raise BatchInputInvalid.on(
            "file", _("不支持旧版 Excel（.xls）或加了密码的 Excel 文件，请另存为 .xlsx 或 CSV 后再上传。")
        )
    if data.startswith(_BINARY_STARTS):
        raise BatchInputInvalid.on("file", _("这不是 CSV 或 Excel 文件。请上传 .csv 或 .xlsx 文件。"))
    return _read_csv(_decode(data))


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]  # Excel's "Unicode text" export
    else:
        # Government systems and Excel on Chinese Windows export GBK; GB18030 is its superset.
        encodings = ["utf-8", "gb18030"]
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_binary(text):
            break
        return text
    raise BatchInputInvalid.on(
        "file", _("无法识别文件内容：请上传 UTF-8 或 GBK 编码的 CSV 文件，或 .xlsx 格式的 Excel 文件。")
    )


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    if "\x00" in sample:
        return True
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\f\v")
    return controls > max(2, len(sample) // 100)


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(text: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        return _table((reader.line_num, record) for record in reader)
    except csv.Error as exc:
        raise BatchInputInvalid.on(
            "file", _("CSV 格式有误（第 %(line)s 行附近）：%(reason)s") % {"line": reader.line_num, "reason": exc}
        ) from None


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    # The upload rule for zip containers, before openpyxl decompresses anything.
    try:
        names = set(zip_members(data))
    except ArchiveCorrupt:
        names = set()
    except ArchiveOversized:
        raise BatchInputInvalid.on(
            "file", _("Excel 文件解压后体积过大或压缩比异常（疑似压缩炸弹），已拒绝处理。")
        ) from None
    if "xl/workbook.xml" not in names:
        raise BatchInputInvalid.on("file", _("这不是 CSV 或 Excel 文件。请上传 .csv 或 .xlsx 文件。"))
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise BatchInputInvalid.on("file", _("无法读取该 Excel 文件，请确认文件没有损坏。")) from None
    try:
        if not workbook.worksheets:
            raise BatchInputInvalid.on("file", _("文件是空的。"))
        sheet = workbook.worksheets[0]
        try:
            return _table(
                (number, [_cell_text(value) for value in values])
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
            )
        except BatchInputInvalid:
            raise
        except Exception:
            raise BatchInputInvalid.on("file", _("无法读取该 Excel 文件，请确认文件没有损坏。")) from None
    finally:
        workbook.close()


def _cell_text(value) -> str:
    """An Excel cell as the text a person sees in it (whole numbers without ".0", dates as dates)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else format(value, ".15g")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _table(records) -> Table:
    """Header and rows from (row number, cells) pairs."""
    limit = max_rows()
    header: list[str] | None = None
    unnamed: set[int] = set()
    table = Table(columns=[])
    for number, record in records:
        cells = [str(c).strip() for c in record]
        if not any(cells):
            continue
        if header is None:
            header = _header(cells)
            unnamed = {i for i, name in enumerate(header) if not name}
            table.columns = [name for name in header if name]
            continue
        extra = [c for c in cells[len(header) :] if c]
        if extra or any(cells[i] for i in unnamed if i < len(cells)):
            raise BatchInputInvalid.on(
                "file", _("第 %(row)s 行有数据的列没有列名，请在第一行补上列名。") % {"row": number}
            )
        if len(table.rows) >= limit:
            raise BatchInputInvalid.on(
                "file", _("行数超过上限：每个文件最多 %(limit)s 行数据，请拆分后分别上传。") % {"limit": limit}
            )
        values = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
        table.rows.append((number, values))
    if header is None:
        raise BatchInputInvalid.on("file", _("文件是空的。"))
    if not table.rows:
        raise BatchInputInvalid.on("file", _("文件中只有列名，没有数据行。"))
    return table


def _header(cells: list[str]) -> list[str]:
    while cells and not cells[-1]:
        cells.pop()
    names = [c for c in cells if c]
    duplicates = sorted({n for n in names if names.count(n) > 1}, key=names.index)
    if duplicates:
        raise BatchInputInvalid.on(
            "file", _("列名重复：%(names)s。请让每一列的列名各不相同。") % {"names": "、".join(duplicates)}
        )
    return cells
