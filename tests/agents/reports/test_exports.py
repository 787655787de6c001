"""Report tables exported as CSV and Excel: the CSV parses, the workbook opens with openpyxl, both hold the same rows
as the page's table, and nothing in a cell runs as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from agents.reports.exports import Column, table_csv, table_xlsx
from agents.runtime.pipeline import run_execute
from tests.agents.runtime.helpers import published_agent

COLUMNS = [
    Column("label", "名称"),
    Column("runs", "运行次数", "int"),
    Column("satisfaction", "满意度", "ratio"),
    Column("cost", "估算费用（元）", "money"),
    Column("day", "日期", "date"),
]
ROWS = [
    {
        "label": "政策问答",
        "runs": 1200,
        "satisfaction": 0.8571428,
        "cost": Decimal("12.345678"),
        "day": date(2025, 3, 1),
    },
    {"label": "执法文书", "runs": 3, "satisfaction": None, "cost": Decimal("0"), "day": date(2025, 3, 2)},
]


def parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def parse_xlsx(data: bytes) -> list[list]:
    return [list(row) for row in load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True)]


def same(csv_cell: str, xlsx_cell) -> bool:
    """A CSV cell and an Excel cell say the same thing (numbers compared as numbers, dates as dates; the CSV's
    apostrophe before text that starts like a formula is how CSV keeps it text)."""
    if csv_cell[:2] in ("'=", "'+", "'-", "'@"):
        csv_cell = csv_cell[1:]
    if xlsx_cell is None:
        return csv_cell == ""
    if isinstance(xlsx_cell, datetime):
        return csv_cell in (xlsx_cell.date().isoformat(), xlsx_cell.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(xlsx_cell, (int, float)):
        return float(csv_cell) == pytest.approx(float(xlsx_cell))
    return csv_cell == str(xlsx_cell)


def test_csv_and_xlsx_hold_the_same_rows_with_numbers_as_numbers():
    from_csv = parse_csv(table_csv(columns=COLUMNS, rows=ROWS))
    from_xlsx = parse_xlsx(table_xlsx(title="智能体排行", columns=COLUMNS, rows=ROWS))
    assert from_csv[0] == from_xlsx[0] == ["名称", "运行次数", "满意度", "估算费用（元）", "日期"]
    assert from_csv[1] == ["政策问答", "1200", "0.8571", "12.35", "2025-03-01"]
    assert from_xlsx[1][:4] == ["政策问答", 1200, 0.8571, 12.35]
    assert from_xlsx[2][2] is None and from_csv[2][2] == ""
    assert len(from_csv) == len(from_xlsx) == 3
    for csv_row, xlsx_row in zip(from_csv, from_xlsx, strict=True):
        assert all(same(c, x) for c, x in zip(csv_row, xlsx_row, strict=True)), (csv_row, xlsx_row)


def test_the_workbook_shows_ratios_as_percentages_and_names_its_sheet():
    sheet = load_workbook(io.BytesIO(table_xlsx(title="用户排行: 本周/上周", columns=COLUMNS, rows=ROWS))).active
    assert sheet.title == "用户排行  本周 上周"
    assert sheet["C2"].number_format == "0.0%" and sheet["B2"].number_format == "#,##0"
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"


def test_text_that_looks_like_a_formula_stays_text():
    rows = [{"label": '=HYPERLINK("http://evil.example","点我")', "runs": 1}, {"label": "+1-2", "runs": 2}]
    columns = COLUMNS[:2]
    from_csv = parse_csv(table_csv(columns=columns, rows=rows))
    assert from_csv[1][0] == '\'=HYPERLINK("http://evil.example","点我")' and from_csv[2][0] == "'+1-2"
    sheet = load_workbook(io.BytesIO(table_xlsx(title="t", columns=columns, rows=rows))).active
    assert sheet["A2"].data_type == "s" and sheet["A2"].value.startswith("=HYPERLINK")
    assert sheet["A3"].data_type == "s"


@pytest.mark.parametrize("table", ["trend", "agents", "departments", "scenarios", "users"])
def test_every_overview_table_downloads_as_csv_and_excel_with_the_pages_rows(login, tenant_a, tenant_b, table):
    agent = published_agent(tenant_a.department, name="=政策助手")
    for i in range(2):
        run_execute(principal=tenant_a.staff, agent=agent, message=f"问题{i}")
    client = login(tenant_a.leader)
    url = reverse("reports:home")
    page = client.get(f"{url}?format=json").json()["tables"][table]
    csv_response = client.get(f"{url}?export=csv&table={table}")
    xlsx_response = client.get(f"{url}?export=xlsx&table={table}")
    assert csv_response["Content-Type"].startswith("text/csv")
    assert xlsx_response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f"-{table}-" in csv_response["Content-Disposition"] and ".xlsx" in xlsx_response["Content-Disposition"]
    from_csv, from_xlsx = parse_csv(csv_response.content), parse_xlsx(xlsx_response.content)
    assert from_csv[0] == from_xlsx[0] == [c["label"] for c in page["columns"]]
    assert len(from_csv) == len(from_xlsx) == len(page["rows"]) + 1 and len(page["rows"]) >= 1
    for csv_row, xlsx_row in zip(from_csv, from_xlsx, strict=True):
        assert all(same(c, x) for c, x in zip(csv_row, xlsx_row, strict=True)), (csv_row, xlsx_row)
    runs_column = [c["key"] for c in page["columns"]].index("runs")
    assert sum(float(row[runs_column] or 0) for row in from_csv[1:]) == 2
    if table == "agents":
        assert from_csv[1][0] == "'=政策助手" and from_xlsx[1][0] == "=政策助手"


def test_an_agents_runs_download_holds_every_run_of_the_period_not_one_page(login, tenant_a, tenant_b):
    from agents.reports.views import RUNS_PER_PAGE

    agent = published_agent(tenant_a.department, name="政策助手")
    for i in range(RUNS_PER_PAGE + 1):
        run_execute(principal=tenant_a.staff, agent=agent, message=f"问题{i}")
    client = login(tenant_a.leader)
    url = reverse("reports:agent_runs", args=[agent.pk])
    html = client.get(url).content.decode()
    assert html.count('<tr class="status-') == RUNS_PER_PAGE and "第 1 / 2 页" in html
    rows = parse_csv(client.get(f"{url}?export=csv&table=runs").content)
    assert len(rows) == RUNS_PER_PAGE + 2 and rows[0][0] == "开始时间"
    assert all(row[4] == "完成" for row in rows[1:])
