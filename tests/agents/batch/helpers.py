"""Batch files and agents for the batch tests."""

from __future__ import annotations

import io

from openpyxl import Workbook

from agents.batch.services import batch_job_create
from tests.agents.factories import make_template
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.factories import make_api_key

HEADER = ["工单号", "来电内容", "来电人电话"]


def tickets(n: int, start: int = 1) -> list[list[str]]:
    """``n`` hotline tickets, each with its own text (so a test can tell the model requests apart)."""
    return [[f"T{i:05d}", f"第{i}号工单：小区路灯坏了", f"1380013{i:04d}"] for i in range(start, start + n)]


def csv_file(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    return "\r\n".join(",".join(r) for r in [header, *rows]).encode(encoding)


def xlsx_file(rows, header=HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # typed text, even when it starts with "=" (a formula would have no value here)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def chat_agent(department, fake, *, max_concurrency=4, **extra):
    endpoint = model_endpoint(department, fake, max_concurrency=max_concurrency)
    return published_agent(department, endpoint=endpoint, **extra)


CLASSIFY_SCHEMA = {
    "type": "object",
    "properties": {"category": {"type": "string"}, "urgent": {"type": "boolean"}},
    "required": ["category", "urgent"],
}


def structured_agent(department, fake, **extra):
    """A ticket classifier: a form field for the ticket text, a JSON answer with two fields."""
    template = make_template(
        department,
        body="你是12345热线工单分类助手。工单内容：{{ ticket }}",
        variables=[{"name": "ticket", "label": "工单内容", "type": "long_text"}],
    )
    return chat_agent(
        department, fake, template=template, output_mode="structured", output_schema=CLASSIFY_SCHEMA, **extra
    )


def key_for(agent, **limits):
    """A working run-scoped key of the agent's department listing the agent: (key, secret)."""
    return make_api_key(agent.department, agents=[agent], **limits)


def submit(principal, agent, rows, **extra):
    extra.setdefault("message_column", "来电内容")
    return batch_job_create(principal=principal, agent=agent, file_name="工单.csv", data=csv_file(rows), **extra)
