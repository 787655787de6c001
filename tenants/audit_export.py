"""The audit log exported for the people who read it (CSV and Excel), each export itself recorded.

The entries come from the caller (the admin's change list, already narrowed to the reader's
departments and filters); this module writes them and records the export as a security event naming
the format, the filters and how many rows left the platform.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit
from .models import AuditEntry

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FIELDS = ("at", "actor_name", "department", "kind", "model", "object_id", "object_repr", "changes", "request_id", "via")
# A cell a spreadsheet would run as a formula (object names and changes are typed by people).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditExport:
    content: bytes
    file_name: str
    content_type: str
    rows: int


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _row(entry: AuditEntry) -> list[str]:
    values = {
        "at": timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S"),
        "department": str(entry.department) if entry.department_id and entry.department else "",
        "kind": entry.get_kind_display(),
        "changes": json.dumps(entry.changes, ensure_ascii=False, sort_keys=True),
    }
    return [_cell(values[name] if name in values else getattr(entry, name)) for name in FIELDS]


def _header() -> list[str]:
    return [str(AuditEntry._meta.get_field(name).verbose_name) for name in FIELDS]


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_header())
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode()  # the mark tells Excel the file is UTF-8


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = _("审计日志")[:31]
    sheet.append(_header())
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def audit_log_export(*, entries, user, file_format: str, filters: dict) -> AuditExport:
    """Write ``entries`` as ``file_format`` ("csv" or "xlsx") for ``user``, recording the export."""
    if file_format not in FORMATS:
        raise ValueError(f"unknown export format {file_format!r}")
    rows = [_row(entry) for entry in entries.select_related("department").iterator()]
    content = _csv(rows) if file_format == "csv" else _xlsx(rows)
    audit.event(
        kind=AuditEntry.Kind.AUDIT_EXPORTED,
        user=user,
        details={"format": file_format, "rows": len(rows), "filters": filters},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return AuditExport(
        content=content,
        file_name=f"{_('审计日志')}-{stamp}.{file_format}",
        content_type=CONTENT_TYPES[file_format],
        rows=len(rows),
    )
