"""The API's docs page in a real browser: it renders without a key, breaks no Content-Security-Policy rule
(the fixtures fail the test on any violation or console error), and calls the API with a key typed in."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.agents.runtime.helpers import published_agent
from tests.browser.helpers import screenshot
from tests.factories import make_api_key


def test_the_docs_page_renders_and_tries_a_call_with_a_key(page, tenant_a, tenant_b):
    agent = published_agent(tenant_a.department, name="政策咨询助手")
    _key, secret = make_api_key(tenant_a.department, agents=[agent])

    response = page.goto("/api/v1/docs/")
    assert response.status == 200
    expect(page.locator(".information-container .title")).to_contain_text("数智员工平台 API")
    agents_list = page.locator('.opblock-summary-path[data-path="/api/v1/agents/"]')
    expect(agents_list).to_be_visible()
    expect(page.locator(".opblock-tag", has_text="知识库")).to_be_visible()
    screenshot(page, "api-docs")

    page.get_by_role("button", name="Authorize").first.click()
    page.get_by_label("auth-bearer-value").fill(secret)
    page.locator(".auth-container", has=page.get_by_label("auth-bearer-value")).get_by_role(
        "button", name="Apply credentials"
    ).click()
    expect(page.get_by_role("button", name="Remove authorization").first).to_be_visible()
    page.locator(".modal-ux-header button.close-modal").click()

    agents_list.click()
    operation = page.locator(".opblock", has=agents_list)
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    result = operation.locator(".live-responses-table")
    expect(result.locator("tr.response .response-col_status")).to_have_text("200")
    expect(result.locator("tr.response .response-col_description")).to_contain_text(agent.identifier)
