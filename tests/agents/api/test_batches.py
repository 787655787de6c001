"""Batch jobs over the REST API, as another system submits, follows, steers and collects them."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from agents.models import BatchJob, BatchRow, Run
from tests.agents.batch.helpers import CLASSIFY_SCHEMA, HEADER, chat_agent, csv_file, structured_agent, xlsx_file
from tests.factories import bearer, make_api_key


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def submit(client, secret, agent, data: bytes, file_name="工单.csv", **fields):
    body = {"agent": agent.identifier, "file": upload(file_name, data), **fields}
    return client.post("/api/v1/batches/", body, **bearer(secret))


def error_of(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json()["error"]


def phone(i: int) -> str:
    return f"1380013{i:04d}"


def hotline_rows(n: int) -> list[list[str]]:
    return [[f"T{i:03d}", f"第{i}号工单：来电人{phone(i)}反映小区路灯坏了", phone(i)] for i in range(1, n + 1)]


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/csv")
    data = response.content
    assert data.startswith(b"\xef\xbb\xbf")  # so Excel reads the Chinese headings
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list]:
    assert response.status_code == 200, response.content[:500]
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


def wait_finished(client, secret, job_id, wait_for) -> dict:
    def done():
        body = client.get(f"/api/v1/batches/{job_id}/", **bearer(secret)).json()
        return body if body["status"] == "finished" else None

    return wait_for(done, timeout=90)


def test_submit_follow_and_download_the_results_with_the_callers_own_data(
    celery_worker, fake_openai, tenant_a, tenant_b, client, wait_for, settings
):
    settings.SHUZHI_AI_LABEL_PROVIDER = "示范区数据局"
    fake_openai.reply = "已转市政部门处理，并电话联系【手机号1】。"
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=4)
    key, secret = make_api_key(tenant_a.department, agents=[agent])
    response = submit(
        client, secret, agent, csv_file(hotline_rows(12), encoding="gbk"), message_column="来电内容", name="六月工单"
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["agent"] == agent.identifier
    assert created["name"] == "六月工单" and created["file_name"] == "工单.csv"
    assert created["columns"] == HEADER and created["total"] == 12
    assert created["status"] in ("queued", "running", "finished")
    assert created["results"]["csv"] == f"/api/v1/batches/{created['id']}/results?format=csv"

    body = wait_finished(client, secret, created["id"], wait_for)
    assert (body["done"], body["failed"], body["percent"], body["status_label"]) == (12, 0, 100, "已完成")
    listed = client.get("/api/v1/batches/", **bearer(secret)).json()["results"]
    assert [j["id"] for j in listed] == [created["id"]]

    # The model never saw the phone numbers; the key that sent them gets them back.
    assert all(phone(1) not in json.dumps(r["body"], ensure_ascii=False) for r in fake_openai.chat_requests)
    rows = read_csv(client.get(created["results"]["csv"], **bearer(secret)))
    assert rows[0] == [*HEADER, "状态", "回答", "错误", "运行编号", "AI 生成标识", "AIGC"]
    assert len(rows) == 13
    runs = {r.pk: r for r in Run.objects.filter(api_key=key)}
    for i, row in enumerate(rows[1:], start=1):
        assert row[:3] == [f"T{i:03d}", f"第{i}号工单：来电人{phone(i)}反映小区路灯坏了", phone(i)]
        assert row[3:6] == ["完成", f"已转市政部门处理，并电话联系{phone(i)}。", ""]
        assert int(row[6]) in runs
        # The AI-generated label, visible and implicit (GB 45438's fields), on every answer.
        assert row[7] == "本内容由人工智能生成（AI 生成），仅供参考"
        implicit = json.loads(row[8])
        assert implicit["Label"] == "1" and implicit["ContentProducer"] == "示范区数据局"
        assert implicit["ProduceID"] == runs[int(row[6])].uuid.hex
    workbook = client.get(f"/api/v1/batches/{created['id']}/results", {"format": "xlsx"}, **bearer(secret))
    sheet = read_xlsx(workbook)
    assert [[str(v) for v in row] for row in sheet] == rows
    book = load_workbook(io.BytesIO(workbook.content))
    assert book.properties.keywords == "AI生成" and "人工智能生成" in book.properties.description
    properties = {p.name: p.value for p in book.custom_doc_props.props}
    assert json.loads(properties["AIGC"])["ContentProducer"] == "示范区数据局"


def test_a_structured_agent_gets_one_column_per_output_field_and_no_cell_is_a_formula(
    celery_worker, fake_openai, tenant_a, tenant_b, client, wait_for
):
    fake_openai.reply = json.dumps({"category": "市政设施", "urgent": False}, ensure_ascii=False)
    agent = structured_agent(tenant_a.department, fake_openai)
    _key, secret = make_api_key(tenant_a.department, agents=[agent])
    rows = [["T001", '=HYPERLINK("http://evil.example","点我")', phone(1)], ["T002", "+路灯坏了", phone(2)]]
    response = submit(
        client,
        secret,
        agent,
        xlsx_file(rows),
        file_name="工单.xlsx",
        form_columns=json.dumps({"ticket": "来电内容"}, ensure_ascii=False),
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["output_fields"] == list(CLASSIFY_SCHEMA["properties"])
    wait_finished(client, secret, created["id"], wait_for)

    table = read_csv(client.get(created["results"]["csv"], **bearer(secret)))
    assert table[0] == [*HEADER, "状态", "回答", "category", "urgent", "错误", "运行编号", "AI 生成标识", "AIGC"]
    assert [row[1] for row in table[1:]] == ["'" + rows[0][1], "'" + rows[1][1]]
    assert [(row[3], row[5], row[6]) for row in table[1:]] == [("完成", "市政设施", "false")] * 2
    workbook = load_workbook(io.BytesIO(client.get(created["results"]["xlsx"], **bearer(secret)).content))
    cell = workbook.worksheets[0]["B2"]
    assert cell.value == rows[0][1] and cell.data_type == "s"  # text, never run as a formula
    assert workbook.worksheets[0]["F2"].value == "市政设施"


@pytest.fixture
def classifier(tenant_a, fake_openai):
    agent = structured_agent(tenant_a.department, fake_openai)
    _key, secret = make_api_key(tenant_a.department, agents=[agent])
    return agent, secret


def nothing_written(before: int) -> None:
    assert BatchJob.objects.count() == before and not BatchRow.objects.exists()


@pytest.mark.parametrize(
    ("data", "fields", "param", "words"),
    [
        (csv_file([["T1", "路灯坏了", "1"]]), {"message_column": "内容"}, "message_column", "没有名为“内容”的列"),
        (csv_file([["T1", "路灯坏了", "1"]]), {}, "form_columns", "必填表单字段"),
        (csv_file([["T1", "路灯坏了", "1"]]), {"form_columns": '{"ticket": "工单内容"}'}, "form_columns", "没有这些列"),
        (
            csv_file([["T1", "路灯坏了", "1"]]),
            {"form_columns": '{"tciket": "来电内容"}'},
            "form_columns",
            "没有这些表单字段",
        ),
        (csv_file([["T1", "路灯坏了", "1"]]), {"form_columns": "{not json"}, "form_columns", ""),
        (csv_file([["T1", "路灯坏了", "1"]]), {"form_columns": '["来电内容"]'}, "form_columns", "JSON 对象"),
        (b"%PDF-1.4 not a table", {"message_column": "来电内容"}, "file", "不是 CSV 或 Excel"),
        ("工单号,来电内容\n".encode(), {"message_column": "来电内容"}, "file", "没有数据行"),
        ("工单号,工单号\nT1,T2\n".encode(), {"message_column": "工单号"}, "file", "列名重复"),
        (csv_file([["T1", "路灯坏了", "1"]]), {"message_column": "来电内容", "id": "7"}, "id", "未知字段"),
        (
            csv_file([["T1", "路灯坏了", "1"]]),
            {"message_column": "来电内容", "department": "1"},
            "department",
            "未知字段",
        ),
    ],
)
def test_invalid_submissions_say_what_is_wrong_and_write_nothing(classifier, client, data, fields, param, words):
    agent, secret = classifier
    before = BatchJob.objects.count()
    error = error_of(submit(client, secret, agent, data, **fields), 400)
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert words in " ".join(error["fields"][param])
    nothing_written(before)


def test_files_over_the_limits_are_refused(classifier, client, settings):
    agent, secret = classifier
    settings.SHUZHI_BATCH_MAX_MB = 1
    big = csv_file([[f"T{i}", "路灯坏了" * 20, "1"] for i in range(6000)])
    error = error_of(submit(client, secret, agent, big, form_columns='{"ticket": "来电内容"}'), 413)
    assert "1 MB" in error["message"]
    settings.SHUZHI_BATCH_MAX_MB, settings.SHUZHI_BATCH_MAX_ROWS = 20, 10
    error = error_of(submit(client, secret, agent, big, form_columns='{"ticket": "来电内容"}'), 400)
    assert "最多 10 行" in error["message"]
    nothing_written(0)


def test_agents_the_key_may_not_call_answer_404_and_write_nothing(tenant_a, tenant_b, fake_openai, client):
    own = chat_agent(tenant_a.department, fake_openai)
    unlisted = chat_agent(tenant_a.department, fake_openai)
    foreign = chat_agent(tenant_b.department, fake_openai)
    _key, secret = make_api_key(tenant_a.department, agents=[own])
    for agent in (unlisted, foreign):
        error = error_of(
            submit(client, secret, agent, csv_file([["T1", "路灯坏了", "1"]]), message_column="来电内容"), 404
        )
        assert error["type"] == "not_found_error"
    _reports_key, reports_secret = make_api_key(tenant_a.department, scopes=("reports",), agents=[own])
    error_of(submit(client, reports_secret, own, csv_file([["T1", "路灯坏了", "1"]]), message_column="来电内容"), 403)
    error_of(client.get("/api/v1/batches/"), 401)
    nothing_written(0)


def test_pause_resume_and_cancel_follow_the_jobs_state(tenant_a, tenant_b, fake_openai, client):
    agent = chat_agent(tenant_a.department, fake_openai)
    _key, secret = make_api_key(tenant_a.department, agents=[agent])
    job = submit(client, secret, agent, csv_file(hotline_rows(3)), message_column="来电内容").json()

    def post(action):
        return client.post(f"/api/v1/batches/{job['id']}/{action}", **bearer(secret))

    assert error_of(post("resume"), 409)["code"] == "invalid_state"
    paused = post("pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused" and paused.json()["status_reason"]
    assert "暂停" in error_of(post("pause"), 409)["message"]
    resumed = post("resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "queued" and not resumed.json()["status_reason"]
    cancelled = post("cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finished_at"]
    error_of(post("cancel"), 409)
    error_of(post("resume"), 409)
    # Nothing ran: every row is still waiting, as the results say.
    rows = read_csv(client.get(f"/api/v1/batches/{job['id']}/results", **bearer(secret)))
    assert [row[3] for row in rows[1:]] == ["待处理"] * 3
    error_of(client.get(f"/api/v1/batches/{job['id']}/results", {"format": "pdf"}, **bearer(secret)), 400)
