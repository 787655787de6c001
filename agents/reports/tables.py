"""What the report pages, their exports and the weekly e-mail show: metrics, table columns, and how numbers read."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .exports import Column


@dataclass(frozen=True)
class Metric:
    """A figure of the overview. ``better``: "up" when a rise is good news, "down" when a fall is, "" for neither."""

    key: str
    label: str
    kind: str
    better: str = ""


METRICS = [
    Metric("conversations", _("会话数"), "int", "up"),
    Metric("runs", _("运行次数"), "int", "up"),
    Metric("active_users", _("活跃用户"), "int", "up"),
    Metric("messages", _("消息数"), "int", "up"),
    Metric("input_tokens", _("输入 token"), "int"),
    Metric("output_tokens", _("输出 token"), "int"),
    Metric("cost", _("估算费用（元）"), "money"),
    Metric("ttft_p50", _("首字延迟 P50"), "ms", "down"),
    Metric("ttft_p95", _("首字延迟 P95"), "ms", "down"),
    Metric("latency_p50", _("总耗时 P50"), "ms", "down"),
    Metric("latency_p95", _("总耗时 P95"), "ms", "down"),
    Metric("error_rate", _("错误率"), "ratio", "down"),
    Metric("satisfaction", _("满意度"), "ratio", "up"),
    Metric("approval_rate", _("审核通过率"), "ratio", "up"),
    Metric("hours_saved", _("节省工时（小时）"), "hours", "up"),
]
# The few the weekly e-mail leads with.
HEADLINE = ["runs", "active_users", "conversations", "hours_saved", "satisfaction", "error_rate", "cost"]

TREND_COLUMNS = [
    Column("bucket", _("时间"), "date"),
    Column("conversations", _("会话数"), "int"),
    Column("runs", _("运行次数"), "int"),
    Column("active_users", _("活跃用户"), "int"),
    Column("input_tokens", _("输入 token"), "int"),
    Column("output_tokens", _("输出 token"), "int"),
    Column("cost", _("估算费用（元）"), "money"),
    Column("error_rate", _("错误率"), "ratio"),
    Column("satisfaction", _("满意度"), "ratio"),
    Column("hours_saved", _("节省工时（小时）"), "hours"),
]

RANKING_BY = {
    "agents": ("agent", _("智能体")),
    "departments": ("department", _("部门")),
    "scenarios": ("scenario", _("场景")),
    "users": ("user", _("用户")),
}


def ranking_columns(heading) -> list[Column]:
    return [
        Column("label", heading),
        Column("runs", _("运行次数"), "int"),
        Column("active_users", _("活跃用户"), "int"),
        Column("tokens", _("token"), "int"),
        Column("cost", _("估算费用（元）"), "money"),
        Column("satisfaction", _("满意度"), "ratio"),
        Column("hours_saved", _("节省工时（小时）"), "hours"),
    ]


RUN_COLUMNS = [
    Column("started_at", _("开始时间"), "datetime"),
    Column("user", _("使用人")),
    Column("caller_department", _("使用部门")),
    Column("via", _("入口")),
    Column("status", _("状态")),
    Column("input_tokens", _("输入 token"), "int"),
    Column("output_tokens", _("输出 token"), "int"),
    Column("cost", _("估算费用（元）"), "money"),
    Column("ttft_ms", _("首字延迟（毫秒）"), "ms"),
    Column("latency_ms", _("总耗时（毫秒）"), "ms"),
    Column("rating", _("评价")),
    Column("review", _("审核")),
]


def display(value, kind: str) -> str:
    """A value as the page shows it: thousands separated, ratios as percentages, nothing as a dash."""
    if value is None or value == "":
        return "—"
    if kind == "int":
        return f"{round(float(value)):,}"
    if kind == "ratio":
        return f"{float(value) * 100:.1f}%"
    if kind == "money":
        return f"{float(value):,.2f}"
    if kind == "hours":
        return f"{float(value):,.1f}"
    if kind == "ms":
        ms = float(value)
        return _("%(s)s 秒") % {"s": f"{ms / 1000:,.2f}"} if ms >= 1000 else _("%(ms)s 毫秒") % {"ms": f"{ms:,.0f}"}
    if kind == "date":
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    if kind == "datetime":
        from django.utils import timezone

        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


def change_display(change) -> str:
    """A change against the previous period (a ratio, or None when there was nothing to compare with)."""
    if change is None:
        return "—"
    if abs(change) < 0.0005:
        return "0%"
    return f"{'+' if change > 0 else '−'}{abs(change) * 100:.1f}%"


def change_tone(change, better: str) -> str:
    """The change's colour: "better", "worse" or "" (no judgement)."""
    if change is None or not better or abs(change) < 0.0005:
        return ""
    rising = change > 0
    return "better" if rising == (better == "up") else "worse"


def metric_cards(overview: dict) -> list[dict]:
    """The overview's figures in display order, each with its value, previous value and change as text."""
    cards = []
    for m in METRICS:
        figures = overview.get(m.key) or {}
        change = figures.get("change")
        cards.append(
            {
                "key": m.key,
                "label": m.label,
                "value": figures.get("value"),
                "previous": figures.get("previous"),
                "change": change,
                "value_text": display(figures.get("value"), m.kind),
                "previous_text": display(figures.get("previous"), m.kind),
                "change_text": change_display(change),
                "tone": change_tone(change, m.better),
            }
        )
    return cards


def table_cells(columns: list[Column], rows: list[dict]) -> list[list[str]]:
    """Rows as the page's table cells (display text), in column order."""
    return [[display(row.get(c.key), c.kind) for c in columns] for row in rows]


def table_row_html(cells: list[str], url: str | None = None) -> str:
    """One body row of a report table, escaped: the first cell heads the row (a link to ``url`` when given),
    the others are data cells. Built here rather than by the template's loops, and with plain string
    escaping (as the template's): a department's drill-down lists every agent its people used, thousands
    of cells."""
    head = escape(str(cells[0]))
    if url:
        head = f'<a href="{escape(url)}">{head}</a>'
    data = "".join(f"<td>{escape(str(cell))}</td>" for cell in cells[1:])
    return mark_safe(f'<tr><th scope="row">{head}</th>{data}</tr>')  # noqa: S308  (every part escaped above)
