"""Sessions in a real browser: the idle warning, staying signed in from it, and the sign-out when ignored."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.helpers import login_as, screenshot

# A few seconds of idleness, so the test sees the warning and the sign-out without waiting minutes.
IDLE_MINUTES = 0.2  # 12 seconds
WARNING_SECONDS = 8


def test_the_idle_warning_offers_to_stay_and_an_ignored_one_signs_out(page, settings, tenant_a, tenant_b):
    settings.SHUZHI_IDLE_MINUTES = IDLE_MINUTES
    settings.SHUZHI_IDLE_WARNING_SECONDS = WARNING_SECONDS
    login_as(page, tenant_a.staff)
    warning = page.get_by_role("dialog", name="即将自动退出")
    expect(warning).to_be_visible(timeout=30_000)
    expect(warning.locator("[data-idle-countdown]")).to_have_text(re.compile(r"^\d+$"))
    screenshot(page, "idle-warning", full_page=False)

    warning.get_by_role("button", name="继续使用").click()
    expect(warning).to_be_hidden()
    assert page.url.endswith("/workspace/")

    # Ignored this time: the page goes to the login page, which says why.
    expect(warning).to_be_visible(timeout=30_000)
    expect(page).to_have_url(re.compile(r"/accounts/login/"), timeout=30_000)
    expect(page.locator(".messages")).to_contain_text("长时间未操作")
    page.goto("/workspace/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_the_admin_pages_warn_too(page, settings, tenant_a, tenant_b):
    settings.SHUZHI_IDLE_MINUTES = IDLE_MINUTES
    settings.SHUZHI_IDLE_WARNING_SECONDS = WARNING_SECONDS
    login_as(page, tenant_a.admin)
    assert page.url.endswith("/admin/")
    expect(page.get_by_role("dialog", name="即将自动退出")).to_be_visible(timeout=30_000)
