"""The weekly summary e-mailed to each leader: last week's figures for the departments their reports cover."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tenants.models import Department, User
from tenants.roles import Role

from . import selectors
from .tables import HEADLINE, display, metric_cards

TOP_AGENTS = 5


def weekly_period(*, today: date) -> selectors.Period:
    """The seven days before ``today`` (sent on Monday: last Monday to Sunday)."""
    return selectors.Period(start=today - timedelta(days=7), end=today - timedelta(days=1))


def leader_language(*, user) -> str:
    """The language a leader reads their mail in: the one they last chose on the site, else the platform's."""
    language = getattr(user, "language", "") or ""
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def weekly_leaders():
    """Active leaders of active departments who have an e-mail address."""
    return (
        User.objects.filter(
            is_active=True,
            memberships__role=Role.LEADER,
            memberships__department__is_active=True,
        )
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def weekly_summary(*, user, today: date) -> dict:
    """What one leader's mail says (figures of every department their reports cover), in the active language."""
    scope = selectors.report_department_ids(user)
    period = weekly_period(today=today)
    cards = {c["key"]: c for c in metric_cards(selectors.overview(department_ids=scope, period=period))}
    agents = selectors.rankings(department_ids=scope, period=period, by="agent", limit=TOP_AGENTS)
    adoption = selectors.adoption(department_ids=scope, period=period)
    site = getattr(settings, "SHUZHI_SITE_URL", "").rstrip("/")
    query = f"?period=custom&start={period.start:%Y-%m-%d}&end={period.end:%Y-%m-%d}"
    return {
        "user": user,
        "period": period,
        "previous": period.previous(),
        "headline": [cards[key] for key in HEADLINE if key in cards],
        "agents": [
            {
                "label": row.get("label", ""),
                "runs": display(row.get("runs"), "int"),
                "hours_saved": display(row.get("hours_saved"), "hours"),
                "satisfaction": display(row.get("satisfaction"), "ratio"),
            }
            for row in agents
        ],
        "idle_departments": [_label(i) for i in adoption.get("idle_departments") or []],
        "falling_satisfaction": [_label(i) for i in adoption.get("falling_satisfaction") or []],
        "idle_staff_count": len(adoption.get("idle_staff") or []),
        "unused_agents_count": len(adoption.get("unused_agents") or []),
        "report_url": f"{site}{reverse('reports:home')}{query}" if site else "",
        "departments": [
            d.name for d in Department.objects.filter(memberships__user=user, memberships__role=Role.LEADER)
        ],
        "department_count": len(scope),
    }


def _label(item) -> str:
    if isinstance(item, dict):
        return str(item.get("label") or item.get("name") or item.get("key") or "")
    return str(item)


def weekly_summaries_send(*, today: date | None = None) -> int:
    """E-mail every leader their weekly summary, each in their own language; return how many were sent."""
    today = today or timezone.localdate()
    sent = 0
    for user in weekly_leaders():
        with translation.override(leader_language(user=user)):
            context = weekly_summary(user=user, today=today)
            period = context["period"]
            subject = _("【数智员工平台】每周使用报告 %(start)s 至 %(end)s") % {
                "start": f"{period.start:%Y-%m-%d}",
                "end": f"{period.end:%Y-%m-%d}",
            }
            text = render_to_string("agents/reports/weekly_email.txt", context)
            html = render_to_string("agents/reports/weekly_email.html", context)
        message = EmailMultiAlternatives(subject, text, None, [user.email])
        message.attach_alternative(html, "text/html")
        message.send()
        sent += 1
    return sent
