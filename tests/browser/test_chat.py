"""Chatting in a real browser: a streamed answer from the model server, a citation, a rating, a scenario
form turned into a Word document, the review outcome in the conversation, and the chat on a phone."""

import re
from io import BytesIO
from pathlib import Path

import docx
from playwright.sync_api import expect

from agents.models import Conversation, Run
from agents.runtime.review import Decision, run_review
from tests.agents.factories import make_template
from tests.agents.runtime.helpers import model_endpoint, policy_knowledge_base, published_agent
from tests.browser.helpers import horizontal_overflow, login_as, screenshot
from tests.fakes.openai_server import Reply


def test_staff_chat_streams_the_answer_opens_a_citation_and_rates_it(page, tenant_a, tenant_b, fake_openai):
    agent = published_agent(
        tenant_a.department,
        name="政策咨询助手",
        endpoint=model_endpoint(tenant_a.department, fake_openai),
        knowledge_bases=[policy_knowledge_base(tenant_a.department)],
    )
    answer = "根据[1]，博士研究生每月可领取**3000元**安居补贴，最长36个月。"
    fake_openai.script(Reply(text=answer, chunk_delay=0.03, reasoning="先查补贴标准。"))
    login_as(page, tenant_a.staff)
    page.get_by_role("link", name=re.compile("政策咨询助手")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("政策咨询助手")

    page.get_by_label("输入问题").fill("博士来工作有什么补贴？")
    page.get_by_role("button", name="发送").click()

    # The answer arrives piece by piece: the stop button shows while it streams.
    expect(page.get_by_role("button", name="停止")).to_be_visible()
    expect(page.locator(".turn .answer").last).to_contain_text("博士研究生")
    expect(page.locator(".turn .answer-text strong").last).to_have_text("3000元", timeout=30_000)
    expect(page.get_by_role("button", name="停止")).to_be_hidden()
    turn = page.locator(".turn").last
    expect(turn.locator(".ai-label")).to_contain_text("本内容由人工智能生成")
    expect(turn.locator("details.reasoning")).not_to_have_attribute("open", "")
    screenshot(page, "chat-answer")

    with page.expect_navigation():
        turn.locator("a.cite").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("人才安居补贴办法")
    expect(page.locator("main")).to_contain_text("示人社〔2025〕3号")
    screenshot(page, "citation")
    page.go_back()
    turn = page.locator(".turn").last

    turn.get_by_role("button", name="有帮助").click()
    expect(page.locator(".turn").last.get_by_role("button", name="有帮助")).to_have_attribute("aria-pressed", "true")
    comment = page.locator(".turn").last.get_by_label("意见（可选）")
    comment.fill("很清楚")
    with page.expect_response(lambda response: "/rate/" in response.url):
        comment.press("Enter")
    expect(page.locator(".turn").last.get_by_label("意见（可选）")).to_have_value("很清楚")
    run = Run.objects.get(agent=agent)
    assert (run.rating, run.rating_comment, run.status) == (1, "很清楚", Run.Status.SUCCEEDED)

    # Reopening the conversation shows it as it was.
    page.goto(f"/workspace/c/{run.conversation_id}/")
    expect(page.locator(".turn .question")).to_contain_text("博士来工作有什么补贴？")
    expect(page.locator(".turn .answer-text strong")).to_have_text("3000元")


def test_a_scenario_form_becomes_a_word_document_edited_in_place(page, tenant_a, tenant_b, fake_openai):
    template = make_template(
        tenant_a.department,
        body="你是{{ org }}的公文助手。根据要点起草通知：{{ points }}",
        variables=[
            {"name": "org", "label": "发文机关", "type": "short_text"},
            {"name": "points", "label": "事项要点", "type": "long_text"},
        ],
    )
    published_agent(
        tenant_a.department,
        name="通知起草",
        template=template,
        endpoint=model_endpoint(tenant_a.department, fake_openai),
    )
    fake_openai.reply = (
        "示范区应急管理局关于做好汛期值班工作的通知\n各街道办事处：\n一、严格落实24小时值班制度。\n"
        "二、发现险情及时报告。\n示范区应急管理局\n2026年6月1日"
    )
    login_as(page, tenant_a.staff)
    page.get_by_role("link", name=re.compile("通知起草")).click()
    page.get_by_label("发文机关").fill("示范区应急管理局")
    page.get_by_label("事项要点").fill("汛期24小时值班，险情及时报告")
    page.get_by_role("button", name="发送").click()
    expect(page.get_by_role("link", name="下载 Word")).to_be_visible(timeout=30_000)

    page.get_by_text("编辑文稿").click()
    editor = page.get_by_label("文稿")
    editor.fill(editor.input_value().replace("二、发现险情及时报告。", "二、发现险情及时报告。\n三、做好物资储备。"))
    page.get_by_role("button", name="保存修改").click()
    expect(page.locator(".turn .answer-text").last).to_contain_text("三、做好物资储备。")
    screenshot(page, "scenario-document")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="下载 Word").click()
    document = docx.Document(BytesIO(Path(downloading.value.path()).read_bytes()))
    texts = [p.text for p in document.paragraphs if p.text.strip()]
    assert texts[0] == "示范区应急管理局关于做好汛期值班工作的通知"
    assert "三、做好物资储备。" in texts and "各街道办事处：" in texts
    assert "AI" in document.core_properties.keywords and "人工智能" in document.core_properties.comments


def test_the_requester_sees_the_review_outcome_in_the_conversation(page, tenant_a, tenant_b, fake_openai):
    fake_openai.reply = "答复意见：经核查，情况属实。"
    agent = published_agent(
        tenant_a.department,
        name="投诉答复助手",
        endpoint=model_endpoint(tenant_a.department, fake_openai),
        requires_review=True,
    )
    login_as(page, tenant_a.staff)
    page.get_by_role("link", name=re.compile("投诉答复助手")).click()
    page.get_by_label("输入问题").fill("居民投诉噪音，请起草答复")
    page.get_by_role("button", name="发送").click()
    expect(page.locator(".turn").last).to_contain_text("回答需要人工审核", timeout=30_000)
    expect(page.locator(".turn").last).not_to_contain_text("经核查")

    run = Run.objects.get(agent=agent)
    run_review(run=run, reviewer=tenant_a.reviewer, decision=Decision.REJECT, reason="请补充处理依据")
    page.reload()
    expect(page.locator(".turn").last).to_contain_text("回答未通过审核")
    expect(page.locator(".turn").last).to_contain_text("请补充处理依据")
    screenshot(page, "chat-review-rejected")


def test_the_chat_fits_a_phone_screen(phone, tenant_a, tenant_b, fake_openai):
    published_agent(tenant_a.department, name="政策咨询助手", endpoint=model_endpoint(tenant_a.department, fake_openai))
    fake_openai.reply = (
        "| 条件 | 金额 |\n| --- | --- |\n| 博士研究生来本区工作满一年并缴纳社保 | 每月3000元，最长36个月 |"
    )
    login_as(phone, tenant_a.staff)
    phone.get_by_role("link", name=re.compile("政策咨询助手")).click()
    phone.get_by_label("输入问题").fill("补贴标准？")
    phone.get_by_role("button", name="发送").click()
    expect(phone.locator(".turn .answer-text table")).to_be_visible(timeout=30_000)
    assert horizontal_overflow(phone) == 0
    assert Conversation.objects.filter(user=tenant_a.staff).count() == 1
    screenshot(phone, "phone-chat")
