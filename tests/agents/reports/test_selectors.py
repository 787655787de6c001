"""What the reports show equals what the raw runs say, for exactly the departments the viewer may see."""

import json
import math
from collections import defaultdict
from datetime import date, timedelta

import pytest
from django.utils import timezone

from agents.chat.services import run_rate
from agents.models import Agent, Run, Scenario
from agents.models.runs import LATENCY_BUCKETS_MS
from agents.reports.rollups import usage_rebuild, usage_reconcile
from agents.reports.selectors import (
    METRIC_KEYS,
    RANKINGS,
    Period,
    adoption,
    department_agents,
    overview,
    period_from,
    ranking_tables,
    rankings,
    report_department_ids,
    trend,
)
from agents.runtime.pipeline import run_execute
from tests.agents.reports.usage import bucket_of, bulk_runs, local_day, make_run
from tests.agents.runtime.helpers import published_agent
from tests.factories import make_tenant

TODAY = date(2026, 3, 18)  # a Wednesday


@pytest.fixture
def a1(tenant_a):
    return make_tenant("甲局一科", parent=tenant_a.department)


@pytest.fixture
def world(tenant_a, tenant_b, a1):
    """Sixty days of usage by A, A's section A1 and B (agents of A and B; B's granted to A), rolled up."""
    scenario, _ = Scenario.objects.get_or_create(
        key="report-test-flood-notice",
        defaults={
            "area": "emergency",
            "name": "防汛通知起草",
            "icon": "🌊",
            "description": "起草防汛通知",
            "minutes_saved": 20,
            "definition": {},
        },
    )
    agents = [
        published_agent(tenant_a.department, minutes_saved=12, area="policy"),
        published_agent(tenant_a.department, minutes_saved=30, area="documents"),
        published_agent(tenant_b.department, minutes_saved=8, area="hotline"),
    ]
    Agent.objects.filter(pk=agents[1].pk).update(scenario_key=scenario.key)
    agents[2].granted_departments.add(tenant_a.department)
    callers = [
        (tenant_a.department, tenant_a.staff),
        (tenant_a.department, tenant_a.reviewer),
        (a1.department, a1.staff),
        (tenant_b.department, tenant_b.staff),
        (tenant_b.department, None),
    ]
    # Every day but a few quiet ones (weekends of the last full week have none).
    quiet = {TODAY - timedelta(days=n) for n in (4, 5)}
    days = [TODAY - timedelta(days=n) for n in range(60) if TODAY - timedelta(days=n) not in quiet]
    bulk_runs(callers=callers, agents=agents, days=days, count=900, seed=21)
    usage_rebuild(start=TODAY - timedelta(days=60), end=TODAY)
    return {"agents": agents, "scenario": scenario}


def _caller(run) -> int:
    return run.caller_department_id or run.department_id


def _raw_runs(department_ids, period: Period) -> list[Run]:
    return [
        r
        for r in Run.objects.exclude(status=Run.Status.RUNNING).select_related("version")
        if _caller(r) in set(department_ids) and period.start <= local_day(r.started_at) <= period.end
    ]


def _nearest_rank(values: list[int], q: float):
    values = sorted(values)
    return values[math.ceil(q * len(values)) - 1] if values else None


def _raw_figures(runs: list[Run]) -> dict:
    """Every figure of the reports, aggregated by hand from raw runs (percentiles exact, not estimated)."""
    first = {}
    for run_id, conversation_id in Run.objects.filter(conversation__isnull=False).values_list("pk", "conversation"):
        first[conversation_id] = min(run_id, first.get(conversation_id, run_id))
    count = len(runs)
    up = sum(r.rating == 1 for r in runs)
    down = sum(r.rating == -1 for r in runs)
    reviewed = [r for r in runs if r.review_status in ("approved", "edited", "rejected")]
    minutes = sum(
        r.version.snapshot["minutes_saved"]
        for r in runs
        if r.status == "succeeded" and r.version is not None and r.review_status != "rejected"
    )
    ttft = [r.ttft_ms for r in runs if r.ttft_ms is not None]
    latency = [r.latency_ms for r in runs if r.latency_ms is not None]
    return {
        "conversations": sum(r.conversation_id is not None and first[r.conversation_id] == r.pk for r in runs),
        "runs": count,
        "active_users": len({r.user_id for r in runs if r.user_id is not None}),
        "messages": sum(r.conversation_id is not None for r in runs),
        "input_tokens": sum(r.input_tokens for r in runs),
        "output_tokens": sum(r.output_tokens for r in runs),
        "cost": float(round(sum((r.cost for r in runs), 0), 4)),
        "ttft_p50": _nearest_rank(ttft, 0.5),
        "ttft_p95": _nearest_rank(ttft, 0.95),
        "latency_p50": _nearest_rank(latency, 0.5),
        "latency_p95": _nearest_rank(latency, 0.95),
        "error_rate": sum(r.status != "succeeded" for r in runs) / count if count else None,
        "satisfaction": up / (up + down) if up + down else None,
        "approval_rate": sum(r.review_status != "rejected" for r in reviewed) / len(reviewed) if reviewed else None,
        "hours_saved": round(minutes / 60, 2),
    }


PERCENTILES = ("ttft_p50", "ttft_p95", "latency_p50", "latency_p95")


def _same_bucket(estimate, exact) -> bool:
    """A percentile estimated from the buckets lies in the bucket of the exact value (its bounds included)."""
    if estimate is None or exact is None:
        return estimate is None and exact is None
    i = bucket_of(exact)
    high = LATENCY_BUCKETS_MS[i + 1] if i + 1 < len(LATENCY_BUCKETS_MS) else LATENCY_BUCKETS_MS[i]
    return LATENCY_BUCKETS_MS[i] <= estimate <= high


def _assert_figures(figures: dict, raw: dict, *, percentiles: bool = True) -> None:
    for key in METRIC_KEYS:
        if key in PERCENTILES and not percentiles:
            assert key not in figures
        elif key in PERCENTILES:
            assert _same_bucket(figures[key], raw[key]), key
        elif isinstance(raw[key], float):
            assert figures[key] == pytest.approx(raw[key]), key
        else:
            assert figures[key] == raw[key], key


def test_periods_today_7_30_days_custom_and_the_previous_one():
    assert period_from({"period": "today"}, today=TODAY) == Period(TODAY, TODAY, "today")
    week = period_from({}, today=TODAY)
    assert (week.start, week.end, week.days) == (TODAY - timedelta(days=6), TODAY, 7)
    assert week.previous() == Period(TODAY - timedelta(days=13), TODAY - timedelta(days=7))
    month = period_from({"period": "30d"}, today=TODAY)
    assert month.days == 30 and month.previous().end == month.start - timedelta(days=1)
    custom = period_from({"period": "custom", "start": "2026-01-05", "end": "2026-01-18"}, today=TODAY)
    assert (custom.start, custom.end) == (date(2026, 1, 5), date(2026, 1, 18))
    assert custom.previous() == Period(date(2025, 12, 22), date(2026, 1, 4))
    assert "2026-01-05" in custom.label and "2026-01-18" in custom.label
    # An end in the future is cut to today; nonsense falls back to the last 7 days.
    assert period_from({"period": "custom", "start": "2026-03-01", "end": "2027-01-01"}, today=TODAY).end == TODAY
    for bad in (
        {"period": "custom", "start": "2026-03-10", "end": "2026-03-01"},
        {"period": "custom", "start": "yesterday"},
        {"period": "custom", "start": "2020-01-01", "end": "2026-03-01"},
        {"period": "year"},
    ):
        assert period_from(bad, today=TODAY) == week


def test_the_overview_equals_the_raw_runs_for_the_period_and_the_one_before(
    tenant_a, tenant_b, a1, world, platform_admin
):
    scope = report_department_ids(tenant_a.leader)
    assert set(scope) == {tenant_a.department.pk, a1.department.pk}
    for period in (
        Period(TODAY - timedelta(days=29), TODAY),
        Period(TODAY, TODAY),
        Period(TODAY - timedelta(days=6), TODAY),
    ):
        figures = overview(department_ids=scope, period=period)
        assert set(figures) == set(METRIC_KEYS)
        json.dumps(figures)  # plain numbers, ready for the JSON endpoints
        raw = _raw_figures(_raw_runs(scope, period))
        previous = _raw_figures(_raw_runs(scope, period.previous()))
        assert raw["runs"] > 0 and previous["runs"] > 0
        _assert_figures({k: v["value"] for k, v in figures.items()}, raw)
        _assert_figures({k: v["previous"] for k, v in figures.items()}, previous)
        for key in ("runs", "input_tokens", "satisfaction", "hours_saved", "active_users"):
            value, before = figures[key]["value"], figures[key]["previous"]
            assert figures[key]["change"] == pytest.approx((value - before) / before)
    # The platform admin's figures include B's usage too.
    month = Period(TODAY - timedelta(days=29), TODAY)
    everything = report_department_ids(platform_admin)
    assert overview(department_ids=everything, period=month)["runs"]["value"] == len(_raw_runs(everything, month))
    assert len(_raw_runs(everything, month)) > len(_raw_runs(scope, month))


def test_nothing_to_compare_with_gives_no_change_and_no_ratios(tenant_a, tenant_b):
    figures = overview(department_ids=[tenant_a.department.pk], period=Period(TODAY, TODAY))
    assert figures["runs"] == {"value": 0, "previous": 0, "change": None}
    assert figures["satisfaction"]["value"] is None and figures["latency_p95"]["value"] is None
    assert figures["error_rate"]["value"] is None and figures["approval_rate"]["value"] is None


def test_ratings_made_after_the_runs_show_after_reconciliation(tenant_a, tenant_b):
    agent = published_agent(tenant_a.department)
    runs = [run_execute(principal=tenant_a.staff, agent=agent, message=f"问题{n}") for n in range(4)]
    today = local_day(timezone.now())
    period = Period(today, today)
    scope = report_department_ids(tenant_a.leader)
    assert overview(department_ids=scope, period=period)["satisfaction"]["value"] is None
    for run, rating in zip(runs, (1, 1, 1, -1), strict=True):
        run_rate(run=run, user=tenant_a.staff, rating=rating)
    assert overview(department_ids=scope, period=period)["satisfaction"]["value"] is None
    usage_reconcile()
    figures = overview(department_ids=scope, period=period)
    assert figures["satisfaction"]["value"] == 0.75 and figures["runs"]["value"] == 4


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_trends_by_day_week_and_month_add_up_to_the_raw_runs(tenant_a, tenant_b, a1, world, grain):
    scope = report_department_ids(tenant_a.leader)
    period = Period(TODAY - timedelta(days=44), TODAY)
    rows = trend(department_ids=scope, period=period, grain=grain)
    raw = defaultdict(list)
    for run in _raw_runs(scope, period):
        day = local_day(run.started_at)
        start = {"day": day, "week": day - timedelta(days=day.weekday()), "month": day.replace(day=1)}[grain]
        raw[start].append(run)
    buckets = [row["bucket"] for row in rows]
    assert buckets == sorted(buckets) and set(raw) <= set(buckets)
    if grain == "day":
        assert len(rows) == period.days
        quiet = next(row for row in rows if row["bucket"] == TODAY - timedelta(days=4))
        assert quiet["runs"] == 0 and quiet["satisfaction"] is None
    if grain == "week":
        assert all(b.weekday() == 0 for b in buckets) and len(rows) == 7
    if grain == "month":
        assert buckets == [date(2026, 2, 1), date(2026, 3, 1)]
    for row in rows:
        _assert_figures(row, _raw_figures(raw.get(row["bucket"], [])), percentiles=False)


@pytest.mark.parametrize("by", ["agent", "department", "scenario", "user"])
def test_rankings_order_and_figures_match_the_raw_runs(tenant_a, tenant_b, a1, world, by):
    scope = [tenant_a.department.pk, a1.department.pk, tenant_b.department.pk]
    period = Period(TODAY - timedelta(days=29), TODAY)
    groups = defaultdict(list)
    for run in _raw_runs(scope, period):
        agent = run.agent
        key = {
            "agent": run.agent_id,
            "department": _caller(run),
            "scenario": agent.scenario_key or f"area:{agent.area}",
            "user": run.user_id,
        }[by]
        if key is not None:
            groups[key].append(run)
    rows = rankings(department_ids=scope, period=period, by=by)
    assert [row["key"] for row in rows] == sorted(groups, key=lambda k: (-len(groups[k]), k))
    for row in rows:
        raw = _raw_figures(groups[row["key"]])
        _assert_figures(row, raw, percentiles=False)
        assert row["tokens"] == raw["input_tokens"] + raw["output_tokens"]
        assert row["label"]
    labels = {row["key"]: row["label"] for row in rows}
    if by == "scenario":
        assert labels[world["scenario"].key] == "防汛通知起草"
        assert labels["area:hotline"] == "12345 热线（自建智能体）"
    if by == "department":
        assert labels[a1.department.pk] == "甲局一科"
    if by == "user":
        assert labels[tenant_b.staff.pk] == str(tenant_b.staff)
    assert len(rankings(department_ids=scope, period=period, by=by, limit=2)) == min(2, len(rows))
    # Read together with the others (one pass over the counters), the ranking is the same.
    together = ranking_tables(department_ids=scope, period=period, by=RANKINGS)
    assert together[by] == rankings(department_ids=scope, period=period, by=by)
    top = ranking_tables(department_ids=scope, period=period, by=RANKINGS, limit=2)[by]
    assert top == rankings(department_ids=scope, period=period, by=by, limit=2)


def test_adoption_idle_departments_and_staff_unused_agents_and_falling_satisfaction(tenant_a, tenant_b, a1):
    a2 = make_tenant("甲局二科", parent=tenant_a.department)
    falling = published_agent(tenant_a.department)
    steady = published_agent(tenant_a.department)
    sparse = published_agent(tenant_a.department)
    never = published_agent(tenant_a.department)
    published_agent(tenant_b.department)  # B's: not A's leader's concern
    today = local_day(timezone.now())  # agents made after a period's end are not its unused agents
    week = Period(today - timedelta(days=6), today)
    before = week.previous().start
    a, staff = tenant_a.department, tenant_a.staff
    for n in range(6):
        make_run(falling, department=a, user=staff, day=before, rating=1)
        make_run(falling, department=a, user=staff, day=today, rating=1 if n < 3 else -1)
        make_run(steady, department=a, user=staff, day=before, rating=1 if n else -1)
        make_run(steady, department=a, user=staff, day=today, rating=1 if n else -1)
    for _ in range(3):
        make_run(sparse, department=a, user=staff, day=before, rating=1)
        make_run(sparse, department=a, user=staff, day=today, rating=-1)
    make_run(steady, department=a1.department, user=a1.staff, day=before)  # A1 used it, but not this week
    make_run(steady, department=tenant_b.department, user=tenant_b.staff, day=today)
    usage_rebuild(start=before, end=today)

    found = adoption(department_ids=report_department_ids(tenant_a.leader), period=week)
    assert [d["key"] for d in found["idle_departments"]] == [a1.department.pk, a2.department.pk]
    assert {s["key"] for s in found["idle_staff"]} == {a1.staff.pk, a2.staff.pk}
    idle = next(s for s in found["idle_staff"] if s["key"] == a2.staff.pk)
    assert (idle["label"], idle["department"]) == (str(a2.staff), "甲局二科")
    assert [u["key"] for u in found["unused_agents"]] == [never.pk]
    assert [f["key"] for f in found["falling_satisfaction"]] == [falling.pk]
    row = found["falling_satisfaction"][0]
    assert (row["satisfaction"], row["previous"], row["label"]) == (0.5, 1.0, falling.name)
    assert row["change"] == pytest.approx(-0.5)
    # Without a minimum number of ratings, the three-rating agent's fall counts too.
    loose = adoption(department_ids=report_department_ids(tenant_a.leader), period=week, min_ratings=1)
    assert {f["key"] for f in loose["falling_satisfaction"]} == {falling.pk, sparse.pk}


def test_scope_leaders_see_their_subtree_admins_their_department_platform_admins_all(
    tenant_a, tenant_b, a1, district, platform_admin
):
    assert set(report_department_ids(tenant_a.leader)) == {tenant_a.department.pk, a1.department.pk}
    assert report_department_ids(tenant_a.admin) == [tenant_a.department.pk]
    assert report_department_ids(tenant_a.staff) == []
    assert report_department_ids(tenant_a.reviewer) == []
    assert set(report_department_ids(platform_admin)) == {
        district.pk,
        tenant_a.department.pk,
        tenant_b.department.pk,
        a1.department.pk,
    }


def test_a_department_outside_the_scope_is_ignored_in_the_drill_down(tenant_a, tenant_b, a1, world):
    scope = report_department_ids(tenant_a.leader)
    month = Period(TODAY - timedelta(days=29), TODAY)
    assert department_agents(department_ids=scope, department_id=tenant_b.department.pk, period=month) == []
    rows = department_agents(department_ids=scope, department_id=tenant_a.department.pk, period=month)
    raw = defaultdict(int)
    for run in _raw_runs(scope, month):
        raw[run.agent_id] += 1
    # A's own agents and B's agent granted to A, as used by A and A1.
    assert {row["key"]: row["runs"] for row in rows} == dict(raw) and len(raw) == 3
    section = department_agents(department_ids=scope, department_id=a1.department.pk, period=month)
    assert sum(r["runs"] for r in section) == len(_raw_runs([a1.department.pk], month))
    # Ids outside the scope passed by a caller reach nothing: B's runs never appear in A's rankings.
    assert tenant_b.department.pk not in {
        r["key"] for r in rankings(department_ids=scope, period=month, by="department")
    }
