"""Leaders' reports: usage and value for their department and every department below it.

Every view starts from ``report_department_ids(user)``: a department or agent outside it answers 404,
whether asked for as a page, an htmx swap, JSON (``?format=json``) or an export
(``?export=csv|xlsx&table=...``). Figures come from the rollups (selectors); only the agent's run list
reads raw runs. Views stay thin: selectors compute, ``tables`` shapes, ``exports`` writes files.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from agents.models import Agent, Run
from agents.runtime.visibility import Viewer, visible_run
from tenants.access import requires
from tenants.models import Department
from tenants.roles import Action
from tenants.selectors import user_labels

from . import selectors
from .exports import FORMATS, Column, export_response
from .tables import (
    RANKING_BY,
    RUN_COLUMNS,
    TREND_COLUMNS,
    display,
    metric_cards,
    ranking_columns,
    table_cells,
    table_row_html,
)

GRAINS = ("day", "week", "month")
RUNS_PER_PAGE = 50
# Query parameters that choose what is shown, kept by the links between report pages and exports.
_KEPT = ("period", "start", "end", "grain", "department")


def _period(request) -> selectors.Period:
    return selectors.period_from(request.GET, today=timezone.localdate())


def _grain(request) -> str:
    grain = request.GET.get("grain", "")
    return grain if grain in GRAINS else "day"


def _query(request, **extra) -> str:
    """The current choice of period and grain as a query string (for links and the JSON address)."""
    params = request.GET.copy()
    for key in list(params):
        if key not in _KEPT:
            del params[key]
    for key, value in extra.items():
        params[key] = value
    return params.urlencode()


def _in_scope(scope: list[int], department_id: int) -> Department:
    department = Department.objects.filter(pk=department_id, pk__in=scope, is_active=True).first()
    if department is None:
        raise Http404
    return department


def _subtree(scope: list[int], department: Department) -> list[int]:
    """The department and those below it that the viewer's reports cover."""
    return list(Department.objects.filter(path__startswith=department.path, pk__in=scope).values_list("pk", flat=True))


def _table(name: str, title, columns: list[Column], rows: list[dict], *, url=None) -> dict:
    """A table for the page (display cells, a link per row when ``url`` gives one), its JSON and its export."""
    return {
        "name": name,
        "title": title,
        "columns": columns,
        "rows": rows,
        "cells": [
            {"cells": cells, "url": link, "row": row, "html": table_row_html(cells, link)}
            for row, cells in zip(rows, table_cells(columns, rows), strict=True)
            for link in [url(row) if url else None]
        ],
    }


def _json_value(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return float(value)  # Decimal


def _json_table(table: dict) -> dict:
    keys = [c.key for c in table["columns"]]
    return {
        "title": str(table["title"]),
        "columns": [{"key": c.key, "label": str(c.label), "kind": c.kind} for c in table["columns"]],
        "rows": [{k: _json_value(row.get(k)) for k in keys} for row in table["rows"]],
    }


def _respond(request, *, template: str, context: dict, tables: dict[str, dict], filename: str):
    """The page, its htmx swap, its JSON (``?format=json``) or one of its tables as a file (``?export=``)."""
    fmt = request.GET.get("export", "")
    if fmt:
        table = tables.get(request.GET.get("table", ""))
        if fmt not in FORMATS or table is None:
            raise Http404
        period = context["period"]
        return export_response(
            fmt=fmt,
            filename=f"{filename}-{table['name']}-{period.start:%Y%m%d}-{period.end:%Y%m%d}",
            title=str(table["title"]),
            columns=table["columns"],
            rows=table["rows"],
        )
    if request.GET.get("format") == "json":
        payload = {
            "period": _period_json(context["period"]),
            "tables": {name: _json_table(t) for name, t in tables.items()},
        }
        if "cards" in context:
            payload["metrics"] = [
                {k: _json_value(v) if k not in ("label",) else str(v) for k, v in card.items()}
                for card in context["cards"]
            ]
        return JsonResponse(payload, json_dumps_params={"ensure_ascii": False})
    context = {
        **context,
        "tables": tables,
        "query": _query(request),
        "json_url": f"{request.path}?{_query(request, format='json')}",
    }
    if request.htmx and request.htmx.target == "report":
        return render(request, f"{template}#report", context)
    return render(request, template, context)


def _period_json(period) -> dict:
    previous = period.previous()
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "label": str(period.label),
        "previous": {"start": previous.start.isoformat(), "end": previous.end.isoformat()},
    }


def _picker_context(request, period) -> dict:
    return {
        "period": period,
        "previous": period.previous(),
        "grain": _grain(request),
        "grains": [("day", _("按日")), ("week", _("按周")), ("month", _("按月"))],
        "choice": period.key,
        "choices": [("today", _("今天")), ("7d", _("近 7 天")), ("30d", _("近 30 天")), ("custom", _("自定义"))],
    }


# --------------------------------------------------------------------------- overview


@requires(Action.REPORT)
def home(request):
    """The overview of everything the viewer's reports cover."""
    scope = selectors.report_department_ids(request.user)
    period = _period(request)
    grain = _grain(request)
    query = _query(request)
    overview = selectors.overview(department_ids=scope, period=period)
    trend = selectors.trend(department_ids=scope, period=period, grain=grain)
    tables = {"trend": _table("trend", _("趋势"), TREND_COLUMNS, trend)}
    links = {
        "agents": lambda row: _agent_runs_url(row.get("key"), query),
        "departments": lambda row: _department_url(row.get("key"), query),
    }
    rankings = selectors.ranking_tables(
        department_ids=scope, period=period, by=tuple(by for by, _heading in RANKING_BY.values())
    )
    for name, (by, heading) in RANKING_BY.items():
        rows = rankings[by]
        tables[name] = _table(
            name, _("%(what)s排行") % {"what": heading}, ranking_columns(heading), rows, url=links.get(name)
        )
    adoption = selectors.adoption(department_ids=scope, period=period)
    context = {
        **_picker_context(request, period),
        "cards": metric_cards(overview),
        "adoption": _adoption_lists(adoption),
        "departments": Department.objects.filter(pk__in=scope).order_by("path"),
    }
    return _respond(request, template="agents/reports/overview.html", context=context, tables=tables, filename="report")


def _agent_runs_url(agent_id, query: str, department_id=None) -> str | None:
    if not agent_id:
        return None
    url = reverse("reports:agent_runs", args=[agent_id])
    extra = f"&department={department_id}" if department_id else ""
    return f"{url}?{query}{extra}"


def _department_url(department_id, query: str) -> str | None:
    if not department_id:
        return None
    return f"{reverse('reports:department', args=[department_id])}?{query}"


def _adoption_lists(adoption: dict) -> list[dict]:
    titles = {
        "idle_departments": (_("本期没有使用的部门"), _("所有部门本期都有使用。")),
        "idle_staff": (_("本期没有使用的工作人员"), _("所有工作人员本期都有使用。")),
        "unused_agents": (_("从未被使用的智能体"), _("所有智能体都被使用过。")),
        "falling_satisfaction": (_("满意度下降的智能体"), _("没有满意度下降的智能体。")),
    }
    return [
        {"key": key, "title": title, "empty": empty, "items": [_item_label(i) for i in adoption.get(key) or []]}
        for key, (title, empty) in titles.items()
    ]


def _item_label(item: dict) -> str:
    label = str(item.get("label", ""))
    if "satisfaction" in item and "previous" in item:
        return _("%(name)s：满意度 %(before)s → %(now)s") % {
            "name": label,
            "before": display(item["previous"], "ratio"),
            "now": display(item["satisfaction"], "ratio"),
        }
    if item.get("department"):
        return _("%(name)s（%(department)s）") % {"name": label, "department": item["department"]}
    return label


# --------------------------------------------------------------------------- drill-down


@requires(Action.REPORT)
def department(request, department_id: int):
    """One department the viewer's reports cover (with those below it): figures, trend, agents, sub-departments."""
    scope = selectors.report_department_ids(request.user)
    dept = _in_scope(scope, department_id)
    ids = _subtree(scope, dept)
    period = _period(request)
    query = _query(request)
    overview = selectors.overview(department_ids=ids, period=period)
    trend = selectors.trend(department_ids=ids, period=period, grain=_grain(request))
    agents = selectors.department_agents(department_ids=ids, department_id=dept.pk, period=period)
    heading = _("智能体")
    tables = {
        "trend": _table("trend", _("趋势"), TREND_COLUMNS, trend),
        "agents": _table(
            "agents",
            _("%(what)s排行") % {"what": heading},
            ranking_columns(heading),
            agents,
            url=lambda row: _agent_runs_url(row.get("key"), query, dept.pk),
        ),
    }
    if len(ids) > 1:
        heading = _("部门")
        rows = [
            r for r in selectors.rankings(department_ids=ids, period=period, by="department") if r.get("key") != dept.pk
        ]
        tables["departments"] = _table(
            "departments",
            _("下级部门"),
            ranking_columns(heading),
            rows,
            url=lambda row: _department_url(row.get("key"), query),
        )
    context = {
        **_picker_context(request, period),
        "department": dept,
        "ancestors": _ancestors(scope, dept),
        "cards": metric_cards(overview),
    }
    return _respond(
        request,
        template="agents/reports/department.html",
        context=context,
        tables=tables,
        filename=f"department-{dept.code}",
    )


def _ancestors(scope: list[int], dept: Department) -> list[Department]:
    """The departments above this one that the viewer's reports also cover (for the breadcrumb)."""
    ids = [int(x) for x in dept.path.strip("/").split("/") if x][:-1]
    return list(Department.objects.filter(pk__in=ids).filter(pk__in=scope).order_by("path"))


@requires(Action.REPORT)
def agent_runs(request, agent_id: int):
    """An agent's runs made from the departments the viewer's reports cover (``?department=`` narrows to one
    department and those below it). Trace links only for the admins and reviewers of the run's department."""
    scope = selectors.report_department_ids(request.user)
    agent = _reportable_agent(scope, agent_id)
    ids = scope
    narrowed = None
    if request.GET.get("department"):
        try:
            narrowed = _in_scope(scope, int(request.GET["department"]))
        except ValueError:
            raise Http404 from None
        ids = _subtree(scope, narrowed)
    period = _period(request)
    runs = (
        Run.objects.used_in(ids)
        .filter(agent=agent, started_at__date__gte=period.start, started_at__date__lte=period.end)
        .select_related("caller_department", "department")
        .order_by("-started_at", "-pk")
    )
    exporting = bool(request.GET.get("export"))
    if exporting:
        # An export holds every run of the period, not one page of them.
        page_runs, page = list(runs[:100_000]), None
    else:
        page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
        page_runs = list(page.object_list)
    rows = _run_rows(request.user, page_runs)
    tables = {"runs": _table("runs", _("运行记录"), RUN_COLUMNS, rows)}
    context = {
        **_picker_context(request, period),
        "agent": agent,
        "narrowed": narrowed,
        "page": page,
    }
    return _respond(
        request, template="agents/reports/agent_runs.html", context=context, tables=tables, filename=f"agent-{agent.pk}"
    )


def _reportable_agent(scope: list[int], agent_id: int) -> Agent:
    """An agent of a department in scope, or one that departments in scope have used; otherwise 404."""
    from agents.models import UsageCounter

    agent = Agent.objects.filter(pk=agent_id).select_related("department").first()
    if agent is None:
        raise Http404
    if agent.department_id in scope or UsageCounter.objects.filter(agent=agent, department__in=scope).exists():
        return agent
    raise Http404


def _run_rows(user, runs: list[Run]) -> list[dict]:
    names = user_labels(ids={r.user_id for r in runs})
    viewer = Viewer.of(user)
    rows = []
    for run in runs:
        view = visible_run(run=run, viewer=viewer)
        admin_url, review_url = view.trace_url, view.review_url
        rows.append(
            {
                "id": run.pk,
                "started_at": run.started_at,
                "user": names.get(run.user_id, f"#{run.user_id}" if run.user_id else "—"),
                "caller_department": str(run.caller_department or run.department),
                "via": run.get_via_display(),
                "status": run.get_status_display(),
                "status_key": run.status,
                "input_tokens": run.input_tokens,
                "output_tokens": run.output_tokens,
                "cost": run.cost,
                "ttft_ms": run.ttft_ms,
                "latency_ms": run.latency_ms,
                "rating": {1: _("有帮助"), -1: _("没帮助")}.get(run.rating, ""),
                "review": run.get_review_status_display() if run.review_status else "",
                "admin_url": admin_url,
                "review_url": review_url,
            }
        )
    return rows
