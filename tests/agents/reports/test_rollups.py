"""The usage rollups equal what the raw runs add up to: metered once as runs finish, reconciled later."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from agents.chat.services import conversation_start, run_rate
from agents.models import DepartmentUsage, Run, UsageCounter
from agents.models.runs import LATENCY_BUCKETS_MS
from agents.reports.rollups import usage_day_rebuild, usage_rebuild, usage_reconcile
from agents.runtime.metering import run_meter
from agents.runtime.pipeline import run_execute
from agents.runtime.review import Decision, run_review
from tests.agents.reports.usage import (
    bulk_runs,
    counter_rows,
    department_rows,
    local_day,
    raw_department_usage,
    raw_rollups,
    raw_usage,
    rollups,
)
from tests.agents.runtime.helpers import model_endpoint, policy_knowledge_base, published_agent
from tests.factories import make_tenant


def _today():
    return local_day(timezone.now())


@pytest.fixture
def a1(tenant_a):
    """A section below department A."""
    return make_tenant("甲局一科", parent=tenant_a.department)


@pytest.fixture
def volume(tenant_a, tenant_b, a1):
    """Published agents of A and B (B's granted to A) and the people who call them."""
    agents = [
        published_agent(tenant_a.department, minutes_saved=12),
        published_agent(tenant_a.department, minutes_saved=30),
        published_agent(tenant_b.department, minutes_saved=8),
    ]
    callers = [
        (tenant_a.department, tenant_a.staff),
        (tenant_a.department, tenant_a.leader),
        (a1.department, a1.staff),
        (tenant_b.department, tenant_b.staff),
        (tenant_b.department, None),  # an API key of B: no person
    ]
    return agents, callers


def test_runs_through_the_runtime_are_counted_with_every_figure_and_late_feedback_is_reconciled(
    tenant_a, tenant_b, fake_openai
):
    endpoint = model_endpoint(tenant_a.department, fake_openai, price_input_per_1k="0.002", price_output_per_1k="0.008")
    drafting = published_agent(tenant_a.department, endpoint=endpoint, minutes_saved=15, requires_review=True)
    answers = published_agent(
        tenant_a.department, knowledge_bases=[policy_knowledge_base(tenant_a.department)], minutes_saved=5
    )
    answers.granted_departments.add(tenant_b.department)
    fake_openai.reply = "关于防汛工作的通知（草稿）。"
    conversation = conversation_start(user=tenant_a.staff, agent=drafting)
    first = run_execute(principal=tenant_a.staff, agent=drafting, message="起草防汛通知", conversation=conversation)
    second = run_execute(principal=tenant_a.staff, agent=drafting, message="再正式一些", conversation=conversation)
    run_execute(principal=tenant_a.staff, agent=answers, message="博士安居补贴每月多少")
    run_execute(principal=tenant_b.staff, agent=answers, message="博士安居补贴每月多少")
    fake_openai.api_key = "another-key"  # the model server refuses: a failed run
    failed = run_execute(principal=tenant_a.staff, agent=drafting, message="起草通知")
    fake_openai.api_key = None
    playground = run_execute(principal=tenant_a.admin, agent=drafting, message="试一下", draft=True)
    assert failed.status == Run.Status.FAILED and playground.version is None

    # As the runs finished, each was added once, with exactly what the raw runs say.
    assert rollups() == raw_rollups()
    staff_drafting = UsageCounter.objects.get(department=tenant_a.department, agent=drafting, user_id=tenant_a.staff.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (staff_drafting.runs, staff_drafting.failed_runs) == (3, 1)
    assert (staff_drafting.conversations_started, staff_drafting.messages) == (1, 2)
    assert staff_drafting.input_tokens == first.input_tokens + second.input_tokens + failed.input_tokens > 0
    assert staff_drafting.cost == first.cost + second.cost > 0
    assert staff_drafting.ttft_count == 2 and sum(staff_drafting.ttft_buckets) == 2
    assert staff_drafting.minutes_saved == 30  # two succeeded runs × 15 minutes, review still pending
    granted = UsageCounter.objects.get(department=tenant_b.department, agent=answers)
    assert (granted.runs, granted.minutes_saved, granted.user_id) == (1, 5, tenant_b.staff.pk)
    admin_row = UsageCounter.objects.get(agent=drafting, user_id=tenant_a.admin.pk)
    assert (admin_row.runs, admin_row.minutes_saved) == (1, 0)  # a draft run saves nobody any time

    # Ratings and review decisions come later: the counters catch up at the next reconciliation.
    run_rate(run=first, user=tenant_a.staff, rating=1)
    run_rate(run=second, user=tenant_a.staff, rating=-1)
    run_review(run=first, reviewer=tenant_a.reviewer, decision=Decision.APPROVE)
    run_review(run=second, reviewer=tenant_a.reviewer, decision=Decision.REJECT, reason="数据有误")
    assert counter_rows() != raw_usage() and department_rows() != raw_department_usage()
    assert _today() in usage_reconcile()
    assert rollups() == raw_rollups()
    staff_drafting = UsageCounter.objects.get(department=tenant_a.department, agent=drafting, user_id=tenant_a.staff.pk)
    assert (staff_drafting.rated_up, staff_drafting.rated_down) == (1, 1)
    assert (staff_drafting.reviewed, staff_drafting.approved) == (2, 1)
    assert staff_drafting.minutes_saved == 15  # the rejected draft saved nothing

    # Reconciling again changes nothing; the runs stay counted once.
    before = rollups()
    usage_reconcile()
    assert rollups() == before
    assert not run_meter(run=first)
    assert rollups() == before


def test_metering_and_rebuilding_in_any_order_count_each_run_once(tenant_a, tenant_b, volume):
    agents, callers = volume
    today = _today()
    days = [today - timedelta(days=n) for n in range(6)]
    runs = bulk_runs(callers=callers, agents=agents, days=days, count=400)
    # Half are metered as they finish, the rest wait (a worker died between closing and metering them).
    for run in runs[::2]:
        assert run_meter(run=run)
    assert sum(c["runs"] for c in counter_rows().values()) == 200
    assert sum(d["runs"] for d in department_rows().values()) == 200

    assert usage_rebuild(start=days[-1], end=today) == len(raw_usage())
    assert rollups() == raw_rollups()
    assert Run.objects.filter(metered_at__isnull=True).count() == 0
    # The processes that were to meter the other half find them counted already.
    assert not any(run_meter(run=run) for run in runs[1::2])
    assert rollups() == raw_rollups()

    before = rollups()
    usage_rebuild(start=days[-1], end=today)
    assert rollups() == before
    assert sum(c["runs"] for c in before[0].values()) == sum(d["runs"] for d in before[1].values()) == 400


def test_counters_lost_or_wrong_are_restored_from_the_runs(district, tenant_a, tenant_b, volume):
    agents, callers = volume
    today = _today()
    bulk_runs(callers=callers, agents=agents, days=[today - timedelta(days=1)], count=120, metered=True)
    assert not UsageCounter.objects.exists()
    counted = usage_day_rebuild(day=today - timedelta(days=1))
    assert counted == UsageCounter.objects.count() > 0
    assert rollups() == raw_rollups()
    UsageCounter.objects.update(runs=999)
    DepartmentUsage.objects.update(runs=999, ttft_buckets=[0] * len(LATENCY_BUCKETS_MS))
    DepartmentUsage.objects.create(day=today - timedelta(days=1), department=district, runs=5)  # none there
    assert rollups() != raw_rollups()
    usage_day_rebuild(day=today - timedelta(days=1))
    assert rollups() == raw_rollups()


def test_a_run_still_running_is_left_to_its_own_metering(tenant_a, tenant_b, volume):
    agents, _callers = volume
    running = Run.objects.create(
        department=tenant_a.department, caller_department=tenant_a.department, agent=agents[0], user=tenant_a.staff
    )
    usage_day_rebuild(day=_today())
    assert not UsageCounter.objects.exists()
    Run.objects.filter(pk=running.pk).update(status=Run.Status.SUCCEEDED, input_tokens=40, latency_ms=900)
    assert run_meter(run=running)
    assert rollups() == raw_rollups()
    usage_day_rebuild(day=_today())
    assert rollups() == raw_rollups()
    assert UsageCounter.objects.get().runs == DepartmentUsage.objects.get().runs == 1


def test_runs_finishing_while_their_day_is_rebuilt_are_counted_once(transactional_db, tenant_a, tenant_b, volume):
    agents, callers = volume
    today = _today()
    runs = bulk_runs(callers=callers, agents=agents, days=[today], count=240, seed=11)
    outcome = {run.pk: run.status for run in runs}
    Run.objects.filter(pk__in=outcome).update(status=Run.Status.RUNNING)
    errors, done = [], threading.Event()

    def finish(chunk):
        # What the runtime does as a run ends: store the outcome, then meter it.
        try:
            for run in chunk:
                Run.objects.filter(pk=run.pk).update(status=outcome[run.pk])
                run_meter(run=run)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    def reconcile():
        try:
            while not done.is_set():
                usage_day_rebuild(day=today)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    rebuilder = threading.Thread(target=reconcile)
    rebuilder.start()
    finishers = [threading.Thread(target=finish, args=(runs[i::4],)) for i in range(4)]
    for thread in finishers:
        thread.start()
    for thread in finishers:
        thread.join()
    done.set()
    rebuilder.join()
    assert not errors
    assert rollups() == raw_rollups()
    assert sum(c["runs"] for c in counter_rows().values()) == 240
    assert sum(d["runs"] for d in department_rows().values()) == 240


def test_reconciliation_covers_older_days_that_were_rated_or_reviewed_since(tenant_a, tenant_b, volume):
    agents, callers = volume
    today = _today()
    days = [today - timedelta(days=n) for n in (0, 5, 9)]
    runs = bulk_runs(callers=callers, agents=agents, days=days, count=90, seed=3)
    for run in runs:
        run_meter(run=run)
    # The first reconciliation (after an upgrade) rebuilds the whole history.
    assert set(days) <= set(usage_reconcile())
    assert rollups() == raw_rollups()

    old = next(r for r in runs if local_day(r.started_at) == days[1] and r.user_id and r.rating is None)
    run_rate(run=Run.objects.get(pk=old.pk), user=old.user, rating=-1)
    reconciled = usage_reconcile()
    assert days[1] in reconciled and days[2] not in reconciled
    assert rollups() == raw_rollups()


def test_the_reconciliation_task_runs_on_the_worker_every_quarter_hour(
    transactional_db, celery_worker, wait_for, tenant_a, tenant_b, volume
):
    from agents.tasks import reconcile_usage

    schedule = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "agents.tasks.reconcile_usage"]
    assert schedule and schedule[0]["schedule"] == 900.0
    agents, callers = volume
    bulk_runs(callers=callers, agents=agents, days=[_today()], count=50, seed=5)
    reconcile_usage.delay()
    wait_for(lambda: UsageCounter.objects.filter(reconciled_at__isnull=False).exists())
    assert rollups() == raw_rollups()


def test_any_range_of_days_can_be_rebuilt_from_the_command_line(tenant_a, tenant_b, volume, capsys):
    agents, callers = volume
    today = _today()
    days = [today - timedelta(days=n) for n in (1, 3)]
    bulk_runs(callers=callers, agents=agents, days=days, count=60, seed=9, metered=True)
    call_command("usage_rebuild", f"--start={days[1]}", f"--end={days[1]}")
    assert {key[0] for key in counter_rows()} == {days[1]}
    capsys.readouterr()
    call_command("usage_rebuild")  # the whole history: from the first run's day to the last run's
    assert f"3 day(s) from {days[1]} to {days[0]}" in capsys.readouterr().out
    assert rollups() == raw_rollups()
    with pytest.raises(CommandError):
        call_command("usage_rebuild", f"--start={today}", f"--end={days[1]}")
