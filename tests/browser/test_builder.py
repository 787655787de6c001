"""The agent builder in a real browser: publishing an edited form, and a cloned scenario reaching staff.
Every test also fails on a console error or a Content-Security-Policy violation (see conftest.py)."""

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
