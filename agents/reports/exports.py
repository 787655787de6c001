"""Report tables as CSV and Excel files: the same columns and rows the page shows, numbers kept as numbers."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

from django.http import HttpResponse
from django.utils import timezone

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")

# Text a spreadsheet would run as a formula (CSV injection): such cells are written as plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Excel's number formats per column kind (the values stay numbers, the cells show them like the page).
_XLSX_FORMATS = {
    "int": "#,##0",
    "ratio": "0.0%",
    "money": "#,##0.00",
    "ms": "#,##0",
    "hours": "#,##0.0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}


@dataclass(frozen=True)
class Column:
    """One column of a report table: the row key it reads, its heading, and how its values read.

    ``kind``: text, int, ratio (a fraction shown as a percentage), money (yuan), ms, hours, date, datetime.
    """

    key: str
    label: str
    kind: str = "text"


def cell_value(value, kind: str):
    """A row's value as it goes into a file: numbers as numbers, times in local time, nothing as empty."""
    if value is None:
        return None
    if kind == "ratio":
        return round(float(value), 4)
    if kind == "money":
        return round(float(value), 2)
    if kind == "hours":
        return round(float(value), 1)
    if kind in ("int", "ms"):
        return round(float(value))
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, (date, int, float, Decimal)):
        return value
    return str(value)


def _rows(columns: Sequence[Column], rows: Iterable[dict]) -> Iterable[list]:
    for row in rows:
        yield [cell_value(row.get(c.key), c.kind) for c in columns]


def csv_text(value) -> str:
    """A value as CSV text; text that a spreadsheet would run as a formula is kept as plain text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def table_csv(*, columns: Sequence[Column], rows: Iterable[dict]) -> bytes:
    """The table as CSV: UTF-8 with a byte-order mark (so Excel reads the Chinese headings), one header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(c.label) for c in columns])
    for values in _rows(columns, rows):
        writer.writerow([csv_text(v) for v in values])
    return buffer.getvalue().encode("utf-8-sig")


def _sheet_title(title: str) -> str:
    # Excel refuses these characters in sheet names and cuts them at 31.
    return (re.sub(r"[\[\]:*?/\\]", " ", str(title)).strip() or "Sheet")[:31]


def table_xlsx(*, title: str, columns: Sequence[Column], rows: Iterable[dict]) -> bytes:
    """The table as an Excel workbook of one sheet: bold frozen headings, numbers formatted by column kind."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _sheet_title(title)
    sheet.append([str(c.label) for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    widths = [max(8, len(str(c.label)) * 2 + 2) for c in columns]
    for r, values in enumerate(_rows(columns, rows), start=2):
        for i, (column, value) in enumerate(zip(columns, values, strict=True)):
            cell = sheet.cell(row=r, column=i + 1, value=value)
            if isinstance(value, str):
                # Never a formula, whatever the text starts with.
                cell.data_type = "s"
                widths[i] = min(60, max(widths[i], len(value) * 2 + 2))
            elif column.kind in _XLSX_FORMATS:
                cell.number_format = _XLSX_FORMATS[column.kind]
                if column.kind in ("date", "datetime"):
                    widths[i] = max(widths[i], 18)
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_response(*, fmt: str, filename: str, title: str, columns: Sequence[Column], rows: Iterable[dict]):
    """A download of the table in ``fmt`` (csv or xlsx); ``filename`` without its extension."""
    if fmt == "xlsx":
        data, content_type = table_xlsx(title=title, columns=columns, rows=rows), XLSX_TYPE
    else:
        data, content_type = table_csv(columns=columns, rows=rows), CSV_TYPE
    response = HttpResponse(data, content_type=content_type)
    name = f"{filename}.{fmt}"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return response
