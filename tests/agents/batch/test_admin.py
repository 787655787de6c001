"""Batch jobs in the admin: a department admin uploads a file, follows it, steers it and downloads the results."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.models import BatchJob, BatchRow
from tenants.models import Membership
from tenants.roles import Role
from tests.agents.batch.helpers import HEADER, chat_agent, csv_file
from tests.factories import make_user

UPLOAD = reverse("admin:agents_batchjob_upload")


def change_url(job):
    return reverse("admin:agents_batchjob_change", args=[job.pk])


def results(client, job, fmt="csv"):
    response = client.get(reverse("admin:agents_batchjob_results", args=[job.pk, fmt]))
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def phone(i):
    return f"1390013{i:04d}"


ROWS = [
    ["T1", f"张女士{phone(1)}：路灯坏了", phone(1)],
    ["T2", f"李先生{phone(2)}：噪音扰民", phone(2)],
    ["T3", "", phone(3)],  # nothing to ask: this row fails, the others go on
    ["T4", f"王女士{phone(4)}：井盖缺失", phone(4)],
]


def upload(client, agent, data, **fields):
    body = {"agent": agent.pk, "file": SimpleUploadedFile("六月工单.csv", data), "message_column": "来电内容", **fields}
    return client.post(UPLOAD, body)


@pytest.mark.django_db(transaction=True)
def test_upload_follow_and_download_with_personal_data_only_for_the_submitter(
    celery_worker, fake_openai, tenant_a, tenant_b, login, client, wait_for
):
    fake_openai.reply = "已派单，并电话联系【手机号1】。"
    agent = chat_agent(tenant_a.department, fake_openai)
    other_agent = chat_agent(tenant_b.department, fake_openai)
    login(tenant_a.admin)

    page = client.get(UPLOAD)
    assert page.status_code == 200
    offered = list(page.context["form"].fields["agent"].queryset)
    assert agent in offered and other_agent not in offered
    assert "<script>" not in page.content.decode()

    response = upload(client, agent, csv_file(ROWS, encoding="gbk"), name="六月工单分类")
    job = BatchJob.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url(job)
    assert (job.department, job.created_by, job.api_key, job.total) == (tenant_a.department, tenant_a.admin, None, 4)

    def finished():
        job.refresh_from_db()
        return job.status == BatchJob.Status.FINISHED

    wait_for(finished)
    assert (job.done, job.failed) == (3, 1)
    listing = client.get(reverse("admin:agents_batchjob_changelist")).content.decode()
    assert "六月工单分类" in listing and '<progress value="100" max="100"' in listing
    detail = client.get(change_url(job))
    html = detail.content.decode()
    assert "已完成" in html and "<progress" in html
    assert [row.number for row in detail.context["failed_rows"]] == [4]
    assert "请输入问题" in html
    assert reverse("admin:agents_batchjob_results", args=[job.pk, "xlsx"]) in html

    # The submitter gets the data they uploaded back.
    table = results(client, job)
    assert table[0] == [*HEADER, "状态", "回答", "错误", "运行编号", "AI 生成标识", "AIGC"]
    assert [row[4] for row in table[1:]] == [f"已派单，并电话联系{phone(i)}。" if i != 3 else "" for i in (1, 2, 3, 4)]
    assert [row[3] for row in table[1:]] == ["完成", "完成", "失败", "完成"]
    assert table[1][:3] == ROWS[0]

    # Another admin of the department manages the job but sees placeholders, in the answers and the uploaded columns.
    colleague = make_user()
    Membership.objects.create(user=colleague, department=tenant_a.department, role=Role.ADMIN)
    login(colleague)
    table = results(client, job)
    assert table[1][1:5] == ["张女士【手机号1】：路灯坏了", "【手机号1】", "完成", "已派单，并电话联系【手机号1】。"]
    assert not any(phone(i) in cell for row in table for cell in row for i in (1, 2, 4))


def test_upload_problems_are_shown_on_the_form_and_nothing_is_written(fake_openai, tenant_a, tenant_b, login, client):
    agent = chat_agent(tenant_a.department, fake_openai)
    foreign = chat_agent(tenant_b.department, fake_openai)
    login(tenant_a.admin)
    data = csv_file(ROWS)
    cases = [
        (upload(client, foreign, data), "agent"),
        (upload(client, agent, data, message_column="内容"), "message_column"),
        (upload(client, agent, b"%PDF-1.4"), "file"),
        (upload(client, agent, data, form_columns="ticket"), "form_columns"),
        (upload(client, agent, data, form_columns="ticket=来电内容"), "form_columns"),  # the agent has no such field
    ]
    for response, field in cases:
        assert response.status_code == 200
        assert response.context["form"].errors.get(field), (field, response.context["form"].errors)
    assert not BatchJob.objects.exists() and not BatchRow.objects.exists()


def test_pause_resume_cancel_and_other_departments_jobs(fake_openai, tenant_a, tenant_b, login, client):
    from agents.batch.services import batch_job_create

    agent = chat_agent(tenant_a.department, fake_openai)
    job = batch_job_create(
        principal=tenant_a.admin, agent=agent, file_name="工单.csv", data=csv_file(ROWS), message_column="来电内容"
    )
    login(tenant_b.admin)
    for action in ("pause", "resume", "cancel"):
        assert client.post(reverse(f"admin:agents_batchjob_{action}", args=[job.pk])).status_code == 404
    assert client.get(reverse("admin:agents_batchjob_results", args=[job.pk, "csv"])).status_code == 404
    assert client.get(change_url(job)).status_code == 404

    login(tenant_a.admin)

    def steer(action):
        response = client.post(reverse(f"admin:agents_batchjob_{action}", args=[job.pk]), follow=True)
        job.refresh_from_db()
        return [str(m) for m in response.context["messages"]]

    assert steer("pause") == ["任务已暂停。"] and job.status == BatchJob.Status.PAUSED
    assert "暂停" in client.get(change_url(job)).content.decode()
    assert steer("resume") and job.status == BatchJob.Status.QUEUED
    # A job still queued or running is not deleted: it is cancelled first.
    assert client.post(reverse("admin:agents_batchjob_delete", args=[job.pk]), {"post": "yes"}).status_code == 403
    assert steer("cancel") == ["任务已取消。"] and job.status == BatchJob.Status.CANCELLED
    assert steer("resume") == ["只有已暂停的任务可以继续。"] and job.status == BatchJob.Status.CANCELLED
    assert client.get(change_url(job)).status_code == 200
    assert client.post(reverse("admin:agents_batchjob_delete", args=[job.pk]), {"post": "yes"}).status_code == 302
    assert not BatchRow.objects.exists()
    # Staff do not reach the admin at all.
    login(tenant_a.staff)
    assert client.get(UPLOAD).status_code == 302
