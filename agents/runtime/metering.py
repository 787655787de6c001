"""Usage rollups: each finished run is added exactly once, to the counters per day, department, agent and
user and to the sums per day and department, in the transaction that marks it metered.

Reconciliation (``agents.reports.rollups``) rebuilds a day's counters from the raw runs under an
exclusive per-day advisory lock; ``run_meter`` holds the same lock shared, so a run is either counted by
the rebuild (which also marks it metered) or added here afterwards, never both.
"""

from __future__ import annotations

from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from tenants.quotas import tokens_add

from ..models import Run
from ..models.runs import LATENCY_BUCKETS_MS, USAGE_FIGURES, latency_bucket

# First key of the two-key advisory locks on a day's usage counters (the second is the day's ordinal).
USAGE_LOCK_NAMESPACE = 7_000_901

# Review decisions that count as reviewed, and those that count as approved.
REVIEWED = (Run.Review.APPROVED, Run.Review.EDITED, Run.Review.REJECTED)
APPROVED = (Run.Review.APPROVED, Run.Review.EDITED)


def usage_day(started_at) -> date:
    """The day a run counts on: its start, in the platform's time zone (not the viewer's)."""
    return timezone.localdate(started_at, timezone.get_default_timezone())


def usage_day_lock(*, day: date, shared: bool) -> None:
    """Take the day's usage lock until the end of the current transaction (shared: metering one run)."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [USAGE_LOCK_NAMESPACE, day.toordinal()])


# Marks the run metered and reads back what it adds (only a finished run not metered before).
_MARK = """
UPDATE agents_run SET metered_at = %s WHERE id = %s AND metered_at IS NULL AND status <> %s AND via <> 'eval'
RETURNING COALESCE(caller_department_id, department_id), agent_id, user_id, version_id, conversation_id, status,
    input_tokens, output_tokens, cost, ttft_ms, latency_ms, rating, review_status, api_key_id,
    (SELECT COALESCE((v.snapshot_text::jsonb ->> 'minutes_saved')::int, 0)
     FROM agents_agentversion v WHERE v.id = agents_run.version_id)
"""


def _upsert(table: str, keys: tuple[str, ...], constraint: str) -> str:
    """Add one run's figures (named parameters) to the row of ``table`` keyed by ``keys``."""
    columns = keys + USAGE_FIGURES
    added = ", ".join(f"{name} = c.{name} + EXCLUDED.{name}" for name in USAGE_FIGURES if not name.endswith("_buckets"))
    # Only constant SQL is formatted in (table and column names); every value is a bound parameter.
    sql = "INSERT INTO {} AS c ({}) VALUES ({}) ON CONFLICT ON CONSTRAINT {} DO UPDATE SET {}"
    return sql.format(table, ", ".join(columns), ", ".join(f"%({name})s" for name in columns), constraint, added)


# Every run goes to both rollups: per day, department, agent and user, and per day and department (one
# statement: the first as a data-modifying WITH; each gets the run's histogram increments after it).
_UPSERTS = (
    _upsert("agents_usagecounter", ("day", "department_id", "agent_id", "user_id"), "usage_counter_unique"),
    _upsert("agents_departmentusage", ("day", "department_id"), "department_usage_unique"),
)
_BOTH = "WITH counted AS ({counter}{increments} RETURNING 1) {department}{increments}"


def run_meter(*, run: Run) -> bool:
    """Add a finished run to the usage counters unless that was done already; True when it was added now.

    A test set's runs (``via`` "eval") are never added: they are the admins testing, not usage.

    The figures are read back from the stored run (not the caller's copy), so the counters hold exactly
    what reconciliation would compute from the raw runs at this moment.
    """
    started_at = Run.objects.filter(pk=run.pk).values_list("started_at", flat=True).first()
    if started_at is None:
        return False
    day = usage_day(started_at)
    now = timezone.now()
    with transaction.atomic():
        usage_day_lock(day=day, shared=True)
        with connection.cursor() as cursor:
            cursor.execute(
                _MARK,
                [now, run.pk, Run.Status.RUNNING],
            )
            row = cursor.fetchone()
            if row is None:
                return False
            (
                department_id,
                agent_id,
                user_id,
                version_id,
                conversation_id,
                status,
                input_tokens,
                output_tokens,
                cost,
                ttft_ms,
                latency_ms,
                rating,
                review_status,
                api_key_id,
                version_minutes,
            ) = row
            tokens_add(
                day=day,
                tokens=(input_tokens or 0) + (output_tokens or 0),
                department_id=department_id,
                api_key_id=api_key_id,
                user_id=user_id,
            )
            succeeded = status == Run.Status.SUCCEEDED
            started = conversation_id is not None and not (
                Run.objects.filter(conversation_id=conversation_id, pk__lt=run.pk).exists()
            )
            minutes = 0
            if succeeded and version_id is not None and review_status != Run.Review.REJECTED:
                minutes = version_minutes or 0
            figures = {
                "day": day,
                "department_id": department_id,
                "agent_id": agent_id,
                "user_id": user_id,
                "runs": 1,
                "failed_runs": 0 if succeeded else 1,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cost": cost,
                "conversations_started": int(started),
                "messages": int(conversation_id is not None),
                "ttft_ms_sum": ttft_ms or 0,
                "ttft_count": int(ttft_ms is not None),
                "ttft_buckets": _one_hot(ttft_ms),
                "latency_ms_sum": latency_ms or 0,
                "latency_count": int(latency_ms is not None),
                "latency_buckets": _one_hot(latency_ms),
                "rated_up": int(rating == 1),
                "rated_down": int(rating == -1),
                "reviewed": int(review_status in REVIEWED),
                "approved": int(review_status in APPROVED),
                "minutes_saved": minutes,
            }
            increments = ""
            for column, value in (("ttft_buckets", ttft_ms), ("latency_buckets", latency_ms)):
                if value is not None:
                    index = latency_bucket(value) + 1  # PostgreSQL arrays count from 1
                    increments += f",\n    {column}[{index}] = c.{column}[{index}] + 1"
            counter, department = _UPSERTS
            cursor.execute(_BOTH.format(counter=counter, department=department, increments=increments), figures)
    run.metered_at = now
    return True


def _one_hot(ms: int | None) -> list[int]:
    buckets = [0] * len(LATENCY_BUCKETS_MS)
    if ms is not None:
        buckets[latency_bucket(ms)] = 1
    return buckets
