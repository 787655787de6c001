"""What the leaders' reports show, read from the usage rollups (never from raw runs).

The overview, trends, department rankings and idle departments read the sums per day and department
(``DepartmentUsage``: a row per department and day however many agents and people); agents, scenarios and
people are ranked from the counters per day, department, agent and user (``UsageCounter``), and people
are counted once however many days, departments or agents they used, from the counters too. A page's
queries are as many however many runs, agents or departments it covers.

Every selector takes ``department_ids``: the caller departments whose usage is reported, already narrowed
by the viewer's scope (``report_department_ids(user)``). The usage of a department is what its people
used (counters are keyed by the caller's department, whichever department owns the agent).

Figures (the same keys wherever a set of figures is returned; trends and rankings leave out the four
latency percentiles, which only the overview shows):

- ``conversations``: workspace conversations started; ``messages``: runs made in a workspace conversation
  (a question and its answer); ``runs``: runs from every entry point (workspace, API, batch, playground);
- ``active_users``: people with at least one run;
- ``input_tokens``, ``output_tokens``, ``cost`` (yuan, by each model endpoint's prices);
- ``ttft_p50``/``ttft_p95``/``latency_p50``/``latency_p95``: milliseconds, estimated from the fixed
  histogram buckets (``LATENCY_BUCKETS_MS``; within the bucket of the exact value), None without timed runs;
- ``error_rate``: runs that did not succeed / runs; ``satisfaction``: 👍 / (👍 + 👎);
  ``approval_rate``: approved (as is or edited) / reviewed; each None when its denominator is 0;
- ``hours_saved``: minutes saved / 60 (succeeded runs of a published version not rejected by review,
  times that version's minutes saved per run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from tenants import scoping
from tenants.models import Department, Membership, User
from tenants.roles import Action, Role

from ..catalog.areas import Area
from ..models import Agent, DepartmentUsage, Scenario, UsageCounter
from ..models.runs import LATENCY_BUCKETS_MS

METRIC_KEYS = (
    "conversations",
    "runs",
    "active_users",
    "messages",
    "input_tokens",
    "output_tokens",
    "cost",
    "ttft_p50",
    "ttft_p95",
    "latency_p50",
    "latency_p95",
    "error_rate",
    "satisfaction",
    "approval_rate",
    "hours_saved",
)
GRAINS = ("day", "week", "month")
RANKINGS = ("agent", "department", "scenario", "user")
PRESETS = {"today": 1, "7d": 7, "30d": 30}
# A custom period longer than this is refused (the default period is shown instead).
MAX_PERIOD_DAYS = 3 * 366
# An agent's satisfaction is "falling" when it is this much below the previous period's, both periods
# having at least this many ratings (fewer say nothing).
FALLING_MARGIN = 0.10
FALLING_MIN_RATINGS = 5

_SUMMED = (
    "runs",
    "failed_runs",
    "input_tokens",
    "output_tokens",
    "cost",
    "conversations_started",
    "messages",
    "ttft_count",
    "latency_count",
    "rated_up",
    "rated_down",
    "reviewed",
    "approved",
    "minutes_saved",
)
_N_BUCKETS = len(LATENCY_BUCKETS_MS)


# The sums every set of figures is computed from, over a rollup aliased "c" (both hold these columns).
_SELECT = ", ".join(f"sum(c.{name}) AS s_{name}" for name in _SUMMED)
# The histograms, only where percentiles are shown (64 more sums per row).
_SELECT_BUCKETS = ", ".join(
    [f"sum(c.ttft_buckets[{i + 1}]) AS t{i}" for i in range(_N_BUCKETS)]
    + [f"sum(c.latency_buckets[{i + 1}]) AS l{i}" for i in range(_N_BUCKETS)]
)
PERCENTILE_KEYS = ("ttft_p50", "ttft_p95", "latency_p50", "latency_p95")
_SCENARIO = "CASE WHEN a.scenario_key = '' THEN 'area:' || a.area ELSE a.scenario_key END"
# What the sums per day and department are grouped by (SQL over "c").
_GROUPS = {
    None: "NULL",
    "split": "c.day >= %(split)s",  # the period (true) or the one before it (false)
    "day": "c.day",
    "week": "date_trunc('week', c.day)::date",
    "month": "date_trunc('month', c.day)::date",
    "department": "c.department_id",
}
_WHERE = "c.department_id = ANY(%(ids)s) AND c.day >= %(start)s AND c.day <= %(end)s"


def _query(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _sums(
    department_ids,
    start: date,
    end: date,
    *,
    by: str | None = None,
    limit: int | None = None,
    buckets: bool = False,
    split: date | None = None,
) -> list[dict]:
    """The sums per day and department over the departments and days: one row in all, or one per ``by``
    group (as ``key``; most runs first, the first ``limit``), with the histograms when ``buckets``, and the
    people who made the runs (``s_active_users``, counted once however many days or departments they used,
    from the counters). Plain SQL: the ORM would spend longer compiling ~80 aggregates than the database
    spends on them."""
    params = {"ids": list(department_ids), "start": start, "end": end, "split": split}
    columns = f"{_SELECT}, {_SELECT_BUCKETS}" if buckets else _SELECT
    sql = f"SELECT {_GROUPS[by]} AS key, {columns} FROM agents_departmentusage c WHERE {_WHERE}"  # noqa: S608
    if by:
        sql += " GROUP BY 1 ORDER BY s_runs DESC, 1" + (f" LIMIT {int(limit)}" if limit is not None else "")
    rows = [row for row in _query(sql, params) if row["s_runs"] is not None]  # no rows: one of NULLs
    people = _active_users(params, by=by, keys=[row["key"] for row in rows] if limit is not None else None)
    for row in rows:
        row["s_active_users"] = people.get(row["key"], 0)
    return rows


# Agents, scenarios and people are ranked from the counters, in one pass: sums per agent and per person
# (two grouping sets: a row of the per-person set has no agent), then per scenario from its agents' sums.
_COUNTER_RANKINGS = {
    "agent": "c.agent_id, NULL::int AS user_id, NULL::text AS scenario, {sums} FROM sums c"
    " WHERE c.agent_id IS NOT NULL",
    "user": "NULL::bigint AS agent_id, c.user_id, NULL::text AS scenario, {sums} FROM sums c"
    " WHERE c.agent_id IS NULL AND c.user_id IS NOT NULL",
    "scenario": f"NULL::bigint AS agent_id, NULL::int AS user_id, {_SCENARIO} AS scenario, {{resummed}}"
    " FROM sums c JOIN agents_agent a ON a.id = c.agent_id GROUP BY 4",
}
_RANKING_KEY = {"agent": "agent_id", "user": "user_id", "scenario": "scenario"}


def _counter_rankings(department_ids, period: Period, bys, *, limit: int | None) -> dict[str, list[dict]]:
    """Sums per agent, scenario or person (``bys``) over the counters, most runs first (the first
    ``limit`` of each), with the people who made them (``s_active_users``): ``{by: [row with "key"]}``."""
    params = {"ids": list(department_ids), "start": period.start, "end": period.end}
    sets = []
    if {"agent", "scenario"} & set(bys):
        sets.append("(c.agent_id)")
    if "user" in bys:
        sets.append("(c.user_id)")
    agent = "c.agent_id" if "(c.agent_id)" in sets else "NULL::bigint AS agent_id"
    user = "c.user_id" if "(c.user_id)" in sets else "NULL::int AS user_id"
    sums = ", ".join(f"c.s_{name}" for name in _SUMMED)
    resummed = ", ".join(f"sum(c.s_{name}) AS s_{name}" for name in _SUMMED)
    tail = f" LIMIT {int(limit)}" if limit is not None else ""
    parts = [
        f"(SELECT '{by}' AS ranking, {_COUNTER_RANKINGS[by].format(sums=sums, resummed=resummed)}"
        f" ORDER BY s_runs DESC, 4, 2, 3{tail})"
        for by in bys
    ]
    sql = (
        f"WITH sums AS MATERIALIZED (SELECT {agent}, {user}, {_SELECT} FROM agents_usagecounter c"  # noqa: S608
        f" WHERE {_WHERE} GROUP BY GROUPING SETS ({', '.join(sets)}))"
        f" SELECT * FROM ({' UNION ALL '.join(parts)}) r"
    )
    found: dict[str, list[dict]] = {by: [] for by in bys}
    for row in _query(sql, params):
        row["key"] = row[_RANKING_KEY[row["ranking"]]]
        row["s_active_users"] = 1  # a person's own row (agents' and scenarios' are counted below)
        found[row["ranking"]].append(row)
    people = _people_of(params, found, whole=limit is None)
    for by in ("agent", "scenario"):
        for row in found.get(by, []):
            row["s_active_users"] = people[by].get(row["key"], 0)
    return found


def _people_of(params: dict, found: dict[str, list[dict]], *, whole: bool) -> dict[str, dict]:
    """The people per agent and per scenario of the rows ``found`` (all of the period's when ``whole``),
    from the counters' distinct (agent, person) pairs, read once for both."""
    people: dict[str, dict] = {"agent": {}, "scenario": {}}
    keys = {by: [row["key"] for row in found.get(by, [])] for by in people}
    parts = []
    if keys["agent"]:
        only = "" if whole else " WHERE p.agent_id = ANY(%(agents)s)"
        parts.append(f"SELECT 'agent', p.agent_id, NULL, count(*) FROM pairs p{only} GROUP BY 2")  # noqa: S608
    if keys["scenario"]:
        only = "" if whole else f" WHERE {_SCENARIO} = ANY(%(scenarios)s)"
        parts.append(
            f"SELECT 'scenario', NULL::bigint, {_SCENARIO}, count(DISTINCT p.user_id) FROM pairs p"  # noqa: S608
            f" JOIN agents_agent a ON a.id = p.agent_id{only} GROUP BY 3"
        )
    if not parts:
        return people
    sql = (
        "WITH pairs AS MATERIALIZED (SELECT DISTINCT c.agent_id, c.user_id FROM agents_usagecounter c"  # noqa: S608
        f" WHERE {_WHERE} AND c.user_id IS NOT NULL) " + " UNION ALL ".join(parts)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "agents": keys["agent"], "scenarios": keys["scenario"]})
        for ranking, agent_id, scenario, count in cursor.fetchall():
            people[ranking][agent_id if ranking == "agent" else scenario] = count
    return people


def _active_users(params: dict, *, by: str | None, keys: list | None) -> dict:
    """The people with runs in the counters of the departments and days ``params`` select, per ``by``
    group (only ``keys`` when given): each person once per group, however many rows they have in it."""
    if keys == []:
        return {}
    key = _GROUPS[by]
    only = f" AND {key} = ANY(%(keys)s)" if keys is not None else ""
    people = (
        f"SELECT DISTINCT {key} AS key, c.user_id FROM agents_usagecounter c"  # noqa: S608
        f" WHERE {_WHERE} AND c.user_id IS NOT NULL{only}"
    )
    sql = f"SELECT key, count(*) AS people FROM ({people}) p GROUP BY 1"  # noqa: S608
    return {row["key"]: row["people"] for row in _query(sql, {**params, "keys": keys})}


# --------------------------------------------------------------------------- scope and period


def report_department_ids(user) -> list[int]:
    """The departments whose usage ``user`` may see in reports: a leader's department and every one below
    it, a department admin's own department, every department for a platform admin; [] for anyone else."""
    ids = scoping.department_ids(user, Action.REPORT)
    if ids is scoping.ALL:
        return list(Department.objects.order_by("pk").values_list("pk", flat=True))
    return sorted(ids)


@dataclass(frozen=True)
class Period:
    """Days from ``start`` to ``end``, both included. ``key``: "today", "7d", "30d" or "custom"."""

    start: date
    end: date
    key: str = "custom"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(start=end - timedelta(days=self.days - 1), end=end)

    @property
    def label(self) -> str:
        span = (
            str(self.start)
            if self.start == self.end
            else _("%(start)s 至 %(end)s") % {"start": self.start, "end": self.end}
        )
        names = {"today": _("今天"), "7d": _("近 7 天"), "30d": _("近 30 天")}
        if self.key in names:
            return _("%(name)s（%(span)s）") % {"name": names[self.key], "span": span}
        return span

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


def period_from(params, *, today: date) -> Period:
    """The period a request asks for: ``period`` = "today" | "7d" | "30d" (ending today) | "custom" with
    ``start`` and ``end`` (ISO dates; an end after today is cut to today). Anything else: the last 7 days."""
    choice = params.get("period") or "7d"
    if choice in PRESETS:
        return Period(start=today - timedelta(days=PRESETS[choice] - 1), end=today, key=choice)
    if choice == "custom":
        try:
            start = date.fromisoformat(params.get("start") or "")
            end = min(date.fromisoformat(params.get("end") or ""), today)
        except ValueError:
            start = end = None
        if start is not None and start <= end and (end - start).days < MAX_PERIOD_DAYS:
            return Period(start=start, end=end)
    return Period(start=today - timedelta(days=6), end=today, key="7d")


# --------------------------------------------------------------------------- figures


def percentile_from_buckets(counts: list[int], q: float) -> float | None:
    """The ``q`` quantile (0 < q ≤ 1) estimated from bucket counts over ``LATENCY_BUCKETS_MS``, interpolated
    linearly inside the bucket that holds the nearest-rank value; None when there are no samples."""
    total = sum(counts)
    if not total:
        return None
    target = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= target:
            low = LATENCY_BUCKETS_MS[i]
            high = LATENCY_BUCKETS_MS[i + 1] if i + 1 < _N_BUCKETS else low
            return low + (target - seen) / count * (high - low)
        seen += count
    return float(LATENCY_BUCKETS_MS[-1])


def _ratio(numerator, denominator) -> float | None:
    return numerator / denominator if denominator else None


def _figures(row: dict, *, percentiles: bool = False) -> dict:
    """The report figures from one aggregated row (see the module docstring); the percentiles only when the
    row has the histograms (or ``percentiles``: None for a row without runs)."""

    def total(name) -> int:
        return int(row.get(f"s_{name}") or 0)  # sum() of a bigint column is numeric (a Decimal)

    runs = total("runs")
    up, down = total("rated_up"), total("rated_down")
    figures = {
        "conversations": total("conversations_started"),
        "runs": runs,
        "active_users": total("active_users"),
        "messages": total("messages"),
        "input_tokens": total("input_tokens"),
        "output_tokens": total("output_tokens"),
        "cost": float(round(Decimal(row.get("s_cost") or 0), 4)),
        "error_rate": _ratio(total("failed_runs"), runs),
        "satisfaction": _ratio(up, up + down),
        "approval_rate": _ratio(total("approved"), total("reviewed")),
        "hours_saved": round(total("minutes_saved") / 60, 2),
        # What satisfaction was computed from, for callers that weigh it.
        "ratings": up + down,
    }
    if "t0" in row or percentiles:  # the histograms were summed
        ttft = [int(row.get(f"t{i}") or 0) for i in range(_N_BUCKETS)]
        latency = [int(row.get(f"l{i}") or 0) for i in range(_N_BUCKETS)]
        figures["ttft_p50"] = _rounded(percentile_from_buckets(ttft, 0.5))
        figures["ttft_p95"] = _rounded(percentile_from_buckets(ttft, 0.95))
        figures["latency_p50"] = _rounded(percentile_from_buckets(latency, 0.5))
        figures["latency_p95"] = _rounded(percentile_from_buckets(latency, 0.95))
    return figures


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


def _change(value, previous) -> float | None:
    if value is None or previous is None or not previous:
        return None
    return (value - previous) / previous


def overview(*, department_ids, period: Period) -> dict:
    """Every figure for the period with the previous period's: ``{key: {"value", "previous", "change"}}``;
    ``change`` is (value − previous) / previous, None when there is nothing to compare with."""
    previous = period.previous()
    found = {
        row["key"]: _figures(row)
        for row in _sums(department_ids, previous.start, period.end, by="split", split=period.start, buckets=True)
    }
    empty = _figures({}, percentiles=True)
    current, before = found.get(True, empty), found.get(False, empty)
    return {
        key: {"value": current[key], "previous": before[key], "change": _change(current[key], before[key])}
        for key in METRIC_KEYS
    }


def _bucket_starts(period: Period, grain: str) -> list[date]:
    def start_of(day: date) -> date:
        if grain == "week":
            return day - timedelta(days=day.weekday())
        if grain == "month":
            return day.replace(day=1)
        return day

    starts, day = [], start_of(period.start)
    while day <= period.end:
        starts.append(day)
        if grain == "week":
            day += timedelta(days=7)
        elif grain == "month":
            day = (day + timedelta(days=32)).replace(day=1)
        else:
            day += timedelta(days=1)
    return starts


def trend(*, department_ids, period: Period, grain: str = "day") -> list[dict]:
    """Figures per day, week (from Monday) or month of the period, oldest first, every bucket present (a
    week or month cut by the period counts only the period's days): ``[{"bucket": date, **figures}]``,
    every figure but the latency percentiles (those are the overview's)."""
    grain = grain if grain in GRAINS else "day"
    found = {row["key"]: _figures(row) for row in _sums(department_ids, period.start, period.end, by=grain)}
    empty = _figures({})
    return [{"bucket": start, **found.get(start, empty)} for start in _bucket_starts(period, grain)]


# --------------------------------------------------------------------------- rankings


def _labels(by: str, keys: list) -> dict:
    """Display names (and extra columns) for ranking keys."""
    if by == "agent":  # without model instances: a department's drill-down lists every agent it used
        return {
            pk: {"label": name, "department": department, "icon": icon}
            for pk, name, department, icon in Agent.objects.filter(pk__in=keys).values_list(
                "pk", "name", "department__name", "icon"
            )
        }
    if by == "department":
        return {d.pk: {"label": d.name} for d in Department.objects.filter(pk__in=keys)}
    if by == "user":
        return {u.pk: {"label": str(u)} for u in User.objects.filter(pk__in=keys)}
    labels = {s.key: {"label": s.name} for s in Scenario.objects.filter(key__in=keys)}
    for key in keys:
        if key not in labels and key.startswith("area:"):
            area = key.removeprefix("area:")
            name = Area(area).label if area in Area.values else area
            labels[key] = {"label": _("%(area)s（自建智能体）") % {"area": name}}
    return labels


def ranking_tables(
    *, department_ids, period: Period, by: tuple[str, ...] = RANKINGS, limit: int | None = 20
) -> dict[str, list[dict]]:
    """Several rankings (see ``rankings``) read together: ``{by: rows}``. Agents, scenarios and people
    come from one pass over the counters, departments from the sums per day and department."""
    unknown = set(by) - set(RANKINGS)
    if unknown:
        raise ValueError(f"unknown ranking {sorted(unknown)!r}")
    found = {}
    counted = [b for b in by if b != "department"]
    if counted:
        found = _counter_rankings(department_ids, period, counted, limit=limit)
    if "department" in by:
        found["department"] = _sums(department_ids, period.start, period.end, by="department", limit=limit)
    tables = {}
    for name in by:
        grouped = [(row["key"], _figures(row)) for row in found[name]]
        labels = _labels(name, [k for k, _figures in grouped])
        tables[name] = [
            {
                "key": k,
                **labels.get(k, {"label": str(k)}),
                **figures,
                "tokens": figures["input_tokens"] + figures["output_tokens"],
            }
            for k, figures in grouped
        ]
    return tables


def rankings(*, department_ids, period: Period, by: str, limit: int | None = 20) -> list[dict]:
    """Agents, departments (caller departments, each its own use), scenarios (the catalog scenario an agent
    was made from, else its area) or users (people; API-key calls have none), most runs first; ``limit``
    None for all. Rows: ``{"key", "label", "runs", "active_users", "tokens", "cost", "satisfaction",
    "hours_saved"}`` plus every other figure but the latency percentiles (and ``department`` for agents)."""
    if by not in RANKINGS:
        raise ValueError(f"unknown ranking {by!r}")
    return ranking_tables(department_ids=department_ids, period=period, by=(by,), limit=limit)[by]


def department_agents(*, department_ids, department_id: int, period: Period) -> list[dict]:
    """Drill-down: the agents used by ``department_id`` and the departments below it (those among
    ``department_ids``), as ranking rows, most runs first. A department outside ``department_ids`` gets []."""
    ids = set(department_ids)
    if department_id not in ids:
        return []
    department = Department.objects.filter(pk=department_id).first()
    if department is None:
        return []
    below = Department.objects.filter(pk__in=ids, path__startswith=department.path).values_list("pk", flat=True)
    return rankings(department_ids=list(below), period=period, by="agent", limit=None)


# --------------------------------------------------------------------------- adoption


def _ratings_by_agent(department_ids, period: Period) -> list[tuple]:
    """(agent, 👍, 👎, 👍 before, 👎 before, name, department name, icon) for the period and the previous
    one, agents with ratings only (their names read in the same query: the count of queries stays the
    same whether any agent is listed or not)."""
    previous = period.previous()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.*, a.name, d.name, a.icon FROM (SELECT agent_id,"
            " COALESCE(sum(rated_up) FILTER (WHERE day >= %(start)s), 0),"
            " COALESCE(sum(rated_down) FILTER (WHERE day >= %(start)s), 0),"
            " COALESCE(sum(rated_up) FILTER (WHERE day < %(start)s), 0),"
            " COALESCE(sum(rated_down) FILTER (WHERE day < %(start)s), 0)"
            " FROM agents_usagecounter"
            " WHERE department_id = ANY(%(ids)s) AND day >= %(first)s AND day <= %(end)s"
            " AND rated_up + rated_down > 0 GROUP BY agent_id) r"
            " JOIN agents_agent a ON a.id = r.agent_id JOIN tenants_department d ON d.id = a.department_id",
            {"ids": list(department_ids), "start": period.start, "first": previous.start, "end": period.end},
        )
        return cursor.fetchall()


def adoption(
    *,
    department_ids,
    period: Period,
    margin: float = FALLING_MARGIN,
    min_ratings: int = FALLING_MIN_RATINGS,
) -> dict:
    """Where the platform is not taken up, as lists of ``{"key", "label", ...}``:

    - ``idle_departments``: active departments with no run in the period;
    - ``idle_staff``: active staff members of those departments with no run in the period (``department``:
      where they are staff);
    - ``unused_agents``: active published agents of those departments never used by anyone up to the
      period's end (``department``: the owner);
    - ``falling_satisfaction``: agents whose satisfaction among these departments fell by more than
      ``margin`` against the previous period, both with ``min_ratings`` ratings or more (``satisfaction``,
      ``previous``, ``change``), largest fall first.
    """
    ids = list(department_ids)
    used_departments = set(
        DepartmentUsage.objects.filter(department_id__in=ids, day__gte=period.start, day__lte=period.end, runs__gt=0)
        .values_list("department_id", flat=True)
        .distinct()
    )
    idle_departments = [
        {"key": d.pk, "label": d.name, "path": d.path}
        for d in Department.objects.filter(pk__in=ids, is_active=True).order_by("path")
        if d.pk not in used_departments
    ]

    staff = list(
        Membership.objects.filter(department__in=ids, role=Role.STAFF, user__is_active=True)
        .order_by("department__path", "user__username")
        .values_list(
            "user_id",
            "department__name",
            "user__username",
            "user__display_name",
            "user__first_name",
            "user__last_name",
        )
    )
    # Use from any department counts: a person who used the platform is not idle. (One array parameter
    # rather than thousands of IN placeholders, which cost more to build and parse than the query. Every
    # counter holds at least one run, so the index answers alone.)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT user_id FROM agents_usagecounter WHERE day >= %s AND day <= %s AND user_id = ANY(%s)",
            [period.start, period.end, list({row[0] for row in staff})],
        )
        active = {user_id for (user_id,) in cursor.fetchall()}
    idle_staff: dict[int, dict] = {}
    for user_id, department_name, username, display_name, first_name, last_name in staff:
        if user_id in active:
            continue
        # As User.__str__ names people (without building thousands of model instances).
        label = display_name or f"{first_name} {last_name}".strip() or username
        row = idle_staff.setdefault(user_id, {"key": user_id, "label": label, "departments": []})
        row["departments"].append(department_name)
    for row in idle_staff.values():
        row["department"] = "、".join(row.pop("departments"))

    used_before_end = UsageCounter.objects.filter(agent_id=OuterRef("pk"), day__lte=period.end, runs__gt=0)
    unused_agents = [
        {"key": a.pk, "label": a.name, "department": a.department.name}
        for a in Agent.objects.filter(
            department__in=ids,
            is_active=True,
            current_version__isnull=False,
            created_at__date__lte=period.end,
        )
        .exclude(Exists(used_before_end))
        .select_related("department")
        .order_by("department__path", "name")
    ]

    falling = []
    for agent_id, up, down, up_before, down_before, name, department, icon in _ratings_by_agent(ids, period):
        if up + down < min_ratings or up_before + down_before < min_ratings:
            continue
        satisfaction, before = up / (up + down), up_before / (up_before + down_before)
        if satisfaction <= before - margin:
            falling.append(
                {
                    "key": agent_id,
                    "satisfaction": satisfaction,
                    "previous": before,
                    "change": _change(satisfaction, before),
                    "label": name,
                    "department": department,
                    "icon": icon,
                }
            )
    falling.sort(key=lambda row: (row["satisfaction"] - row["previous"], row["label"]))

    return {
        "idle_departments": idle_departments,
        "idle_staff": list(idle_staff.values()),
        "unused_agents": unused_agents,
        "falling_satisfaction": falling,
    }
