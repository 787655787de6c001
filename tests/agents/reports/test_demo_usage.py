"""The demo comes with a few weeks of use, so the demo leader's reports show real charts at once."""

from __future__ import annotations

from django.urls import reverse

from agents.builder.services import catalog_sync
from agents.demo import DEMO_USAGE_DAYS, demo_agents_load, demo_usage_load
from agents.models import Conversation, Run, UsageCounter
from tenants.demo import demo_departments_load
from tenants.models import User


def test_the_demo_leader_sees_weeks_of_use_across_both_bureaus(login, db):
    catalog_sync()
    demo_departments_load(password="Demo-Pass-2026")
    demo_agents_load()

    created = demo_usage_load()

    assert created > 300
    assert demo_usage_load() == 0, "loading again adds nothing"
    assert Run.objects.count() == created
    # The rollups were rebuilt from the generated runs: every run counted once.
    assert sum(UsageCounter.objects.values_list("runs", flat=True)) == created
    # The demo staff who sign in keep an empty workspace for the demo's own first conversation.
    assert not Conversation.objects.filter(user__username__in=["yingji_staff", "shijian_staff"]).exists()
    assert Conversation.objects.exists()

    client = login(User.objects.get(username="district_leader"))
    data = client.get(reverse("reports:home") + "?period=30d&format=json").json()
    figures = {m["key"]: m for m in data["metrics"]}
    assert figures["runs"]["value"] > 200 and figures["runs"]["previous"] > 0
    assert figures["active_users"]["value"] >= 8
    assert 0.5 < figures["satisfaction"]["value"] < 1 and 0 < figures["error_rate"]["value"] < 0.2
    assert figures["approval_rate"]["value"] is not None and figures["hours_saved"]["value"] > 10
    assert figures["ttft_p50"]["value"] < figures["latency_p95"]["value"]
    assert figures["cost"]["value"] > 0 and figures["input_tokens"]["value"] > figures["output_tokens"]["value"]
    trend = data["tables"]["trend"]["rows"]
    assert len(trend) == 30 and sum(1 for day in trend if day["runs"]) >= 20
    departments = {row["label"] for row in data["tables"]["departments"]["rows"]}
    assert departments == {"示范区应急管理局", "示范区市场监督管理局"}

    html = client.get(reverse("reports:home")).content.decode()
    adoption = html.split("推广应用情况", 1)[1]
    # Adoption: the district itself uses nothing, one staff member per bureau never does, one agent per bureau
    # was never used, and one agent's satisfaction fell in the last week.
    idle_departments, idle_staff, unused, falling = (
        adoption.split(f'data-adoption="{key}"', 1)[1].split("</div>", 1)[0]
        for key in ("idle_departments", "idle_staff", "unused_agents", "falling_satisfaction")
    )
    assert "示范区人民政府" in idle_departments and "应急管理局" not in idle_departments
    assert "冯磊" in idle_staff and "刘洋" in idle_staff and "王芳" not in idle_staff
    assert unused.count("<li>") == 2
    assert falling.count("<li>") >= 1 and "→" in falling
    last = Run.objects.order_by("started_at").first()
    assert (Run.objects.order_by("-started_at").first().started_at - last.started_at).days >= DEMO_USAGE_DAYS - 2
