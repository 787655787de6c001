"""A batch job's results as CSV (UTF-8 with BOM) or Excel: the uploaded columns, then the outcome of each row.

Columns: the file's own columns, 状态, 回答 (the text the requester may use, review-aware), one column per
output field for structured agents (the properties of the agent's output JSON Schema, from each run's
``output_data``), 错误 and 运行编号, then the AI-generated label (``agents.labels``) of each answer: the
visible label (AI 生成标识) and the implicit one (AIGC: GB 45438's metadata fields as JSON — the provider
and the run's opaque id as content ID). The implicit label is a column rather than a leading comment
row so that the header stays the first row: every CSV reader (Excel, pandas, ``csv``) reads the file as
a table and each answer keeps its own label when rows are filtered or copied. The Excel file also
carries the label in its document properties (keywords, description and a custom property AIGC). Personal data appears only for a viewer entitled to it: the API key
that submitted the job sees its own runs' data, the person who submitted it in the admin theirs, and
members holding an unmasking role, as for any run (``runtime.visibility``). Everyone else gets
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

from .. import labels
from ..models import BatchJob, BatchRow, Run
from ..privacy.masking import Masker
from ..reports.exports import CSV_TYPE, XLSX_TYPE, csv_text
from ..runtime.visibility import Viewer, may_see_personal_data, visible_run

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


def result_rows(*, job: BatchJob, viewer) -> Iterator[list]:
    """The header, then one list of cell values per row, as ``viewer`` may see them."""
    fields = output_fields(job=job)
    yield [
        *job.columns,
        _("状态"),
        _("回答"),
        *fields,
        _("错误"),
        _("运行编号"),
        str(labels.COLUMN),
        labels.METADATA_COLUMN,
    ]
    viewer = Viewer.of(viewer)
    statuses = dict(BatchRow.Status.choices)
    rows = (
        BatchRow.objects.filter(job=job)
        .select_related("run")
        .only("number", "values", "status", "error", *(f"run__{name}" for name in RUN_FIELDS))
        .order_by("number")
    )
    for row in rows.iterator(chunk_size=ROWS_PER_QUERY):
        run = row.run
        view = visible_run(run=run, viewer=viewer) if run is not None else None
        entitled = may_see_personal_data(run=run, viewer=viewer) if run is not None else _own_job(job, viewer)
        if entitled:
            originals = [row.values.get(c, "") for c in job.columns]
        else:
            # The run's own placeholders, where it has them.
            masker = Masker(mapping=json.loads(run.mask_mapping) if run is not None and run.mask_mapping else {})
            originals = [masker.mask(str(row.values.get(c, ""))) for c in job.columns]
        status = statuses.get(row.status, row.status)
        answer = ""
        data = {}
        if view is not None and view.visible and row.status == BatchRow.Status.SUCCEEDED:
            if run.review_status == Run.Review.PENDING:
                status = _("待审核")
            elif run.review_status == Run.Review.REJECTED:
                status = _("审核未通过")
            answer = view.text
            data = view.data if isinstance(view.data, dict) else {}
        values = [_field_text(data.get(name), view.show if view else str) for name in fields]
        label = labels.run_metadata(run) if (answer or any(values)) else None
        yield [
            *originals,
            status,
            answer,
            *values,
            row.error,
            run.pk if run is not None else "",
            str(labels.VISIBLE) if label else "",
            json.dumps(label, ensure_ascii=False, separators=(",", ":")) if label else "",
        ]


# What ``visible_run`` reads of each row's run (no field is loaded row by row).
RUN_FIELDS = (
    "id",
    "department_id",
    "caller_department_id",
    "api_key_id",
    "user_id",
    "via",
    "status",
    "answer",
    "reasoning",
    "final_text",
    "edited_text",
    "review_required",
    "review_status",
    "output_data",
    "mask_mapping",
    "uuid",  # the content ID of the AI-generated label
    "ai_label",
)


def _own_job(job: BatchJob, viewer: Viewer) -> bool:
    if viewer.api_key is not None:
        return job.api_key_id == viewer.api_key.pk
    return viewer.person is not None and job.created_by_id == viewer.person.pk


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
    _label_workbook(workbook, job=job)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _label_workbook(workbook, *, job: BatchJob) -> None:
    """The implicit label in the workbook's properties: its answers are AI-generated (each row's own in AIGC)."""
    from openpyxl.packaging.custom import StringProperty

    if not job.agent.ai_label:
        return
    workbook.properties.keywords = labels.KEYWORD
    workbook.properties.description = labels.COMMENT
    workbook.properties.creator = labels.provider()
    content = f"batch-{job.pk}"
    workbook.custom_doc_props.append(StringProperty(name="AIGC", value=labels.metadata_json(content=content)))


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
