"""A test set in a real browser: publishing runs it, the page follows its progress and lists what failed.
Every test also fails on a console error or a Content-Security-Policy violation (see conftest.py)."""

from playwright.sync_api import expect

from tests.agents.evaluation.helpers import BROKEN_PROMPT, agent_with_test_set
from tests.browser.helpers import login_as, screenshot


def test_publishing_a_broken_prompt_shows_the_test_set_run_and_blocks_it(
    page, celery_worker, fake_openai, tenant_a, tenant_b
):
    agent = agent_with_test_set(tenant_a.department, fake_openai, cases=3)
    fake_openai.first_token_delay = 0.3
    agent.template.body = BROKEN_PROMPT
    agent.template.save()
    login_as(page, tenant_a.admin)
    page.goto(f"/admin/agents/agent/{agent.pk}/change/")
    expect(page.locator(".shuzhi-eval-gate")).to_contain_text("发布前先运行测试集（3 个用例）")
    page.get_by_role("button", name="保存并发布").click()

    expect(page.locator(".messagelist")).to_contain_text("正在运行测试集")
    expect(page.locator("#eval-run progress")).to_be_visible()
    # The page follows the job and shows the verdict when it is over, without a reload by hand.
    expect(page.locator(".eval-gate")).to_have_text("未通过，已阻止发布", timeout=60_000)
    expect(page.locator("#eval-failures .eval-failure")).to_have_count(3)
    expect(page.locator("#eval-comparison")).to_contain_text("100%")
    screenshot(page, "evaluation-blocked")
    page.get_by_label("理由（记入审计日志）").fill("局长要求今天上线")
    page.get_by_role("button", name="强制发布").click()
    expect(page.locator(".messagelist")).to_contain_text("已说明理由并发布版本 v2")
