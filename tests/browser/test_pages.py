"""The pages people open first, in a real browser: sign-in, the staff workspace, the review queue,
the language switch, and the workspace on a phone. Every test also fails on a console error or a
Content-Security-Policy violation (see conftest.py)."""

import re

from playwright.sync_api import expect

from agents.models import Run
from agents.runtime.pipeline import run_execute
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.browser.helpers import horizontal_overflow, login_as, screenshot

BRAND_RED = "rgb(179, 38, 30)"  # the top bar's colour in static/css/app.css


def test_login_page_is_in_chinese_with_its_styles_and_scripts(page):
    response = page.goto("/accounts/login/")
    assert response.status == 200
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    expect(page.get_by_label("用户名")).to_be_visible()
    expect(page.get_by_label("密码")).to_be_visible()
    # The stylesheet and both scripts arrived from the server (WhiteNoise under ASGI).
    expect(page.locator("header.topbar")).to_have_css("background-color", BRAND_RED)
    assert page.evaluate("typeof window.htmx") == "object"
    screenshot(page, "login")


def test_wrong_password_is_refused_on_the_page(page, tenant_a, tenant_b):
    page.goto("/accounts/login/")
    page.get_by_label("用户名").fill(tenant_a.staff.username)
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码不正确")
    assert "/accounts/login/" in page.url
    screenshot(page, "login-refused")


def test_staff_lands_on_the_workspace_with_their_assigned_agents_only(page, tenant_a, tenant_b):
    published_agent(tenant_a.department, name="政策咨询助手", description="回答人才政策问题，附出处。")
    published_agent(tenant_b.department, name="乙局执法文书助手")

    login_as(page, tenant_a.staff)

    assert page.url.endswith("/workspace/")
    expect(page).to_have_title(re.compile(r"^工作台"))
    expect(page.get_by_role("navigation").get_by_role("link", name="工作台")).to_have_attribute("aria-current", "page")
    agent = page.get_by_role("link", name=re.compile("政策咨询助手"))
    expect(agent).to_be_visible()
    expect(agent).to_contain_text("回答人才政策问题，附出处。")
    expect(page.get_by_text("乙局执法文书助手")).to_have_count(0)
    screenshot(page, "workspace")


def test_reviewer_finds_the_pending_answer_and_approves_it(page, tenant_a, tenant_b, fake_openai):
    fake_openai.reply = "关于噪音投诉的答复意见：经核查，情况属实，已责令整改。"
    agent = published_agent(
        tenant_a.department,
        name="投诉答复助手",
        endpoint=model_endpoint(tenant_a.department, fake_openai),
        requires_review=True,
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="居民投诉夜间施工噪音，请起草答复。")
    assert run.review_status == Run.Review.PENDING

    login_as(page, tenant_a.reviewer)

    assert page.url.endswith("/workspace/review/")
    expect(page.get_by_role("heading", level=1)).to_have_text("审核队列")
    screenshot(page, "review-queue")
    page.get_by_role("link", name="投诉答复助手").click()
    expect(page.locator("main")).to_contain_text("经核查，情况属实，已责令整改。")
    screenshot(page, "review-item")

    page.get_by_role("button", name="通过", exact=True).click()

    expect(page.locator(".messages")).to_contain_text("已通过。")
    expect(page.locator(".empty")).to_contain_text("当前没有待审核的内容。")
    run.refresh_from_db()
    assert run.review_status == Run.Review.APPROVED


def test_the_language_switch_turns_the_page_into_english_and_back(page, tenant_a, tenant_b):
    published_agent(tenant_a.department, name="政策咨询助手")
    login_as(page, tenant_a.staff)

    with page.expect_navigation():
        page.get_by_label("语言").select_option("en")

    assert page.url.endswith("/workspace/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_title(re.compile(r"^Workspace"))
    expect(page.get_by_role("navigation").get_by_role("link", name="Workspace")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot(page, "workspace-en")

    with page.expect_navigation():
        page.get_by_label("Language").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("navigation").get_by_role("link", name="工作台")).to_be_visible()


def test_the_workspace_fits_a_phone_screen(phone, tenant_a, tenant_b):
    published_agent(
        tenant_a.department,
        name="安全生产事故初报生成助手（应急管理）",
        description="根据现场人员口述，几分钟内生成结构化的事故初报，包含时间、地点、伤亡、处置措施和下一步安排。",
    )
    phone.goto("/accounts/login/")
    assert horizontal_overflow(phone) == 0
    screenshot(phone, "phone-login")

    login_as(phone, tenant_a.staff)

    expect(phone.get_by_role("link", name=re.compile("安全生产事故初报生成助手"))).to_be_visible()
    assert horizontal_overflow(phone) == 0
    screenshot(phone, "phone-workspace")
