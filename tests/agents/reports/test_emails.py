"""The weekly summary reaches each leader by e-mail with the figures of their own subtree, and nobody else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from agents.reports.emails import weekly_summaries_send
from agents.runtime.pipeline import run_execute
from tenants.models import Membership
from tenants.roles import Role
from tests.agents.runtime.helpers import published_agent
from tests.factories import make_user


@pytest.fixture
def week(district, tenant_a, tenant_b):
    """Last week: A's staff ran A's agent three times, B's staff B's agent once; every leader has an address."""
    district_leader = make_user("district-leader", email="quzhang@example.gov.cn", display_name="区长")
    Membership.objects.create(user=district_leader, department=district, role=Role.LEADER)
    for tenant, address in ((tenant_a, "jia@example.gov.cn"), (tenant_b, "yi@example.gov.cn")):
        tenant.leader.email = address
        tenant.leader.save()
        # Other roles with addresses get no summary.
        tenant.staff.email = f"staff-{address}"
        tenant.staff.save()
    agent_a = published_agent(tenant_a.department, name="甲局政策助手", minutes_saved=40)
    agent_b = published_agent(tenant_b.department, name="乙局执法助手")
    for i in range(3):
        run_execute(principal=tenant_a.staff, agent=agent_a, message=f"问题{i}")
    run_execute(principal=tenant_b.staff, agent=agent_b, message="问题")
    # Sent the morning after: the runs made today fall in "last week".
    return {"district_leader": district_leader, "today": timezone.localdate() + timedelta(days=1)}


def test_each_leader_gets_their_own_subtrees_figures(week, tenant_a, tenant_b, settings):
    settings.SHUZHI_SITE_URL = "https://shuzhi.example.gov.cn"
    assert weekly_summaries_send(today=week["today"]) == 3
    by_address = {m.to[0]: m for m in mail.outbox}
    assert set(by_address) == {"quzhang@example.gov.cn", "jia@example.gov.cn", "yi@example.gov.cn"}

    district = by_address["quzhang@example.gov.cn"]
    assert "每周使用报告" in district.subject
    assert "运行次数：4" in district.body
    assert "甲局政策助手：3 次" in district.body and "乙局执法助手：1 次" in district.body

    jia = by_address["jia@example.gov.cn"]
    assert "运行次数：3" in jia.body and "节省工时（小时）：2.0" in jia.body  # 3 runs × 40 minutes
    assert "甲局政策助手" in jia.body and "乙局" not in jia.body

    yi = by_address["yi@example.gov.cn"]
    assert "运行次数：1" in yi.body and "甲局" not in yi.body

    html, kind = jia.alternatives[0]
    assert kind == "text/html" and "甲局政策助手" in html and "乙局" not in html
    assert "https://shuzhi.example.gov.cn/reports/?period=custom&amp;start=" in html
    start = week["today"] - timedelta(days=7)
    assert f"start={start:%Y-%m-%d}" in jia.body


def test_each_leader_reads_the_summary_in_the_language_they_chose(week, tenant_a, client):
    # A leader who switched the site to English gets the mail in English; the others in Chinese.
    client.force_login(tenant_a.leader)
    client.post("/i18n/setlang/", {"language": "en", "next": "/reports/"})
    client.get("/reports/")
    tenant_a.leader.refresh_from_db()
    assert tenant_a.leader.language == "en"
    weekly_summaries_send(today=week["today"])
    by_address = {m.to[0]: m for m in mail.outbox}
    english = by_address["jia@example.gov.cn"]
    assert '<html lang="en">' in english.alternatives[0][0] and "每周使用报告" not in english.subject
    assert all(
        '<html lang="zh-hans">' in m.alternatives[0][0] for a, m in by_address.items() if a != "jia@example.gov.cn"
    )


def test_a_week_without_use_still_reports_zero_and_no_mail_goes_to_leaders_without_an_address(week, tenant_a):
    tenant_a.leader.email = ""
    tenant_a.leader.save()
    sent = weekly_summaries_send(today=week["today"] + timedelta(days=14))
    assert sent == 2 and "jia@example.gov.cn" not in {m.to[0] for m in mail.outbox}
    assert all("运行次数：0" in m.body and "本周没有使用记录。" in m.body for m in mail.outbox)
