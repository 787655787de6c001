"""A batch job's results as CSV (UTF-8 with BOM) or Excel: the uploaded columns, then the outcome of each row.

Columns: the file's own columns, 状态, 回答 (the text the requester may use, review-aware), one column per
output field for structured agents (the properties of the agent's output JSON Schema, from each run's
``output_data``), 错误 and 运行编号. Personal data appears only for a viewer entitled to it: the API key
that submitted the job sees its own runs' data, the person who submitted it in the admin theirs, and
members holding an unmasking role as for any run (``may_see_personal_data``). Everyone else gets
placeholders, in the answers and in the uploaded columns alike. No cell is ever a formula.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from urllib.parse import quote

from django.http import HttpResponse
from django.utils.translation import gettext as _

from ..models import BatchJob, BatchRow, Run
from ..privacy.masking import Masker, unmask
from ..reports.exports import CSV_TYPE, XLSX_TYPE, csv_text
from ..runtime.access import may_see_personal_data

FORMATS = ("csv", "xlsx")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
ROWS_PER_QUERY = 1000


def output_fields(*, job: BatchJob) -> list[str]:
    """The output fields of a structured agent (its published JSON Schema's properties), else []."""
    version = job.agent.current_version
    output = (version.snapshot.get("output") or {}) if version else {}
    if output.get("mode") != "structured":
        return []
    return list(((output.get("schema") or {}).get("properties") or {}).keys())


class _Entitlement:
    """Whether the viewer sees a run's personal data; decided once per kind of run, not once per row."""

    def __init__(self, *, job: BatchJob, viewer):
        self.job = job
        self.viewer = viewer
        self._known: dict[tuple, bool] = {}

    def __call__(self, run: Run | None) -> bool:
        viewer = self.viewer
        if run is None or viewer is None or not getattr(viewer, "is_authenticated", False):
            return False
        if getattr(viewer, "is_api_key", False):
            return viewer.is_active and run.api_key_id == viewer.pk
        key = (run.department_id, run.caller_department_id, run.api_key_id, run.user_id)
        if key not in self._known:
            own = self.job.created_by_id == viewer.pk and run.user_id == viewer.pk and viewer.is_active
            self._known[key] = own or may_see_personal_data(user=viewer, run=run)
        return self._known[key]


def result_rows(*, job: BatchJob, viewer) -> Iterator[list]:
    """The header, then one list of cell values per row, as ``viewer`` may see them."""
    fields = output_fields(job=job)
    yield [*job.columns, _("状态"), _("回答"), *fields, _("错误"), _("运行编号")]
    entitled = _Entitlement(job=job, viewer=viewer)
    statuses = dict(BatchRow.Status.choices)
    rows = (
        BatchRow.objects.filter(job=job)
        .select_related("run")
        .only(
            "number",
            "values",
            "status",
            "error",
            "run__id",
            "run__department_id",
            "run__caller_department_id",
            "run__api_key_id",
            "run__user_id",
            "run__status",
            "run__answer",
            "run__final_text",
            "run__edited_text",
            "run__review_status",
            "run__output_data",
            "run__mask_mapping",
        )
        .order_by("number")
    )
    for row in rows.iterator(chunk_size=ROWS_PER_QUERY):
        run = row.run
        mapping = json.loads(run.mask_mapping) if run is not None and run.mask_mapping else {}
        if entitled(run) or (run is None and _own_job(job, viewer)):
            show = (lambda text, m=mapping: unmask(text, m)) if mapping else str
            originals = [row.values.get(c, "") for c in job.columns]
        else:
            show = str
            masker = Masker(mapping=mapping)  # the run's own placeholders, where it has them
            originals = [masker.mask(str(row.values.get(c, ""))) for c in job.columns]
        status = statuses.get(row.status, row.status)
        answer = ""
        data = {}
        if run is not None and row.status == BatchRow.Status.SUCCEEDED:
            if run.review_status == Run.Review.PENDING:
                status = _("待审核")
            elif run.review_status == Run.Review.REJECTED:
                status = _("审核未通过")
            answer = show(run.delivered_text)
            data = _delivered_data(run, answer)
        values = [_field_text(data.get(name), show) for name in fields]
        yield [*originals, status, answer, *values, row.error, run.pk if run is not None else ""]


def _delivered_data(run: Run, answer: str) -> dict:
    """The structured result the requester may use: none while review is pending or after a rejection;
    what a reviewer (or the requester) edited, when that is still a JSON object."""
    if run.review_status in (Run.Review.PENDING, Run.Review.REJECTED) or not isinstance(run.output_data, dict):
        return {}
    if run.edited_text or run.review_status == Run.Review.EDITED:
        try:
            edited = json.loads(answer)
        except ValueError:
            return {}
        return edited if isinstance(edited, dict) else {}
    return run.output_data


def _own_job(job: BatchJob, viewer) -> bool:
    if getattr(viewer, "is_api_key", False):
        return job.api_key_id == viewer.pk and viewer.is_active
    return job.created_by_id is not None and job.created_by_id == getattr(viewer, "pk", None)


def _field_text(value, show) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return show(value)
    return show(json.dumps(value, ensure_ascii=False))


def results_csv(*, job: BatchJob, viewer) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in result_rows(job=job, viewer=viewer):
        writer.writerow([csv_text(v) for v in values])
    return buffer.getvalue().encode("utf-8-sig")


def results_xlsx(*, job: BatchJob, viewer) -> bytes:
    """An Excel workbook written row by row (constant memory per row); text is always text, never a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("结果"))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    for n, values in enumerate(result_rows(job=job, viewer=viewer)):
        cells = []
        for value in values:
            if isinstance(value, int):
                cell = WriteOnlyCell(sheet, value=value)
            else:
                cell = WriteOnlyCell(sheet, value=_ILLEGAL_XML.sub("", "" if value is None else str(value)))
                cell.data_type = "s"
            if n == 0:
                cell.font = bold
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def results_response(*, job: BatchJob, viewer, fmt: str) -> HttpResponse:
    """The results of ``job`` as a download in ``fmt`` ("csv" or "xlsx")."""
    if fmt == "xlsx":
        data, content_type = results_xlsx(job=job, viewer=viewer), XLSX_TYPE
    else:
        data, content_type = results_csv(job=job, viewer=viewer), CSV_TYPE
    response = HttpResponse(data, content_type=content_type)
    stem = re.sub(r"\.(csv|xlsx?|txt)$", "", job.file_name or "", flags=re.IGNORECASE) or f"batch-{job.pk}"
    name = _("%(name)s-结果.%(ext)s") % {"name": stem, "ext": fmt}
    ascii_name = f"batch-{job.pk}-results.{fmt}"
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return response
