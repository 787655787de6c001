"""Quotas and rate limits: per department, per member and per API key, on every entry point, counted once."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

from agents.models import Conversation, Run
from agents.runtime.metering import run_meter, usage_day
from agents.runtime.pipeline import run_execute
from tenants.models import DepartmentQuota, RateWindow, TokenUsage
from tenants.quotas import QuotaExceeded, quota_check, rate_windows_prune, tokens_used
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.factories import make_api_key
from tests.fakes.openai_server import Reply


def _fill_minutes(subject: str, count: int) -> None:
    """Use up ``subject``'s requests in this minute and the next (a test may cross a minute boundary)."""
    now = timezone.now().replace(second=0, microsecond=0)
    for minute in (now, now + timedelta(minutes=1)):
        RateWindow.objects.update_or_create(subject=subject, minute=minute, defaults={"count": count})


def test_no_quota_means_no_limit_and_nothing_counted(tenant_a, tenant_b):
    for _ in range(5):
        quota_check(department_id=tenant_a.department.pk, user_id=tenant_a.staff.pk)
    assert not RateWindow.objects.exists()


def test_requests_per_minute_of_a_department_are_counted_across_its_people(tenant_a, tenant_b):
    DepartmentQuota.objects.create(department=tenant_a.department, requests_per_minute=1000)
    _fill_minutes(f"d:{tenant_a.department.pk}", 1000)
    with pytest.raises(QuotaExceeded) as refused:
        quota_check(department_id=tenant_a.department.pk, user_id=tenant_a.reviewer.pk)
    assert "本部门" in str(refused.value) and "每分钟最多 1000 次" in str(refused.value)
    assert 1 <= refused.value.retry_after <= 61
    # Department B has its own count.
    DepartmentQuota.objects.create(department=tenant_b.department, requests_per_minute=1000)
    quota_check(department_id=tenant_b.department.pk, user_id=tenant_b.staff.pk)


def test_each_member_has_their_own_per_minute_limit(tenant_a, tenant_b):
    DepartmentQuota.objects.create(department=tenant_a.department, user_requests_per_minute=3)
    _fill_minutes(f"u:{tenant_a.staff.pk}", 3)
    with pytest.raises(QuotaExceeded) as refused:
        quota_check(department_id=tenant_a.department.pk, user_id=tenant_a.staff.pk)
    assert "您个人" in str(refused.value)
    quota_check(department_id=tenant_a.department.pk, user_id=tenant_a.reviewer.pk)  # a colleague is not affected


def test_token_limits_per_day_and_month_answer_with_the_time_until_they_reset(tenant_a, tenant_b):
    key, _secret = make_api_key(tenant_a.department, tokens_per_day=500, tokens_per_month=10_000)
    today = timezone.localdate(timezone.now(), timezone.get_default_timezone())
    TokenUsage.objects.create(subject=f"k:{key.pk}", day=today, tokens=500)
    with pytest.raises(QuotaExceeded) as refused:
        quota_check(department_id=tenant_a.department.pk, api_key=key)
    assert "该 API 密钥今日的 token 用量已达上限（500）" in str(refused.value)
    assert 0 < refused.value.retry_after <= 24 * 3600 + 1
    TokenUsage.objects.filter(subject=f"k:{key.pk}").update(tokens=100)
    if today.day > 1:  # earlier days of the month count towards the month
        TokenUsage.objects.create(subject=f"k:{key.pk}", day=today.replace(day=1), tokens=9_950)
    else:
        TokenUsage.objects.filter(subject=f"k:{key.pk}").update(tokens=499)
        key.tokens_per_month = 450
        key.save()
    with pytest.raises(QuotaExceeded) as refused:
        quota_check(department_id=tenant_a.department.pk, api_key=key)
    assert "本月" in str(refused.value) and refused.value.retry_after > 0


def test_a_run_adds_its_tokens_to_every_subject_exactly_once(tenant_a, tenant_b, fake_openai):
    fake_openai.script(Reply("补贴每月3000元。", usage={"prompt_tokens": 120, "completion_tokens": 30}))
    agent = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    DepartmentQuota.objects.create(department=tenant_a.department, user_tokens_per_day=1_000_000)
    run = run_execute(principal=tenant_a.staff, agent=agent, message="补贴多少？")
    assert run.status == Run.Status.SUCCEEDED
    assert run_meter(run=run) is False  # already metered by the run itself
    day = usage_day(run.started_at)
    used = tokens_used(subjects=[f"d:{tenant_a.department.pk}", f"u:{tenant_a.staff.pk}"], day=day)
    assert used == {f"d:{tenant_a.department.pk}": (150, 150), f"u:{tenant_a.staff.pk}": (150, 150)}


def test_a_refused_run_stores_nothing(tenant_a, tenant_b, fake_openai):
    agent = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    DepartmentQuota.objects.create(department=tenant_a.department, tokens_per_day=10)
    TokenUsage.objects.create(subject=f"d:{tenant_a.department.pk}", day=timezone.localdate(), tokens=10)
    with pytest.raises(QuotaExceeded):
        run_execute(principal=tenant_a.staff, agent=agent, message="补贴多少？")
    assert not Run.objects.exists() and not fake_openai.chat_requests


def test_the_playground_respects_the_departments_quota(tenant_a, tenant_b, login):
    agent = published_agent(tenant_a.department)
    DepartmentQuota.objects.create(department=tenant_a.department, requests_per_minute=2)
    _fill_minutes(f"d:{tenant_a.department.pk}", 2)
    response = login(tenant_a.admin).post(
        reverse("admin:agents_agent_playground", args=[agent.pk]), {"target": "draft", "message": "你好"}
    )
    assert response.status_code == 200 and "请求过于频繁" in response.content.decode()
    assert not Run.objects.exists()


def test_old_request_counts_are_pruned(tenant_a, tenant_b):
    old = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=30)
    RateWindow.objects.create(subject="d:1", minute=old, count=3)
    _fill_minutes("d:2", 1)
    assert rate_windows_prune() == 1
    assert RateWindow.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_the_chat_answers_429_with_retry_after_and_a_sentence(tenant_a, tenant_b, fake_openai):
    def setup():
        agent = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
        DepartmentQuota.objects.create(department=tenant_a.department, user_requests_per_minute=5)
        _fill_minutes(f"u:{tenant_a.staff.pk}", 5)
        return agent

    agent = await sync_to_async(setup)()
    client = AsyncClient()
    await client.aforce_login(tenant_a.staff)
    response = await client.post(reverse("chat:send", args=[agent.pk]), {"message": "你好"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    assert "请求过于频繁" in json.loads(response.content)["error"]
    assert not await Run.objects.aexists() and not await Conversation.objects.aexists()
