"""The second factor in a real browser: an admin sets up TOTP on first sign-in, then signs in with a code."""

from __future__ import annotations

import re
from base64 import b32decode

from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.browser.helpers import login_as, screenshot
from tests.factories import PASSWORD, give_second_factor, totp_code


def _code_from_the_key_on_the_page(text: str) -> str:
    """What an authenticator app shows for the key typed in by hand (the page's text, not the database)."""
    key = text.replace(" ", "")
    key += "=" * (-len(key) % 8)
    return f"{TOTP(b32decode(key)).token():06d}"


def test_an_admin_sets_up_the_authenticator_on_first_sign_in(page, tenant_a, tenant_b):
    page.goto("/accounts/login/")
    page.get_by_label("用户名").fill(tenant_a.admin.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("设置两步验证")
    qr = page.locator(".otp-qr svg")
    expect(qr).to_be_visible()
    assert qr.bounding_box()["width"] >= 100
    screenshot(page, "second-factor-setup")
    # Every other page sends the admin back here until it is done.
    page.goto("/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("设置两步验证")

    code = _code_from_the_key_on_the_page(page.locator("[data-otp-secret]").inner_text())
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="启用两步验证").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("恢复码")
    expect(page.locator("[data-recovery-codes] li")).to_have_count(10)
    screenshot(page, "second-factor-recovery-codes")
    page.get_by_role("link", name="我已保存，继续").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("#site-name, h1").first).to_contain_text("数智员工平台")


def test_an_admin_signs_in_with_password_and_totp_code(page, tenant_a, tenant_b):
    device = give_second_factor(tenant_a.admin)
    page.goto("/accounts/login/")
    page.get_by_label("用户名").fill(tenant_a.admin.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("两步验证")
    assert "/accounts/2fa/verify/" in page.url
    screenshot(page, "second-factor-verify")
    page.get_by_label("验证码或恢复码").fill(totp_code(device))
    page.get_by_role("button", name="验证").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def test_the_sign_in_helper_passes_the_factor_for_admins(page, platform_admin, tenant_a, tenant_b):
    login_as(page, platform_admin)
    assert page.url.endswith("/admin/")
