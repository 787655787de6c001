"""Redis (the task broker) down for 20 seconds: an upload and a batch submission are kept, "queued", and
say so; chat keeps answering (it never needs the broker); once Redis is back the same worker, never
restarted, processes both by itself.

Redis and the worker are real processes (a Redis of the test's own on loopback, ``celery worker`` with its
beat); the web side is this process's Django, sending to that Redis.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.models import BatchJob, Document
from config.celery import app
from tests.agents.batch.helpers import chat_agent, csv_file, key_for, tickets
from tests.agents.factories import make_knowledge_base
from tests.agents.knowledge.test_ingestion import POLICY
from tests.celery_workers import CeleryWorker, celery_connections_forget
from tests.factories import bearer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

OUTAGE_SECONDS = 20


@pytest.fixture
def sending_to(redis_server):
    """This process's Celery app sends to the test's Redis (and forgets any broker connection it had)."""
    saved = {k: app.conf[k] for k in ("broker_url", "broker_transport_options")}

    celery_connections_forget(app)
    app.conf.update(broker_url=redis_server.url, broker_transport_options={})
    yield redis_server
    celery_connections_forget(app)
    app.conf.update(saved)


def test_uploads_and_batches_wait_out_a_broker_outage_and_chat_keeps_working(
    sending_to, fake_openai, login, tenant_a, tenant_b, tmp_path, wait_for
):
    redis = sending_to
    kb = make_knowledge_base(tenant_a.department)
    agent = chat_agent(tenant_a.department, fake_openai)
    _key, secret = key_for(agent, scopes=("run", "batch"))
    worker = CeleryWorker(
        redis.url,
        tmp_path / "worker.log",
        beat=True,
        env={
            "SHUZHI_RESUME_EVERY_SECONDS": "5",
            "SHUZHI_QUEUED_RESEND_AFTER_SECONDS": "5",
            "SHUZHI_BATCH_RESUME_AFTER_SECONDS": "5",
        },
    ).wait_ready()
    try:
        redis.stop()
        down_since = time.monotonic()

        # An admin uploads a policy: it is kept, and the page says the background service is unavailable.
        client = login(tenant_a.admin)
        response = client.post(
            reverse("admin:agents_knowledgebase_upload", args=[kb.pk]),
            {"title": "", "issuer": "", "number": "", "effective_date": "", "expiry_date": "", "tags": "",
             "files": [SimpleUploadedFile("talent.txt", POLICY.encode(), content_type="text/plain")]},
            follow=True,
        )  # fmt: skip
        assert response.status_code == 200
        assert "后台任务服务暂不可用" in response.content.decode()
        document = Document.objects.get(knowledge_base=kb)
        assert document.status == Document.Status.QUEUED and document.file.storage.exists(document.file.name)

        # Another system submits a batch: accepted and kept, queued.
        client.logout()
        response = client.post(
            "/api/v1/batches/",
            {"agent": agent.identifier, "message_column": "来电内容",
             "file": SimpleUploadedFile("工单.csv", csv_file(tickets(3)), content_type="text/csv")},
            **bearer(secret),
        )  # fmt: skip
        assert response.status_code in (200, 201, 202), response.content[:500]
        job = BatchJob.objects.get(pk=response.json()["id"])
        assert job.status == BatchJob.Status.QUEUED and job.total == 3

        # Chat does not need the broker.
        response = client.post(
            f"/api/v1/agents/{agent.identifier}/runs",
            {"message": "小区路灯坏了找谁？"},
            content_type="application/json",
            **bearer(secret),
        )
        assert response.status_code == 200, response.content[:500]
        assert response.json()["text"] == fake_openai.reply

        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        redis.start()  # same port; the worker and this process reconnect by themselves

        wait_for(lambda: Document.objects.get(pk=document.pk).status == Document.Status.READY, timeout=150)
        wait_for(lambda: BatchJob.objects.get(pk=job.pk).status == BatchJob.Status.FINISHED, timeout=150)
    finally:
        worker.stop()
    assert worker.process.returncode is not None
    job.refresh_from_db()
    assert (job.done, job.failed) == (3, 0)
    assert Document.objects.get(pk=document.pk).passage_count > 0
