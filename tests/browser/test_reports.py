"""The leaders' reports in a real browser: the overview draws its charts (vendored ECharts, fed by the page's
JSON) under the Content-Security-Policy, and the period picker redraws them in place."""

import re

from playwright.sync_api import expect

from agents.runtime.pipeline import run_execute
from tests.agents.runtime.helpers import published_agent
from tests.browser.helpers import login_as, screenshot


def test_the_leader_lands_on_the_overview_and_sees_its_charts(page, tenant_a, tenant_b):
    agent = published_agent(tenant_a.department, name="政策咨询助手", minutes_saved=20)
    other = published_agent(tenant_b.department, name="乙局执法文书助手")
    for i in range(3):
        run_execute(principal=tenant_a.staff, agent=agent, message=f"博士安居补贴怎么申请？{i}")
    run_execute(principal=tenant_b.staff, agent=other, message="起草询问笔录")

    login_as(page, tenant_a.leader)

    assert page.url.endswith("/reports/")
    expect(page.get_by_role("heading", level=1)).to_have_text("使用与成效报表")
    expect(page.locator('[data-metric="runs"] .metric-value')).to_have_text("3")
    trend = page.locator('[data-chart="line"]')
    expect(trend).to_have_attribute("data-chart-state", "rendered")
    expect(trend.locator("svg")).to_have_count(1)
    bars = page.locator('[data-chart="bar"][data-table="agents"]')
    expect(bars).to_have_attribute("data-chart-state", "rendered")
    expect(bars.locator("svg")).to_contain_text("政策咨询助手")
    expect(page.locator("main")).not_to_contain_text("乙局执法文书助手")
    screenshot(page, "reports")

    # Another period: the report is swapped in place (htmx) and its charts drawn again.
    page.get_by_label("近 30 天").check()
    page.get_by_role("combobox", name="趋势粒度").select_option("week")
    page.get_by_role("button", name="查看").click()
    expect(page).to_have_url(re.compile(r"period=30d"))
    expect(page.locator('[data-chart="line"]')).to_have_attribute("data-chart-state", "rendered")
    expect(page.locator('[data-metric="runs"] .metric-value')).to_have_text("3")

    page.get_by_role("link", name="政策咨询助手").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("运行记录")
    expect(page.locator("tr.status-succeeded")).to_have_count(3)


def test_the_demo_leader_sees_weeks_of_use_as_charts(page):
    from agents.builder.services import catalog_sync
    from agents.demo import demo_agents_load, demo_usage_load
    from tenants.demo import demo_departments_load
    from tenants.models import User

    catalog_sync()
    demo_departments_load(password="Demo-Pass-2026")
    demo_agents_load()
    demo_usage_load()

    login_as(page, User.objects.get(username="district_leader"), password="Demo-Pass-2026")
    page.goto("/reports/?period=30d")

    trend = page.locator('[data-chart="line"]')
    expect(trend).to_have_attribute("data-chart-state", "rendered")
    # One point per day of the period for each of the three lines.
    expect(trend.locator("svg path")).not_to_have_count(0)
    expect(page.locator('[data-chart="bar"][data-table="departments"] svg')).to_contain_text("示范区市场监督管理局")
    expect(page.locator('[data-adoption="falling_satisfaction"] li')).not_to_have_count(0)
    screenshot(page, "reports-demo")

    # On paper: the figures, charts and tables; no navigation, period form or download links.
    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    expect(page.locator(".period-picker")).to_be_hidden()
    expect(page.locator(".exports").first).to_be_hidden()
    expect(page.locator('[data-chart="line"] svg')).to_be_visible()
    expect(page.locator('[data-metric="runs"]')).to_be_visible()
    screenshot(page, "reports-print")
    page.emulate_media(media="screen")

    page.get_by_role("link", name="示范区应急管理局").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("示范区应急管理局")
    expect(page.locator('[data-chart="bar"][data-table="agents"]')).to_have_attribute("data-chart-state", "rendered")
    screenshot(page, "reports-department")
