"""Runs in volume for the report tests, and the oracle: the usage figures aggregated by hand from raw runs."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from agents.models import Conversation, DepartmentUsage, Run, UsageCounter
from agents.models.runs import LATENCY_BUCKETS_MS

FIELDS = (
    "runs",
    "failed_runs",
    "input_tokens",
    "output_tokens",
    "cost",
    "conversations_started",
    "messages",
    "ttft_ms_sum",
    "ttft_count",
    "ttft_buckets",
    "latency_ms_sum",
    "latency_count",
    "latency_buckets",
    "rated_up",
    "rated_down",
    "reviewed",
    "approved",
    "minutes_saved",
)
STATUSES = [Run.Status.SUCCEEDED] * 8 + [Run.Status.FAILED, Run.Status.INCOMPLETE, Run.Status.BLOCKED]
REVIEWS = [Run.Review.NONE] * 5 + [Run.Review.PENDING, Run.Review.APPROVED, Run.Review.EDITED, Run.Review.REJECTED]


def local_day(value: datetime) -> date:
    return timezone.localdate(value, timezone.get_default_timezone())


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_default_timezone())


def bucket_of(ms: int) -> int:
    """The histogram bucket of a duration, found by walking the bounds (independently of the code under test)."""
    index = 0
    for i, bound in enumerate(LATENCY_BUCKETS_MS):
        if ms >= bound:
            index = i
    return index


def bulk_runs(*, callers, agents, days: list[date], count: int, seed: int = 7, metered: bool = False) -> list[Run]:
    """``count`` finished runs spread over ``days``: each by a random (department, user) of ``callers``
    with a random published agent, random outcome, tokens, timings, rating and review; about half in
    conversations (several runs per conversation). ``metered``: marked as already counted (without
    adding them anywhere), as if metered by a process whose counters were lost."""
    rng = random.Random(seed)
    runs, conversations = [], {}
    for _ in range(count):
        department, user = rng.choice(callers)
        agent = rng.choice(agents)
        status = rng.choice(STATUSES)
        day = rng.choice(days)
        conversation = None
        if user is not None and rng.random() < 0.5:
            key = (user.pk, agent.pk, rng.randrange(3))
            if key not in conversations:
                conversations[key] = Conversation.objects.create(department=department, user=user, agent=agent)
            conversation = conversations[key]
        input_tokens, output_tokens = rng.randrange(0, 4000), rng.randrange(0, 1500)
        has_output = status != Run.Status.BLOCKED
        runs.append(
            Run(
                department=agent.department,
                caller_department=department if rng.random() < 0.9 else None,
                agent=agent,
                version=agent.current_version if rng.random() < 0.95 else None,
                conversation=conversation,
                user=user,
                status=status,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost=(Decimal(input_tokens) * Decimal("0.002") + Decimal(output_tokens) * Decimal("0.008")) / 1000,
                ttft_ms=int(rng.lognormvariate(6.5, 0.8)) if has_output else None,
                latency_ms=int(rng.lognormvariate(8, 0.9)) if rng.random() < 0.97 else None,
                rating=rng.choice([None, None, 1, 1, -1]),
                review_status=rng.choice(REVIEWS) if status == Run.Status.SUCCEEDED else Run.Review.NONE,
                finished_at=timezone.now(),
                metered_at=timezone.now() if metered else None,
            )
        )
        runs[-1]._day = day
        runs[-1]._minute = rng.randrange(24 * 60)
    created = Run.objects.bulk_create(runs)
    for run in created:
        run.started_at = at(run._day, 0, 0) + timedelta(minutes=run._minute)
    Run.objects.bulk_update(created, ["started_at"])
    return created


def raw_usage(runs=None) -> dict[tuple, dict]:
    """The counters computed by hand from the finished runs: (day, department, agent, user) → figures."""
    runs = list(runs if runs is not None else Run.objects.exclude(status=Run.Status.RUNNING).select_related("version"))
    first_of_conversation = {}
    for run_id, conversation_id in Run.objects.filter(conversation__isnull=False).values_list("pk", "conversation"):
        first_of_conversation[conversation_id] = min(run_id, first_of_conversation.get(conversation_id, run_id))
    table: dict[tuple, dict] = defaultdict(
        lambda: {
            **dict.fromkeys(FIELDS, 0),
            "cost": Decimal(0),
            "ttft_buckets": [0] * len(LATENCY_BUCKETS_MS),
            "latency_buckets": [0] * len(LATENCY_BUCKETS_MS),
        }
    )
    for run in runs:
        row = table[
            (local_day(run.started_at), run.caller_department_id or run.department_id, run.agent_id, run.user_id)
        ]
        row["runs"] += 1
        row["failed_runs"] += run.status != Run.Status.SUCCEEDED
        row["input_tokens"] += run.input_tokens
        row["output_tokens"] += run.output_tokens
        row["cost"] += run.cost
        row["messages"] += run.conversation_id is not None
        row["conversations_started"] += (
            run.conversation_id is not None and first_of_conversation[run.conversation_id] == run.pk
        )
        if run.ttft_ms is not None:
            row["ttft_ms_sum"] += run.ttft_ms
            row["ttft_count"] += 1
            row["ttft_buckets"][bucket_of(run.ttft_ms)] += 1
        if run.latency_ms is not None:
            row["latency_ms_sum"] += run.latency_ms
            row["latency_count"] += 1
            row["latency_buckets"][bucket_of(run.latency_ms)] += 1
        row["rated_up"] += run.rating == 1
        row["rated_down"] += run.rating == -1
        row["reviewed"] += run.review_status in (Run.Review.APPROVED, Run.Review.EDITED, Run.Review.REJECTED)
        row["approved"] += run.review_status in (Run.Review.APPROVED, Run.Review.EDITED)
        if run.status == Run.Status.SUCCEEDED and run.version is not None and run.review_status != Run.Review.REJECTED:
            row["minutes_saved"] += run.version.snapshot["minutes_saved"]
    return {key: {k: (int(v) if isinstance(v, bool) else v) for k, v in row.items()} for key, row in table.items()}


def counter_rows() -> dict[tuple, dict]:
    """The usage counters as stored: (day, department, agent, user) → figures."""
    return {
        (c.day, c.department_id, c.agent_id, c.user_id): {f: getattr(c, f) for f in FIELDS}
        for c in UsageCounter.objects.all()
    }


def raw_department_usage(usage: dict[tuple, dict] | None = None) -> dict[tuple, dict]:
    """The sums per day and department computed by hand from the raw runs (via ``raw_usage``):
    (day, department) → figures."""
    table: dict[tuple, dict] = {}
    for (day, department_id, _agent_id, _user_id), figures in (usage if usage is not None else raw_usage()).items():
        row = table.get((day, department_id))
        if row is None:
            table[(day, department_id)] = {k: list(v) if isinstance(v, list) else v for k, v in figures.items()}
            continue
        for name, value in figures.items():
            row[name] = (
                [a + b for a, b in zip(row[name], value, strict=True)]
                if isinstance(value, list)
                else (row[name] + value)
            )
    return table


def department_rows() -> dict[tuple, dict]:
    """The sums per day and department as stored: (day, department) → figures."""
    return {(d.day, d.department_id): {f: getattr(d, f) for f in FIELDS} for d in DepartmentUsage.objects.all()}


def rollups() -> tuple[dict, dict]:
    """Both rollups as stored: the counters and the sums per day and department."""
    return counter_rows(), department_rows()


def raw_rollups() -> tuple[dict, dict]:
    """Both rollups as the raw runs say they must be."""
    usage = raw_usage()
    return usage, raw_department_usage(usage)


def make_run(agent, *, department, user, day: date, rating=None, status=Run.Status.SUCCEEDED, **extra) -> Run:
    """One finished run of ``agent`` by ``user`` of ``department`` on ``day`` (not metered yet)."""
    run = Run.objects.create(
        department=agent.department,
        caller_department=department,
        agent=agent,
        version=agent.current_version,
        user=user,
        status=status,
        rating=rating,
        finished_at=timezone.now(),
        **extra,
    )
    Run.objects.filter(pk=run.pk).update(started_at=at(day))
    run.started_at = at(day)
    return run
