"""A reviewer on a phone corrects an answer and keeps the correction as an approved answer, which the
next staff member's question is answered with first. Fails on any console error or CSP violation."""

from playwright.sync_api import expect

from agents.models import ApprovedAnswer, Run
from agents.runtime.pipeline import run_execute
from tests.agents.runtime.helpers import model_endpoint, policy_knowledge_base, published_agent
from tests.browser.helpers import horizontal_overflow, login_as, screenshot


def test_a_reviewer_on_a_phone_saves_a_correction_that_answers_the_next_question_first(
    phone, tenant_a, tenant_b, fake_openai
):
    kb = policy_knowledge_base(tenant_a.department)
    fake_openai.reply = "博士每月补贴500元。"
    agent = published_agent(
        tenant_a.department,
        name="政策问答助手",
        endpoint=model_endpoint(tenant_a.department, fake_openai),
        knowledge_bases=[kb],
        requires_review=True,
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="博士安居补贴每月多少钱？")
    assert run.review_status == Run.Review.PENDING

    login_as(phone, tenant_a.reviewer)
    phone.get_by_role("link", name="政策问答助手").click()
    phone.get_by_label("最终文本（修改后通过时使用）").fill("博士研究生每月3000元安居补贴，最长36个月。")
    phone.get_by_label("修改后通过或驳回时，把上面的最终文本作为经审核的回答保存到知识库").check()
    assert horizontal_overflow(phone) == 0
    screenshot(phone, "phone-review-correction")
    phone.get_by_role("button", name="修改后通过").click()
    expect(phone.locator(".messages")).to_contain_text("已保存为经审核的问答")

    pair = ApprovedAnswer.objects.get()
    assert pair.question == "博士安居补贴每月多少钱？" and pair.approved_by == tenant_a.reviewer
    later = run_execute(
        principal=tenant_a.staff,
        agent=published_agent(tenant_a.department, knowledge_bases=[kb]),
        message="博士的安居补贴每月多少钱",
    )
    assert later.retrieved[0]["citation"].startswith(f"经审核的问答（{tenant_a.reviewer} 审核")
