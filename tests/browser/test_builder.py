"""The agent builder in a real browser: publishing an edited form, and a cloned scenario reaching staff.
Every test also fails on a console error or a Content-Security-Policy violation (see conftest.py)."""

import re

from playwright.sync_api import expect

from agents.builder.services import agent_publish
from agents.models import Agent
from tests.agents.factories import make_agent, make_endpoint
from tests.browser.helpers import horizontal_overflow, login_as, screenshot


def test_publish_with_unsaved_changes_saves_them_and_publishes_what_was_on_screen(page, tenant_a, tenant_b):
    endpoint = make_endpoint(tenant_a.department, models="fake-chat,fake-large")
    agent = make_agent(
        tenant_a.department, name="通知起草", endpoint=endpoint, model_name="fake-chat", assign_all_members=True
    )
    agent_publish(agent=agent, user=tenant_a.admin)
    login_as(page, tenant_a.admin)
    page.goto(f"/admin/agents/agent/{agent.pk}/change/")
    expect(page.locator(".shuzhi-publish")).to_contain_text("已保存的草稿与 v1 相同")

    # The service is unreachable from here: its registered names are offered, with a note saying so.
    expect(page.locator("#id_model_name_choices option")).to_have_count(2)
    expect(page.locator(".shuzhi-models-note").first).to_contain_text("无法从模型服务获取模型列表")
    page.locator("#id_model_name").fill("fake-large")
    unsaved = page.locator(".shuzhi-unsaved")
    expect(unsaved).to_be_visible()
    expect(unsaved).to_contain_text("模型名称")
    page.get_by_label("发布说明").fill("换大模型")
    screenshot(page, "builder-unsaved-before-publish")
    page.get_by_role("button", name="保存并发布").click()

    expect(page.locator(".messagelist")).to_contain_text("已发布版本 v2（模型名称）")
    agent.refresh_from_db()
    assert agent.current_version.snapshot["model"]["model_name"] == "fake-large"
    assert agent.current_version.note == "换大模型"
    assert Agent.objects.get(pk=agent.pk).model_name == "fake-large"


def test_agent_page_fits_a_phone(phone, tenant_a, tenant_b):
    agent = make_agent(tenant_a.department, name="通知起草", assign_all_members=True)
    login_as(phone, tenant_a.admin)
    phone.goto(f"/admin/agents/agent/{agent.pk}/change/")
    expect(phone.get_by_role("button", name="保存并发布")).to_be_visible()
    screenshot(phone, "builder-phone")
    assert horizontal_overflow(phone) == 0


def test_a_cloned_scenario_is_published_and_staff_find_it(page, phone, tenant_a, tenant_b):
    from agents.builder.services import catalog_sync
    from agents.models import Scenario

    catalog_sync()
    make_endpoint(tenant_a.department, models="fake-chat")
    scenario = Scenario.objects.filter(area="hotline").first()
    login_as(page, tenant_a.admin)
    page.goto(f"/admin/agents/scenario/{scenario.pk}/change/")
    page.get_by_role("button", name="一键克隆到本部门").click()

    expect(page.locator(".messagelist")).to_contain_text("请按页面上的发布前检查补齐")
    checklist = page.get_by_role("list", name="发布前检查")
    expect(checklist.locator("[data-check=endpoint]")).to_have_class("done")
    expect(checklist.locator("[data-check=endpoint]")).not_to_contain_text("未选择模型服务")
    expect(checklist.locator("[data-check=users]")).to_contain_text("还没有指定谁可以使用")
    screenshot(page, "builder-clone-checklist")

    page.get_by_label("本部门全体成员可用").check()
    page.get_by_role("button", name="保存并发布").click()

    expect(page.locator(".messagelist")).to_contain_text("已发布版本 v1（首次发布）")
    expect(checklist.locator("[data-check=users]")).to_have_class("done")
    expect(checklist.locator("[data-check=users]")).not_to_contain_text("还没有指定谁可以使用")

    login_as(phone, tenant_a.staff)
    expect(phone.get_by_role("link", name=re.compile(scenario.name))).to_be_visible()
    assert horizontal_overflow(phone) == 0
    screenshot(phone, "builder-clone-staff-workspace")
