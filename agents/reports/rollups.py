"""Reconciliation of the usage rollups with the raw runs.

``run_meter`` adds each run as it finishes; ratings, review decisions and late-closed runs change a day's
figures afterwards. Reconciliation recomputes a whole day's counters from its runs, and the day's sums per
department from those counters, and replaces both in one transaction, under the day's exclusive advisory
lock (``run_meter`` holds it shared), and marks every finished run of the day metered in the same
transaction, so a run is counted by the rebuild or by ``run_meter`` afterwards, never by both. Rebuilding
a day twice gives the same rows.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from tenants.quotas import tokens_add

from ..models import Run, UsageCounter
from ..models.runs import LATENCY_BUCKETS_MS, USAGE_FIGURES
from ..runtime.metering import APPROVED, REVIEWED, usage_day, usage_day_lock

log = logging.getLogger(__name__)

# A rating or decision saved just before the last reconciliation may have committed just after it read
# the runs: days touched this long before the last reconciliation are recomputed again.
LATE_COMMIT_SLACK = timedelta(minutes=10)

_MARK = """
UPDATE agents_run SET metered_at = %(now)s
WHERE started_at >= %(lo)s AND started_at < %(hi)s AND metered_at IS NULL AND status <> %(running)s
    AND via <> 'eval'
RETURNING COALESCE(caller_department_id, department_id), api_key_id, user_id, input_tokens + output_tokens
"""


def _buckets(alias: str) -> str:
    # width_bucket() counts from 1 for values at or above the first bound (0).
    return (
        "ARRAY[" + ", ".join(f"count(*) FILTER (WHERE {alias} = {i + 1})" for i in range(len(LATENCY_BUCKETS_MS))) + "]"
    )


_REBUILD = f"""
WITH day_runs AS MATERIALIZED (
    SELECT r.id, COALESCE(r.caller_department_id, r.department_id) AS department_id, r.agent_id, r.user_id,
        r.version_id, r.conversation_id, r.status, r.input_tokens, r.output_tokens, r.cost, r.ttft_ms,
        r.latency_ms, r.rating, r.review_status,
        width_bucket(r.ttft_ms, %(bounds)s::int[]) AS tb, width_bucket(r.latency_ms, %(bounds)s::int[]) AS lb,
        (r.conversation_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM agents_run p WHERE p.conversation_id = r.conversation_id AND p.id < r.id
        )) AS opened
    FROM agents_run r
    WHERE r.started_at >= %(lo)s AND r.started_at < %(hi)s AND r.metered_at IS NOT NULL AND r.via <> 'eval'
),
version_minutes AS (
    SELECT v.id, COALESCE((v.snapshot_text::jsonb ->> 'minutes_saved')::int, 0) AS minutes
    FROM agents_agentversion v WHERE v.id IN (SELECT DISTINCT version_id FROM day_runs)
)
INSERT INTO agents_usagecounter (
    day, department_id, agent_id, user_id, runs, failed_runs, input_tokens, output_tokens, cost,
    conversations_started, messages, ttft_ms_sum, ttft_count, ttft_buckets, latency_ms_sum, latency_count,
    latency_buckets, rated_up, rated_down, reviewed, approved, minutes_saved, reconciled_at
)
SELECT %(day)s, d.department_id, d.agent_id, d.user_id,
    count(*),
    count(*) FILTER (WHERE d.status <> %(succeeded)s),
    COALESCE(sum(d.input_tokens), 0),
    COALESCE(sum(d.output_tokens), 0),
    COALESCE(sum(d.cost), 0),
    count(*) FILTER (WHERE d.opened),
    count(d.conversation_id),
    COALESCE(sum(d.ttft_ms), 0),
    count(d.ttft_ms),
    {_buckets("d.tb")},
    COALESCE(sum(d.latency_ms), 0),
    count(d.latency_ms),
    {_buckets("d.lb")},
    count(*) FILTER (WHERE d.rating = 1),
    count(*) FILTER (WHERE d.rating = -1),
    count(*) FILTER (WHERE d.review_status = ANY(%(reviewed)s)),
    count(*) FILTER (WHERE d.review_status = ANY(%(approved)s)),
    COALESCE(sum(m.minutes) FILTER (WHERE d.status = %(succeeded)s AND d.review_status <> %(rejected)s), 0),
    %(now)s
FROM day_runs d LEFT JOIN version_minutes m ON m.id = d.version_id
GROUP BY d.department_id, d.agent_id, d.user_id
"""  # noqa: S608  (only constant SQL is formatted in; every value is a bound parameter)


def _summed(column: str) -> str:
    if column.endswith("_buckets"):  # element by element
        return "ARRAY[" + ", ".join(f"sum({column}[{i + 1}])" for i in range(len(LATENCY_BUCKETS_MS))) + "]::int[]"
    return f"sum({column})"


# The day's sums per department, from the day's counters (just rebuilt in the same transaction).
_REBUILD_DEPARTMENTS = (
    f"INSERT INTO agents_departmentusage (day, department_id, {', '.join(USAGE_FIGURES)})"  # noqa: S608  (constant SQL)
    f" SELECT day, department_id, {', '.join(_summed(name) for name in USAGE_FIGURES)}"
    " FROM agents_usagecounter WHERE day = %s GROUP BY day, department_id"
)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    zone = timezone.get_default_timezone()
    return (
        datetime.combine(day, time.min, tzinfo=zone),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
    )


def usage_day_rebuild(*, day: date) -> int:
    """Replace the day's usage counters with the aggregate of its finished runs, and its sums per department
    with the aggregate of those counters; returns the counter rows written.

    Finished runs of the day not metered yet are marked metered and counted here (their ``run_meter``
    then adds nothing). Runs still running are left to ``run_meter``.
    """
    lo, hi = _day_bounds(day)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        usage_day_lock(day=day, shared=False)
        cursor.execute(_MARK, {"now": now, "lo": lo, "hi": hi, "running": Run.Status.RUNNING})
        # Runs metered here for the first time (their process died before metering them) count
        # against quotas now, once, like every other run.
        for department_id, api_key_id, user_id, tokens in cursor.fetchall():
            tokens_add(day=day, tokens=tokens, department_id=department_id, api_key_id=api_key_id, user_id=user_id)
        cursor.execute("DELETE FROM agents_usagecounter WHERE day = %s", [day])
        cursor.execute(
            _REBUILD,
            {
                "day": day,
                "lo": lo,
                "hi": hi,
                "now": now,
                "bounds": list(LATENCY_BUCKETS_MS),
                "succeeded": Run.Status.SUCCEEDED,
                "rejected": Run.Review.REJECTED,
                "reviewed": [str(s) for s in REVIEWED],
                "approved": [str(s) for s in APPROVED],
            },
        )
        rows = cursor.rowcount
        cursor.execute("DELETE FROM agents_departmentusage WHERE day = %s", [day])
        cursor.execute(_REBUILD_DEPARTMENTS, [day])
        return rows


def usage_rebuild(*, start: date, end: date) -> int:
    """Rebuild every day from ``start`` to ``end`` (inclusive), one transaction per day; returns rows written."""
    rows = 0
    day = start
    while day <= end:
        rows += usage_day_rebuild(day=day)
        day += timedelta(days=1)
    return rows


def usage_history_span() -> tuple[date, date] | None:
    """The first and last day any run started on (None without runs): the range a full rebuild covers."""
    span = Run.objects.aggregate(first=Min("started_at"), last=Max("started_at"))
    if span["first"] is None:
        return None
    return usage_day(span["first"]), usage_day(span["last"])


def usage_reconcile(*, now: datetime | None = None) -> list[date]:
    """The periodic reconciliation: today, yesterday, and every day whose runs were rated or reviewed since
    the previous reconciliation (all history the first time, e.g. after an upgrade). Returns the days rebuilt.
    """
    now = now or timezone.now()
    today = usage_day(now)
    days = {today, today - timedelta(days=1)}
    last = UsageCounter.objects.aggregate(last=Max("reconciled_at"))["last"]
    if last is None:
        span = usage_history_span()
        if span is not None:
            first = min(span[0], today)
            days.update(first + timedelta(days=n) for n in range((today - first).days + 1))
        for day in sorted(days):  # all history: one transaction per day
            usage_day_rebuild(day=day)
    else:
        days.update(_days_with_feedback_since(last - LATE_COMMIT_SLACK))
        # One transaction: a worker killed half-way leaves every counter (and the reconciled_at mark the
        # next reconciliation starts from) as it was, so the next one rebuilds the same days again.
        with transaction.atomic():
            for day in sorted(days):
                usage_day_rebuild(day=day)
    log.info("usage counters reconciled for %d day(s)", len(days))
    return sorted(days)


def _days_with_feedback_since(since: datetime) -> set[date]:
    started = set(Run.objects.filter(rated_at__gte=since).values_list("started_at", flat=True).iterator())
    started.update(Run.objects.filter(reviewed_at__gte=since).values_list("started_at", flat=True).iterator())
    return {usage_day(value) for value in started}
