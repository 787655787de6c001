"""The leaders' report pages: department isolation for every view and export, the figures, and the drill-down.

Every report URL — the overview, its JSON, each export, a department's drill-down and an agent's runs —
answers anonymous visitors with the login page, roles without reports with 403, and a leader with their
own subtree's numbers only; another department's or agent's id answers 404 however it is asked for.
Runs are made by the real runtime (retrieval-only agents need no model server) and counted by run_meter.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from agents.chat.services import conversation_start
from agents.models import Run
from agents.reports.rollups import usage_rebuild
from agents.runtime.pipeline import run_execute
from agents.runtime.review import Decision, run_review
from tenants.models import Membership
from tenants.roles import Role
from tests.agents.reports.usage import bulk_runs, local_day
from tests.agents.runtime.helpers import published_agent
from tests.factories import make_tenant, make_user

OVERVIEW_TABLES = ["trend", "agents", "departments", "scenarios", "users"]
A_AGENT, B_AGENT = "甲局政策助手", "乙局执法助手"
A_RUNS, B_RUNS = 3, 1


@pytest.fixture
def usage(tenant_a, tenant_b):
    """A's staff ran A's agent three times (one answer rated, one reviewed); B's staff ran B's agent once."""
    tenant_a.staff.display_name, tenant_b.staff.display_name = "甲局张三", "乙局李四"
    tenant_a.staff.save()
    tenant_b.staff.save()
    agent_a = published_agent(tenant_a.department, name=A_AGENT, minutes_saved=30)
    agent_b = published_agent(tenant_b.department, name=B_AGENT)
    conversation = conversation_start(user=tenant_a.staff, agent=agent_a)
    runs_a = [
        run_execute(principal=tenant_a.staff, agent=agent_a, conversation=conversation, message=f"问题{i}")
        for i in range(A_RUNS)
    ]
    run_execute(principal=tenant_b.staff, agent=agent_b, message="问题")
    return {"agent_a": agent_a, "agent_b": agent_b, "runs_a": runs_a}


def report_urls(tenant, agent) -> list[tuple[str, str]]:
    """(kind, url) of every report view and export about ``tenant``'s department and ``agent``."""
    home = reverse("reports:home")
    department = reverse("reports:department", args=[tenant.department.pk])
    runs = reverse("reports:agent_runs", args=[agent.pk])
    urls = [("page", home), ("json", f"{home}?format=json")]
    urls += [(fmt, f"{home}?export={fmt}&table={table}") for table in OVERVIEW_TABLES for fmt in ("csv", "xlsx")]
    urls += [("page", department), ("json", f"{department}?format=json")]
    urls += [
        (fmt, f"{department}?export={fmt}&table={table}") for table in ("trend", "agents") for fmt in ("csv", "xlsx")
    ]
    urls += [("page", runs), ("json", f"{runs}?format=json")]
    urls += [(fmt, f"{runs}?export={fmt}&table=runs") for fmt in ("csv", "xlsx")]
    return urls


def _ids():
    kinds = ["overview", "overview-json"]
    kinds += [f"overview-{t}-{f}" for t in OVERVIEW_TABLES for f in ("csv", "xlsx")]
    kinds += ["department", "department-json"]
    kinds += [f"department-{t}-{f}" for t in ("trend", "agents") for f in ("csv", "xlsx")]
    kinds += ["agent-runs", "agent-runs-json", "agent-runs-csv", "agent-runs-xlsx"]
    return kinds


URL_IDS = _ids()
# The URLs that name a department or an agent (the drill-down and everything under it).
ID_URLS = [i for i, name in enumerate(URL_IDS) if not name.startswith("overview")]


def rows_of(kind: str, response) -> list[dict]:
    """A downloaded table as dicts keyed by its headings."""
    if kind == "csv":
        assert response["Content-Type"].startswith("text/csv")
        reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
        return list(reader)
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def counted_runs(kind: str, url: str, response) -> int:
    """How many runs the response reports, read as a person would read it."""
    if kind == "page":
        html = response.content.decode()
        if "/runs/" in url:
            return html.count('<tr class="status-')
        card = html.split('data-metric="runs"', 1)[1]
        return int(card.split('class="metric-value">', 1)[1].split("<", 1)[0].replace(",", ""))
    if kind == "json":
        data = response.json()
        if "runs" in data["tables"]:
            return len(data["tables"]["runs"]["rows"])
        return next(m["value"] for m in data["metrics"] if m["key"] == "runs")
    rows = rows_of(kind, response)
    if "table=runs" in url:
        return len(rows)
    return sum(int(float(r["运行次数"] or 0)) for r in rows)


def text_of(kind: str, response) -> str:
    if kind in ("csv", "xlsx"):
        return json.dumps(rows_of(kind, response), ensure_ascii=False, default=str)
    return response.content.decode()


@pytest.mark.parametrize("index", range(len(URL_IDS)), ids=URL_IDS)
def test_anonymous_visitors_are_sent_to_login(client, tenant_a, tenant_b, usage, index):
    _kind, url = report_urls(tenant_a, usage["agent_a"])[index]
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", ["staff", "reviewer"])
@pytest.mark.parametrize("index", range(len(URL_IDS)), ids=URL_IDS)
def test_roles_without_reports_are_refused(login, tenant_a, tenant_b, usage, role, index):
    _kind, url = report_urls(tenant_a, usage["agent_a"])[index]
    assert login(tenant_a.users[role]).get(url).status_code == 403


@pytest.mark.parametrize("index", range(len(URL_IDS)), ids=URL_IDS)
def test_leader_sees_their_departments_numbers_and_not_the_others(login, tenant_a, tenant_b, usage, index):
    client = login(tenant_a.leader)
    kind, url = report_urls(tenant_a, usage["agent_a"])[index]
    response = client.get(url)
    assert response.status_code == 200
    assert counted_runs(kind, url, response) == A_RUNS
    text = text_of(kind, response)
    assert B_AGENT not in text and "乙局李四" not in text and tenant_b.department.name not in text
    if kind in ("csv", "xlsx"):
        assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize("index", range(len(URL_IDS)), ids=URL_IDS)
def test_platform_admin_sees_every_department(login, platform_admin, tenant_a, tenant_b, usage, index):
    client = login(platform_admin)
    kind, url = report_urls(tenant_b, usage["agent_b"])[index]
    response = client.get(url)
    assert response.status_code == 200
    expected = B_RUNS if ("/departments/" in url or "/runs/" in url) else A_RUNS + B_RUNS
    assert counted_runs(kind, url, response) == expected


@pytest.mark.parametrize("index", ID_URLS, ids=[URL_IDS[i] for i in ID_URLS])
def test_another_departments_ids_answer_404_however_asked(login, tenant_a, tenant_b, usage, index):
    _kind, url = report_urls(tenant_b, usage["agent_b"])[index]
    client = login(tenant_a.leader)
    assert client.get(url).status_code == 404
    assert client.get(url, headers={"HX-Request": "true", "HX-Target": "report"}).status_code == 404


def test_agent_runs_narrowed_to_another_department_answer_404(login, tenant_a, tenant_b, usage):
    url = reverse("reports:agent_runs", args=[usage["agent_a"].pk])
    client = login(tenant_a.leader)
    assert client.get(f"{url}?department={tenant_b.department.pk}").status_code == 404
    assert client.get(f"{url}?department={tenant_a.department.pk}").status_code == 200


def test_unknown_export_or_table_answers_404(login, tenant_a, tenant_b, usage):
    client = login(tenant_a.leader)
    home = reverse("reports:home")
    assert client.get(f"{home}?export=pdf&table=agents").status_code == 404
    assert client.get(f"{home}?export=csv&table=secrets").status_code == 404


def test_district_leader_sees_both_bureaus_and_drills_down_to_each(login, district, tenant_a, tenant_b, usage):
    leader = make_user("district-leader")
    Membership.objects.create(user=leader, department=district, role=Role.LEADER)
    client = login(leader)
    data = client.get(reverse("reports:home") + "?format=json").json()
    assert next(m["value"] for m in data["metrics"] if m["key"] == "runs") == A_RUNS + B_RUNS
    labels = {r["label"] for r in data["tables"]["agents"]["rows"]}
    assert {A_AGENT, B_AGENT} <= labels
    for tenant, runs in ((tenant_a, A_RUNS), (tenant_b, B_RUNS)):
        page = client.get(reverse("reports:department", args=[tenant.department.pk]) + "?format=json").json()
        assert next(m["value"] for m in page["metrics"] if m["key"] == "runs") == runs


def test_department_admin_reports_cover_their_department_only(login, district, tenant_a, tenant_b, usage):
    client = login(tenant_a.admin)
    data = client.get(reverse("reports:home") + "?format=json").json()
    assert next(m["value"] for m in data["metrics"] if m["key"] == "runs") == A_RUNS
    assert client.get(reverse("reports:department", args=[district.pk])).status_code == 404


def test_overview_shows_cards_trend_rankings_adoption_and_charts_fed_by_json(login, tenant_a, tenant_b, usage):
    client = login(tenant_a.leader)
    html = client.get(reverse("reports:home")).content.decode()
    for heading in ("运行次数", "活跃用户", "满意度", "节省工时（小时）", "错误率", "首字延迟 P95", "审核通过率"):
        assert heading in html
    assert 'data-chart="line"' in html and "vendor/echarts.min.js" in html and "js/reports.js" in html
    assert "<script>" not in html  # the CSP forbids inline scripts: data comes from the JSON endpoint
    json_url = html.split('data-report-json="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    data = client.get(json_url).json()
    assert data["tables"]["agents"]["rows"][0]["label"] == A_AGENT
    assert data["tables"]["users"]["rows"][0]["label"] == "甲局张三"
    # Staff of A who used nothing this period are listed for adoption; A's reviewer ran nothing.
    assert "推广应用情况" in html
    assert "1.5" in html  # 3 runs × 30 minutes saved = 1.5 hours


def test_period_picker_narrows_the_figures_and_htmx_swaps_the_report(login, tenant_a, tenant_b, usage):
    client = login(tenant_a.leader)
    url = reverse("reports:home") + "?period=custom&start=2020-01-01&end=2020-01-07"
    data = client.get(url + "&format=json").json()
    assert data["period"]["start"] == "2020-01-01" and data["period"]["end"] == "2020-01-07"
    assert next(m["value"] for m in data["metrics"] if m["key"] == "runs") == 0
    swap = client.get(url, headers={"HX-Request": "true", "HX-Target": "report"}).content.decode()
    assert swap.lstrip().startswith('<div id="report"') and "<html" not in swap


def test_drill_down_leads_from_department_to_agent_to_its_runs(login, tenant_a, tenant_b, usage):
    client = login(tenant_a.leader)
    overview = client.get(reverse("reports:home")).content.decode()
    department_url = reverse("reports:department", args=[tenant_a.department.pk])
    assert f'href="{department_url}?' in overview
    page = client.get(department_url).content.decode()
    runs_url = reverse("reports:agent_runs", args=[usage["agent_a"].pk])
    assert f'href="{runs_url}?' in page and A_AGENT in page
    runs_page = client.get(f"{runs_url}?department={tenant_a.department.pk}").content.decode()
    assert runs_page.count('<tr class="status-succeeded"') == A_RUNS
    assert "甲局张三" in runs_page


def test_run_traces_are_links_only_for_admins_and_reviewers_of_the_department(
    login, district, tenant_a, tenant_b, usage
):
    reviewed = usage["runs_a"][0]
    Run.objects.filter(pk=reviewed.pk).update(review_status=Run.Review.PENDING)
    reviewed.refresh_from_db()
    run_review(run=reviewed, reviewer=tenant_a.reviewer, decision=Decision.APPROVE)
    runs_url = reverse("reports:agent_runs", args=[usage["agent_a"].pk])
    trace = reverse("admin:agents_run_change", args=[reviewed.pk])
    review = reverse("chat:review_item", args=[reviewed.pk])

    leader_page = login(tenant_a.leader).get(runs_url).content.decode()
    assert trace not in leader_page and review not in leader_page and "/admin/agents/run/" not in leader_page

    admin_page = login(tenant_a.admin).get(runs_url).content.decode()
    assert admin_page.count("/admin/agents/run/") == A_RUNS and trace in admin_page

    Membership.objects.create(user=tenant_a.leader, department=tenant_a.department, role=Role.REVIEWER)
    tenant_a.leader.__dict__.pop("_scope_cache", None)
    reviewer_page = login(tenant_a.leader).get(runs_url).content.decode()
    assert review in reviewer_page and "/admin/agents/run/" not in reviewer_page

    # A leader above the department reads its runs, without traces.
    leader = make_user("district-leader")
    Membership.objects.create(user=leader, department=district, role=Role.LEADER)
    district_page = login(leader).get(runs_url).content.decode()
    assert district_page.count('<tr class="status-') == A_RUNS and "/admin/agents/run/" not in district_page


def test_report_pages_cost_the_same_queries_however_many_runs_agents_and_departments(
    login, district, tenant_a, tenant_b, usage
):
    leader = make_user("district-leader")
    Membership.objects.create(user=leader, department=district, role=Role.LEADER)
    client = login(leader)
    home = reverse("reports:home")
    pages = [
        f"{home}?period=30d",
        f"{home}?period=7d&grain=week",
        f"{home}?period=30d&format=json",
        f"{reverse('reports:department', args=[tenant_a.department.pk])}?period=30d",
        f"{reverse('reports:department', args=[district.pk])}?period=30d&grain=month",
    ]

    def queries_per_page() -> dict[str, int]:
        counts = {}
        for url in pages:
            client.get(url)  # the same request once before, so one-off work (sessions, caches) is not counted
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            counts[url] = len(queries)
        return counts

    today = local_day(timezone.now())
    days = [today - timedelta(days=n) for n in range(40)]
    agents = [usage["agent_a"], usage["agent_b"]]

    def grow(departments: int, runs: int, seed: int) -> None:
        """More departments below A and below the district, each with an agent and people, and more runs."""
        tenants = [make_tenant(f"甲局{seed}-{n}科", parent=tenant_a.department) for n in range(departments)]
        tenants += [make_tenant(f"区属{seed}-{n}局", parent=district) for n in range(departments)]
        agents.extend(published_agent(t.department) for t in tenants)
        callers = [(t.department, t.users[role]) for t in tenants for role in (Role.STAFF, Role.LEADER)]
        callers += [(tenant_a.department, tenant_a.staff), (tenant_b.department, None)]
        bulk_runs(callers=callers, agents=agents, days=days, count=runs, seed=seed)
        usage_rebuild(start=days[-1], end=today)

    def runs_shown() -> int:
        data = client.get(f"{home}?period=30d&format=json").json()
        return next(m["value"] for m in data["metrics"] if m["key"] == "runs")

    grow(1, 80, seed=1)
    before, shown = queries_per_page(), runs_shown()
    grow(5, 800, seed=2)
    assert runs_shown() > shown + 400
    assert queries_per_page() == before


def test_names_in_report_tables_are_shown_as_text_not_markup(login, tenant_a, tenant_b, usage):
    from agents.models import Agent

    Agent.objects.filter(pk=usage["agent_a"].pk).update(name='甲局<script>alert("x")</script>助手')
    client = login(tenant_a.leader)
    for url in (reverse("reports:home"), reverse("reports:department", args=[tenant_a.department.pk])):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html
        assert "甲局&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;助手</a></th>" in html
