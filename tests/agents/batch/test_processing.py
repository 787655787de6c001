"""A real Celery worker runs batch jobs against the loopback model server."""

from __future__ import annotations

import pytest

from agents.models import BatchJob, BatchRow, Run
from tests.agents.batch.helpers import chat_agent, key_for, submit, tickets

pytestmark = pytest.mark.django_db(transaction=True)


def finished(job):
    job.refresh_from_db()
    return job.status == BatchJob.Status.FINISHED


def test_a_job_runs_every_row_once_with_the_endpoint_concurrency(
    celery_worker, fake_openai, tenant_a, tenant_b, wait_for
):
    fake_openai.first_token_delay = 0.05
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=3)
    key, _secret = key_for(agent)
    job = submit(key, agent, tickets(20))
    wait_for(lambda: finished(job), timeout=60)
    assert (job.total, job.done, job.failed) == (20, 20, 0)
    assert job.percent == 100
    assert len(fake_openai.chat_requests) == 20
    asked = sorted(r["body"]["messages"][-1]["content"] for r in fake_openai.chat_requests)
    assert asked == sorted(f"第{i}号工单：小区路灯坏了" for i in range(1, 21))
    assert 1 < fake_openai.max_active <= 3
    runs = Run.objects.filter(via=Run.Via.BATCH, api_key=key)
    assert runs.count() == 20 and set(runs.values_list("status", flat=True)) == {Run.Status.SUCCEEDED}
    rows = BatchRow.objects.filter(job=job)
    assert set(rows.values_list("status", flat=True)) == {BatchRow.Status.SUCCEEDED}
    assert set(rows.values_list("run_id", flat=True)) == set(runs.values_list("pk", flat=True))


def test_a_job_taken_by_several_processes_still_runs_each_row_once(
    celery_worker, fake_openai, tenant_a, tenant_b, settings, wait_for
):
    settings.SHUZHI_BATCH_PROCESSES = 3
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=2)
    key, _secret = key_for(agent)
    job = submit(key, agent, tickets(8))
    wait_for(lambda: finished(job), timeout=60)
    assert (job.done, job.failed) == (8, 0)
    asked = sorted(r["body"]["messages"][-1]["content"] for r in fake_openai.chat_requests)
    assert asked == sorted(f"第{i}号工单：小区路灯坏了" for i in range(1, 9))


def test_a_token_limit_pauses_the_job_with_the_reason_and_resume_finishes_it(
    celery_worker, fake_openai, tenant_a, tenant_b, wait_for
):
    from agents.batch.services import batch_job_resume
    from tenants.models import ApiKey

    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=1)
    key, _secret = key_for(agent, tokens_per_day=1)
    job = submit(key, agent, tickets(5))

    def paused():
        job.refresh_from_db()
        return job.status == BatchJob.Status.PAUSED

    wait_for(paused, timeout=60)
    assert "token" in job.status_reason and "上限" in job.status_reason
    assert (job.done, job.failed) == (1, 0)
    assert BatchRow.objects.filter(job=job, status=BatchRow.Status.PENDING).count() == 4
    assert len(fake_openai.chat_requests) == 1

    ApiKey.objects.filter(pk=key.pk).update(tokens_per_day=None)
    batch_job_resume(job=job)
    wait_for(lambda: finished(job), timeout=60)
    assert (job.done, job.failed, job.status_reason) == (5, 0, "")
    assert len(fake_openai.chat_requests) == 5


def test_a_per_minute_limit_waits_and_says_so_instead_of_failing_rows(
    celery_worker, fake_openai, tenant_a, tenant_b, wait_for
):
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=2)
    key, _secret = key_for(agent, requests_per_minute=2)
    job = submit(key, agent, tickets(3))

    def waiting():
        job.refresh_from_db()
        return job.status == BatchJob.Status.FINISHED or "每分钟" in job.status_reason

    wait_for(waiting, timeout=60)
    if job.status != BatchJob.Status.FINISHED:  # the test may start just before a minute turns
        assert job.status == BatchJob.Status.RUNNING and "自动继续" in job.status_reason
    wait_for(lambda: finished(job), timeout=90)
    assert (job.done, job.failed, job.status_reason) == (3, 0, "")
    assert len(fake_openai.chat_requests) == 3


def test_a_revoked_key_pauses_the_job_and_it_cannot_be_resumed(
    celery_worker, fake_openai, tenant_a, tenant_b, wait_for
):
    from agents.batch.services import BatchStateInvalid, batch_job_resume
    from tenants.api_keys import api_key_revoke

    fake_openai.first_token_delay = 0.2
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=1)
    key, _secret = key_for(agent)
    job = submit(key, agent, tickets(30))
    wait_for(lambda: BatchRow.objects.filter(job=job, status=BatchRow.Status.SUCCEEDED).count() >= 2)
    api_key_revoke(key=key, by=tenant_a.admin)

    def paused():
        job.refresh_from_db()
        return job.status == BatchJob.Status.PAUSED

    wait_for(paused, timeout=30)
    assert "吊销" in job.status_reason
    wait_for(lambda: not BatchRow.objects.filter(job=job, status=BatchRow.Status.RUNNING).exists(), timeout=30)
    requests = len(fake_openai.chat_requests)
    assert requests < 30
    assert BatchRow.objects.filter(job=job, status=BatchRow.Status.PENDING).count() == 30 - requests
    with pytest.raises(BatchStateInvalid, match="吊销"):
        batch_job_resume(job=job)
    job.refresh_from_db()
    assert job.status == BatchJob.Status.PAUSED


def test_a_submitter_who_may_no_longer_use_the_agent_pauses_the_job(
    celery_worker, fake_openai, tenant_a, tenant_b, wait_for
):
    from tenants.models import Membership

    fake_openai.first_token_delay = 0.2
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=1)
    job = submit(tenant_a.staff, agent, tickets(30))
    wait_for(lambda: BatchRow.objects.filter(job=job, status=BatchRow.Status.SUCCEEDED).exists())
    Membership.objects.filter(user=tenant_a.staff).delete()

    def paused():
        job.refresh_from_db()
        return job.status == BatchJob.Status.PAUSED

    wait_for(paused, timeout=30)
    assert "无权使用" in job.status_reason
    assert job.done < 30


def test_pause_and_resume_run_each_row_once(celery_worker, fake_openai, tenant_a, tenant_b, wait_for):
    from agents.batch.services import batch_job_pause, batch_job_resume

    fake_openai.first_token_delay = 0.1
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=2)
    key, _secret = key_for(agent)
    job = submit(key, agent, tickets(24))
    wait_for(lambda: BatchRow.objects.filter(job=job, status=BatchRow.Status.SUCCEEDED).count() >= 4)
    batch_job_pause(job=job)
    assert job.status == BatchJob.Status.PAUSED and job.status_reason
    wait_for(lambda: not BatchRow.objects.filter(job=job, status=BatchRow.Status.RUNNING).exists(), timeout=30)
    job.refresh_from_db()
    at_pause = len(fake_openai.chat_requests)
    assert job.done == at_pause < 24
    batch_job_resume(job=job)
    wait_for(lambda: finished(job), timeout=60)
    assert (job.done, job.failed) == (24, 0)
    asked = [r["body"]["messages"][-1]["content"] for r in fake_openai.chat_requests]
    assert sorted(asked) == sorted(f"第{i}号工单：小区路灯坏了" for i in range(1, 25))


def test_cancel_stops_the_job_and_the_runs_in_flight(celery_worker, fake_openai, tenant_a, tenant_b, wait_for):
    from agents.batch.services import BatchStateInvalid, batch_job_cancel, batch_job_resume

    fake_openai.first_token_delay = 0.1
    fake_openai.chunk_delay = 0.2
    fake_openai.reply = "这是一个需要较长时间才能说完的回答。"
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=2)
    key, _secret = key_for(agent)
    job = submit(key, agent, tickets(20))
    wait_for(lambda: BatchRow.objects.filter(job=job, status=BatchRow.Status.RUNNING, run__isnull=False).exists())
    batch_job_cancel(job=job)
    wait_for(lambda: not BatchRow.objects.filter(job=job, status=BatchRow.Status.RUNNING).exists(), timeout=30)
    job.refresh_from_db()
    assert job.status == BatchJob.Status.CANCELLED and job.finished_at is not None
    stopped = BatchRow.objects.filter(job=job, status=BatchRow.Status.FAILED)
    assert stopped.exists() and all("停止" in r.error for r in stopped)
    assert BatchRow.objects.filter(job=job, status=BatchRow.Status.PENDING).count() >= 16
    with pytest.raises(BatchStateInvalid):
        batch_job_resume(job=job)


def test_a_retrieval_only_agent_answers_every_row_from_its_knowledge_base(
    celery_worker, fake_openai, tenant_a, tenant_b, wait_for
):
    from tests.agents.runtime.helpers import policy_knowledge_base, published_agent

    agent = published_agent(tenant_a.department, knowledge_bases=[policy_knowledge_base(tenant_a.department)])
    key, _secret = key_for(agent)
    rows = [[f"T{i}", "博士来本区工作有什么安居补贴？", ""] for i in range(6)]
    job = submit(key, agent, rows)
    wait_for(lambda: finished(job), timeout=60)
    assert (job.done, job.failed) == (6, 0)
    runs = Run.objects.filter(via=Run.Via.BATCH, api_key=key)
    assert runs.count() == 6 and all(r.retrieval_only and "3000" in r.answer for r in runs)
    assert fake_openai.chat_requests == []
