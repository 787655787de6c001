"""Leaders' reports at a million runs: the pages over real HTTP against today's code, and the overview from
the rollups against the same figures from raw runs.

Generates RUNS runs (default 1,000,000; ``python bench/reports.py 200000`` for fewer) across 200 departments,
2,000 agents and 5,000 people over 120 days with bulk SQL, builds the rollups with the rebuild service, then,
for the leader of a district covering about half of the departments:

- the whole pages as the logged-in leader gets them over HTTP: the overview (30 days, and the default 7)
  and the district's department page, from this checkout under uvicorn (DEBUG off, as ``run.py`` serves
  it) against the same pages from the baseline commit (the code before the rollup per day and department,
  exported with ``git archive``) under uvicorn on the same database, requests alternating between the two,
  p50/p95 and their ratios; the two servers' JSON of every page checked equal figure for figure;
- the pages' queries (the same count whatever the data, see tests/agents/reports/test_views.py);
- ``overview()`` (this period and the previous one) against one SQL aggregation over the raw runs
  computing the same figures (exact percentiles), checked equal; the page's selectors in process; the
  rollup rebuild of every day and the periodic reconciliation.

``--baseline REF`` serves another commit as the baseline. See bench/README.md.
"""

import argparse
import hashlib
import http.client
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from _db import ROOT, bench_database

# Today's code path: the last commit before the leaders' pages read the rollup per day and department.
BASELINE = "e8a2b0af0a90721c764e494f388e5f98931bb3da"
_args = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
_args.add_argument("runs", nargs="?", type=int, default=1_000_000)
_args.add_argument("--baseline", default=BASELINE, help="the commit served as the baseline (default: %(default)s)")
_args.add_argument("--requests", type=int, default=40, help="measured requests per page and server")
ARGS = _args.parse_args()
RUNS = ARGS.runs
RUNS_PER_SESSION = 4
DEPARTMENTS = 200
AGENTS_PER_DEPARTMENT = 10
PEOPLE_PER_DEPARTMENT = 25
DAYS = 120
OVERVIEW_CALLS = 30
RAW_CALLS = 10


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


def timed(fn, calls: int) -> list[float]:
    fn()  # warm: the first call pays for plans and cold pages, in both cases
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def build_world():
    """Departments, people, agents with published versions (ORM, small), and their ids in generation order."""
    from agents.catalog.areas import Area
    from agents.models import Agent, AgentVersion, PromptTemplate, Scenario
    from tenants import audit
    from tenants.models import Department, Membership, User
    from tenants.roles import Role

    audit.AUDITED_APPS.clear()
    root = Department.objects.create(name="市", code="city")
    districts = [Department.objects.create(name=f"区{i}", code=f"d{i}", parent=root) for i in range(4)]
    # District 0 holds about half of the departments: its leader has a large subtree.
    units = []
    for i in range(DEPARTMENTS - 1 - len(districts)):
        parent = districts[0] if i % 2 == 0 else districts[1 + i % 3]
        units.append(Department.objects.create(name=f"局{i}", code=f"u{i}", parent=parent))
    departments = [root, *districts, *units]

    users = User.objects.bulk_create(
        [
            User(username=f"p{d.pk}-{n}", password="!", display_name=f"员工{d.pk}-{n}")
            for d in departments
            for n in range(PEOPLE_PER_DEPARTMENT)
        ],
        batch_size=2000,
    )
    Membership.objects.bulk_create(
        [
            Membership(user=u, department=departments[i // PEOPLE_PER_DEPARTMENT], role=Role.STAFF)
            for i, u in enumerate(users)
        ],
        batch_size=2000,
    )
    leader = User.objects.create(username="bench-leader", password="!")
    Membership.objects.create(user=leader, department=districts[0], role=Role.LEADER)

    templates = PromptTemplate.objects.bulk_create(
        [PromptTemplate(department=d, name="模板", body="你是助手。") for d in departments]
    )
    scenario_keys = list(Scenario.objects.values_list("key", flat=True)) or [""]
    areas = list(Area.values)
    agents = Agent.objects.bulk_create(
        [
            Agent(
                department=d,
                template=templates[di],
                name=f"智能体{d.pk}-{k}",
                slug=f"a{k}",
                area=areas[(di + k) % len(areas)],
                minutes_saved=5 + (di * 7 + k * 13) % 56,
                requires_review=k == 0,
                assign_all_members=True,
                scenario_key=scenario_keys[(di * 10 + k) % len(scenario_keys)] if k % 3 == 0 else "",
            )
            for di, d in enumerate(departments)
            for k in range(AGENTS_PER_DEPARTMENT)
        ],
        batch_size=2000,
    )
    versions = []
    for agent in agents:
        text = AgentVersion.canonical({"name": agent.name, "minutes_saved": agent.minutes_saved})
        versions.append(
            AgentVersion(agent=agent, number=1, snapshot_text=text, digest=hashlib.sha256(text.encode()).hexdigest())
        )
    versions = AgentVersion.objects.bulk_create(versions, batch_size=2000)  # bulk: no save(), digest set above
    for agent, version in zip(agents, versions, strict=True):
        agent.current_version = version
    Agent.objects.bulk_update(agents, ["current_version"], batch_size=2000)
    return {
        "leader": leader,
        "departments": [d.pk for d in departments],
        "users": [u.pk for u in users],
        "agents": [a.pk for a in agents],
        "agent_departments": [a.department_id for a in agents],
        "versions": [v.pk for v in versions],
    }


def _columns(model, given: dict) -> tuple[str, str]:
    """Every concrete column of ``model``: the given SQL expression, else NULL or the field's default."""
    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.attname not in given:
            continue
        names.append(field.column)
        if field.attname in given:
            values.append(given[field.attname])
        elif field.null:
            values.append("NULL")
        else:
            default = field.get_default()
            if isinstance(default, (dict, list)):
                values.append(f"'{json.dumps(default)}'::jsonb")
            elif isinstance(default, bool):
                values.append("true" if default else "false")
            elif isinstance(default, (int, float)):
                values.append(str(default))
            else:
                values.append("'" + str(default).replace("'", "''") + "'")
    return ", ".join(names), ", ".join(values)


def generate_runs(world: dict) -> None:
    """RUNS runs in sessions of four, 40 % of sessions in a conversation, by bulk SQL."""
    from django.conf import settings
    from django.db import connection

    from agents.models import Conversation, Run

    sessions = RUNS // RUNS_PER_SESSION
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no per-row foreign-key triggers
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            """
            CREATE TEMP TABLE bench_session AS
            SELECT g, dep_i,
                (dep_i * %(people)s + floor(random() * %(people)s))::int AS user_i,
                CASE WHEN random() < 0.9 THEN dep_i * %(agents_per)s + floor(random() * %(agents_per)s)::int
                     ELSE floor(random() * %(agents)s)::int END AS agent_i,
                floor(power(random(), 1.3) * %(days)s)::int AS day_offset,
                random() * 86000 AS second,
                random() < 0.4 AS in_conversation,
                random() < 0.05 AS by_api
            FROM (SELECT g, floor(power(random(), 1.5) * %(departments)s)::int AS dep_i
                  FROM generate_series(0, %(last)s) g) s
            """,
            {
                "people": PEOPLE_PER_DEPARTMENT,
                "agents_per": AGENTS_PER_DEPARTMENT,
                "agents": len(world["agents"]),
                "days": DAYS,
                "departments": len(world["departments"]),
                "last": sessions - 1,
            },
        )
        cursor.execute("SELECT COALESCE(max(id), 0) + 1 FROM agents_conversation")
        base = cursor.fetchone()[0]
        arrays = {
            "departments": world["departments"],
            "users": world["users"],
            "agents": world["agents"],
            "agent_departments": world["agent_departments"],
            "versions": world["versions"],
            "base": base,
            "tz": settings.TIME_ZONE,
        }
        started = (
            "(date_trunc('day', now() AT TIME ZONE %(tz)s) AT TIME ZONE %(tz)s"
            " - make_interval(days => s.day_offset) + make_interval(secs => s.second + s.k * 90))"
        )
        names, values = _columns(
            Conversation,
            {
                "id": "%(base)s + s.g",
                "department_id": "(%(departments)s::int[])[s.dep_i + 1]",
                "user_id": "(%(users)s::int[])[s.user_i + 1]",
                "agent_id": "(%(agents)s::int[])[s.agent_i + 1]",
                "title": "'会话'",
                "created_at": started,
                "updated_at": started,
            },
        )
        cursor.execute(
            f"INSERT INTO agents_conversation ({names}) SELECT {values}"
            " FROM (SELECT *, 0 AS k FROM bench_session WHERE in_conversation AND NOT by_api) s",
            arrays,
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('agents_conversation', 'id'), "
            "(SELECT max(id) FROM agents_conversation))"
        )
        status = (
            "CASE WHEN s.r_status < 0.93 THEN 'succeeded' WHEN s.r_status < 0.96 THEN 'failed'"
            " WHEN s.r_status < 0.98 THEN 'incomplete' ELSE 'blocked' END"
        )
        ttft = "CASE WHEN s.r_status >= 0.98 THEN NULL ELSE round(exp(6.4 + 1.2 * (s.r1 + s.r2 + s.r3 - 1.5)))::int END"
        latency = "round(exp(6.4 + 1.2 * (s.r1 + s.r2 + s.r3 - 1.5)) + exp(7.8 + 1.0 * (s.r4 + s.r5 - 1.0)))::int"
        review = (
            "CASE WHEN s.agent_i %% 10 <> 0 OR s.r_status >= 0.93 THEN ''"
            " WHEN s.r_review < 0.85 THEN 'approved' WHEN s.r_review < 0.90 THEN 'edited'"
            " WHEN s.r_review < 0.97 THEN 'rejected' ELSE 'pending' END"
        )
        names, values = _columns(
            Run,
            {
                "department_id": "(%(agent_departments)s::int[])[s.agent_i + 1]",
                "caller_department_id": "(%(departments)s::int[])[s.dep_i + 1]",
                "agent_id": "(%(agents)s::int[])[s.agent_i + 1]",
                "version_id": "(%(versions)s::int[])[s.agent_i + 1]",
                "conversation_id": "CASE WHEN s.in_conversation AND NOT s.by_api THEN %(base)s + s.g END",
                "user_id": "CASE WHEN s.by_api THEN NULL ELSE (%(users)s::int[])[s.user_i + 1] END",
                "via": "CASE WHEN s.by_api THEN 'api' ELSE 'chat' END",
                "status": status,
                "input_text": "'请根据以下材料起草一份关于防汛工作的通知，要求格式规范、要点清楚。'",
                "answer": "repeat('关于做好防汛工作的通知：各单位要落实责任，加强值守，及时报告险情。', 8)",
                "model_name": "'deepseek-chat'",
                "model_calls": "1",
                "input_tokens": "(300 + s.r4 * 3000)::int",
                "output_tokens": "(80 + s.r5 * 1200)::int",
                "cost": "round(((300 + s.r4 * 3000)::int * 0.002 + (80 + s.r5 * 1200)::int * 0.008) / 1000, 6)",
                "ttft_ms": ttft,
                "latency_ms": latency,
                "started_at": started,
                "finished_at": f"{started} + make_interval(secs => 5)",
                "metered_at": f"{started} + make_interval(secs => 5)",
                "review_status": review,
                "reviewed_at": f"CASE WHEN {review} IN ('approved', 'edited', 'rejected')"
                f" THEN {started} + interval '1 hour' END",
                "rating": "CASE WHEN s.r_rating < 0.15 THEN 1 WHEN s.r_rating < 0.20 THEN -1 END",
                "rated_at": f"CASE WHEN s.r_rating < 0.20 THEN {started} + interval '5 minutes' END",
            },
        )
        cursor.execute(
            f"INSERT INTO agents_run ({names}) SELECT {values} FROM ("
            " SELECT b.*, k, random() AS r_status, random() AS r_review, random() AS r_rating,"
            " random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5"
            f" FROM bench_session b CROSS JOIN generate_series(0, {RUNS_PER_SESSION - 1}) k) s",
            arrays,
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("DROP TABLE bench_session")
        cursor.execute("VACUUM ANALYZE agents_run")
        cursor.execute("VACUUM ANALYZE agents_conversation")


# The overview's figures computed from the raw runs in one pass (exact percentiles), as a report would
# without rollups.
RAW = """
WITH r AS MATERIALIZED (
    SELECT r.*, (r.conversation_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM agents_run p WHERE p.conversation_id = r.conversation_id AND p.id < r.id)) AS opened
    FROM agents_run r
    WHERE COALESCE(r.caller_department_id, r.department_id) = ANY(%(ids)s)
      AND r.started_at >= %(lo)s AND r.started_at < %(hi)s AND r.status <> 'running'
),
m AS (
    SELECT v.id, COALESCE((v.snapshot_text::jsonb ->> 'minutes_saved')::int, 0) AS minutes
    FROM agents_agentversion v WHERE v.id IN (SELECT DISTINCT version_id FROM r)
)
SELECT count(*) FILTER (WHERE opened), count(*), count(DISTINCT user_id), count(conversation_id),
    sum(input_tokens), sum(output_tokens), sum(cost),
    percentile_disc(0.5) WITHIN GROUP (ORDER BY ttft_ms), percentile_disc(0.95) WITHIN GROUP (ORDER BY ttft_ms),
    percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms),
    percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms),
    count(*) FILTER (WHERE status <> 'succeeded'),
    count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = -1),
    count(*) FILTER (WHERE review_status IN ('approved', 'edited', 'rejected')),
    count(*) FILTER (WHERE review_status IN ('approved', 'edited')),
    COALESCE(sum(m.minutes) FILTER (WHERE status = 'succeeded' AND review_status <> 'rejected'), 0)
FROM r LEFT JOIN m ON m.id = r.version_id
"""
RAW_KEYS = (
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
)


def raw_overview(ids: list[int], period) -> dict:
    """The overview (value, previous) from raw runs: the baseline."""
    from django.db import connection

    from agents.reports.rollups import _day_bounds

    figures = []
    for p in (period, period.previous()):
        lo, hi = _day_bounds(p.start)[0], _day_bounds(p.end)[1]
        with connection.cursor() as cursor:
            cursor.execute(RAW, {"ids": ids, "lo": lo, "hi": hi})
            row = cursor.fetchone()
        values = dict(zip(RAW_KEYS, row[:11], strict=True))
        failed, up, down, reviewed, approved, minutes = row[11:]
        values["cost"] = float(round(values["cost"] or 0, 4))
        values["error_rate"] = failed / values["runs"] if values["runs"] else None
        values["satisfaction"] = up / (up + down) if up + down else None
        values["approval_rate"] = approved / reviewed if reviewed else None
        values["hours_saved"] = round(minutes / 60, 2)
        figures.append(values)
    return {k: {"value": figures[0][k], "previous": figures[1][k]} for k in figures[0]}


# The platform as run.py serves it (uvicorn, one process, DEBUG off), from the checkout at ``sys.argv[1]``.
# Connections are not kept between requests, as with the embedded default (see bench/api.py).
PLATFORM = """
import sys
sys.path.insert(0, sys.argv[1])
import django
django.setup()
from django.conf import settings
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
import uvicorn
from config.asgi import application
uvicorn.run(application, host="127.0.0.1", port=int(sys.argv[2]), lifespan="off", access_log=False, log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def export_baseline(ref: str, folder: Path) -> str:
    """The baseline commit's files (``git archive``, nothing registered in the repository); its short hash."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", f"{ref}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return commit


class Site:
    """One served checkout, fetched over one kept-alive HTTP connection as a browser would."""

    def __init__(self, name: str, root: Path, cookie: str, var: Path) -> None:
        from django.conf import settings

        self.name, self.port, self.cookie = name, free_port(), cookie
        env = {
            **os.environ,
            "DJANGO_DEBUG": "0",
            # Both checkouts read the same sessions and secrets.
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "SHUZHI_ENCRYPTION_SALT": settings.SALT_KEY,
            "SHUZHI_VAR_DIR": str(var),
        }
        self.process = subprocess.Popen([sys.executable, "-c", PLATFORM, str(root), str(self.port)], cwd=root, env=env)
        self.connection = None
        deadline = time.monotonic() + 120
        while True:
            try:
                status, _body, _seconds = self.get("/accounts/login/")
                if status in (200, 302):  # the login page, or on to the reports for the logged-in leader
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the {name} platform did not start")
            time.sleep(0.3)

    def get(self, path: str) -> tuple[int, bytes, float]:
        """(status, body, seconds from sending the request to the last byte of the answer)."""
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": f"sessionid={self.cookie}", "Accept-Language": "zh-hans"}
        began = time.perf_counter()
        try:
            self.connection.request("GET", path, headers=headers)
            response = self.connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = None
            raise
        seconds = time.perf_counter() - began
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = None
        return response.status, body, seconds

    def stop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def json_differences(a, b, where: str = "") -> list[str]:
    """Where two JSON answers differ (empty: equal), for the report."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b), key=str):
            found += json_differences(a.get(key), b.get(key), f"{where}.{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        found = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found += json_differences(x, y, f"{where}[{i}]")
        return found
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"[:300]]


def http_pages(world: dict, baseline_ref: str, requests: int) -> tuple[str, list[tuple], list[str], dict]:
    """The pages over HTTP from this checkout and from the baseline: (baseline commit, rows of
    (page, baseline seconds, seconds), differences between their figures, queries per page)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tenants.models import Department

    client = Client()
    client.force_login(world["leader"], backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    district = Department.objects.get(code="d0")
    pages = {
        "overview, 30 days": "/reports/?period=30d",
        "overview, default (7 days)": "/reports/",
        "district's department page, 30 days": f"/reports/departments/{district.pk}/?period=30d",
    }
    queries = {}
    for name, path in pages.items():
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        queries[name] = len(captured)

    folder = Path(tempfile.mkdtemp(prefix="shuzhi-reports-baseline-"))
    try:
        commit = export_baseline(baseline_ref, folder / "code")
        sites = [
            Site("baseline", folder / "code", cookie, folder / "var-baseline"),
            Site("this checkout", ROOT, cookie, folder / "var"),
        ]
        try:
            differences = []
            for name, path in pages.items():
                answers = []
                for site in sites:
                    status, body, _seconds = site.get(path + ("&" if "?" in path else "?") + "format=json")
                    assert status == 200, (site.name, path, status, body[:300])
                    answers.append(json.loads(body))
                differences += [f"{name}: {d}" for d in json_differences(*answers)]
            samples = {(name, site.name): [] for name in pages for site in sites}
            for path in pages.values():
                for site in sites:
                    for _ in range(3):  # warm: plans, caches and imports on both sides
                        status, body, _seconds = site.get(path)
                        assert status == 200 and b'data-metric="runs"' in body, (site.name, path, status)
            for i in range(requests):
                for name, path in pages.items():
                    for site in sites if i % 2 == 0 else sites[::-1]:  # alternate who goes first
                        status, _body, seconds = site.get(path)
                        assert status == 200
                        samples[(name, site.name)].append(seconds)
        finally:
            for site in sites:
                site.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = [(name, samples[(name, "baseline")], samples[(name, "this checkout")]) for name in pages]
    return commit, rows, differences, queries


def main() -> None:
    from django.db import connection
    from django.utils import timezone

    from agents.models import Run, UsageCounter
    from agents.reports import selectors
    from agents.reports.rollups import usage_history_span, usage_rebuild, usage_reconcile
    from agents.runtime.metering import usage_day

    clock = time.perf_counter()
    world = build_world()
    generate_runs(world)
    generated = time.perf_counter() - clock
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('agents_run'))")
        run_size = cursor.fetchone()[0]

    first, last = usage_history_span()
    clock = time.perf_counter()
    rows = usage_rebuild(start=first, end=last)
    rebuild = time.perf_counter() - clock
    clock = time.perf_counter()
    reconciled = usage_reconcile()
    reconcile = time.perf_counter() - clock
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE agents_usagecounter")
        cursor.execute("VACUUM ANALYZE agents_departmentusage")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('agents_usagecounter'))")
        counter_size = cursor.fetchone()[0]
        cursor.execute(
            "SELECT (SELECT count(*) FROM agents_departmentusage),"
            " pg_size_pretty(pg_total_relation_size('agents_departmentusage'))"
        )
        department_rows, department_size = cursor.fetchone()

    leader = world["leader"]
    scope = selectors.report_department_ids(leader)
    today = usage_day(timezone.now())
    lines = []
    checks = []
    for name in ("30d", "7d"):
        period = selectors.period_from({"period": name}, today=today)
        rollup = timed(lambda period=period: selectors.overview(department_ids=scope, period=period), OVERVIEW_CALLS)
        raw = timed(lambda period=period: raw_overview(scope, period), RAW_CALLS)
        from_rollups = selectors.overview(department_ids=scope, period=period)
        from_raw = raw_overview(scope, period)
        runs_read = from_raw["runs"]["value"] + from_raw["runs"]["previous"]
        lines.append((name, runs_read, percentiles(rollup), percentiles(raw)))
        for key, figures in from_raw.items():
            for which in ("value", "previous"):
                a, b = from_rollups[key][which], figures[which]
                if key.endswith(("_p50", "_p95")):
                    ok = a is not None and b is not None and abs(a - b) <= 0.42 * b  # within one bucket
                elif isinstance(b, float):
                    ok = a is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))
                else:
                    ok = a == b
                if not ok:
                    checks.append(f"{name} {key} {which}: rollups {a} vs raw {b}")
    # The whole overview page's selectors (overview, daily trend, four rankings, adoption), for context.
    month = selectors.period_from({"period": "30d"}, today=today)

    def page():
        selectors.overview(department_ids=scope, period=month)
        selectors.trend(department_ids=scope, period=month, grain="day")
        selectors.ranking_tables(department_ids=scope, period=month, by=selectors.RANKINGS)
        selectors.adoption(department_ids=scope, period=month)

    page_p = percentiles(timed(page, 10))
    commit, http_rows, differences, queries = http_pages(world, ARGS.baseline, ARGS.requests)

    print(
        f"runs={Run.objects.count():,} ({run_size}) departments={len(world['departments'])} "
        f"agents={len(world['agents'])} people={len(world['users']):,} days={DAYS}; leader's subtree: "
        f"{len(scope)} departments; counters={UsageCounter.objects.count():,} rows ({counter_size}); "
        f"sums per day and department={department_rows:,} rows ({department_size}); generated in {generated:.0f} s"
    )
    print()
    print(
        f"Whole pages as the leader gets them over HTTP (uvicorn, DEBUG off), {ARGS.requests} requests each, "
        f"alternating with the baseline ({commit}, today's code) on the same database:"
    )
    print()
    print("| page | baseline p50 / p95 | this checkout p50 / p95 | ratio p50 / p95 | queries |")
    print("| --- | --- | --- | --- | --- |")
    for name, before, after in http_rows:
        (b50, b95), (a50, a95) = percentiles(before), percentiles(after)
        print(
            f"| {name} | {b50 * 1e3:.0f} / {b95 * 1e3:.0f} ms | {a50 * 1e3:.0f} / {a95 * 1e3:.0f} ms "
            f"| {b50 / a50:.1f}× / {b95 / a95:.1f}× faster | {queries[name]} |"
        )
    print()
    print("every figure of the pages (their JSON) equal to the baseline's:", "yes" if not differences else "NO")
    for line in differences[:20]:
        print("  ", line)
    print()
    print("| measure | rollups | raw runs | ratio |")
    print("| --- | --- | --- | --- |")
    for name, runs_read, (r50, r95), (w50, w95) in lines:
        print(
            f"| overview {name} + previous, p50 (over {runs_read:,} runs) | {r50 * 1e3:.1f} ms | {w50 * 1e3:.1f} ms "
            f"| {w50 / r50:.0f}× |"
        )
        print(f"| overview {name} + previous, p95 | {r95 * 1e3:.1f} ms | {w95 * 1e3:.1f} ms | {w95 / r95:.0f}× |")
    print(f"| whole overview page's selectors, 30d, p50 / p95 | {page_p[0] * 1e3:.0f} / {page_p[1] * 1e3:.0f} ms | | |")
    print(
        f"| rollup rebuild of all {(last - first).days + 1} days ({rows:,} rows) | {rebuild:.1f} s "
        f"({rebuild / ((last - first).days + 1) * 1e3:.0f} ms/day) | | |"
    )
    print(f"| periodic reconciliation ({len(reconciled)} days: today, yesterday) | {reconcile:.2f} s | | |")
    print()
    print("figures equal (percentiles within one bucket):", "yes" if not checks else "NO")
    for line in checks[:20]:
        print("  ", line)
    assert reconciled[-1] == today and reconciled[0] == today - timedelta(days=1)


if __name__ == "__main__":
    with bench_database("shuzhi_bench_reports"):
        main()
