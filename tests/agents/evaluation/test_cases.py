"""Building a test set: by hand, from a CSV or Excel file, and in one click from a trace or the review queue."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.evaluation.checks import lines_of
from agents.models import EvalCase, Run
from agents.runtime.pipeline import run_execute
from tenants.models import AuditEntry, Membership
from tenants.roles import Role
from tests.agents.batch.helpers import csv_file, xlsx_file
from tests.agents.factories import make_agent, make_template
from tests.agents.runtime.helpers import model_endpoint, policy_knowledge_base, published_agent

HEADER = ["名称", "问题", "应引用", "必须出现", "不得出现", "格式检查", "参考答案", "org"]


def import_file(client, agent, name, data):
    return client.post(
        reverse("admin:agents_evalcase_import", args=[agent.pk]), {"file": SimpleUploadedFile(name, data)}
    )


def test_cases_are_imported_from_csv_and_excel_with_their_checks(tenant_a, tenant_b, login):
    agent = make_agent(tenant_a.department)  # its template has the form fields org and task
    client = login(tenant_a.admin)
    rows = [
        ["补贴标准", "博士补贴多少？", "第一条；人才安居补贴办法", "3000元", "无法回答", "", "每月3000元。", "人社局"],
        ["申请材料", "要交什么材料？", "第二条", "学位证书；劳动合同", "", "无错误", "", ""],
    ]
    response = import_file(client, agent, "测试集.csv", csv_file(rows, header=HEADER))
    assert response.status_code == 302
    first, second = EvalCase.objects.filter(agent=agent).order_by("pk")
    assert first.name == "补贴标准" and first.expected_sources == "第一条；人才安居补贴办法"
    assert first.form_values == {"org": "人社局"} and first.reference_answer == "每月3000元。"
    assert lines_of(second.must_include) == ["学位证书", "劳动合同"] and second.format_verdict == EvalCase.Verdict.CLEAN
    # Each case is in the audit log with who imported it.
    assert AuditEntry.objects.filter(model="agents.EvalCase", object_id=str(first.pk), actor=tenant_a.admin).exists()

    response = import_file(client, agent, "测试集.xlsx", xlsx_file(rows[:1], header=HEADER))
    assert response.status_code == 302 and EvalCase.objects.filter(agent=agent).count() == 3
    page = client.get(reverse("admin:agents_evalcase_agent", args=[agent.pk])).content.decode()
    assert "3 个用例" in page and "申请材料" in page


def test_a_file_with_a_bad_row_imports_nothing_and_says_which_row(tenant_a, tenant_b, login):
    agent = make_agent(tenant_a.department)
    rows = [["甲", "问题一", "", "", "", "", "", ""], ["乙", "问题二", "", "", "", "差不多", "", ""]]
    response = import_file(login(tenant_a.admin), agent, "测试集.csv", csv_file(rows, header=HEADER))
    assert response.status_code == 200
    assert "第 3 行：格式检查应填“无错误”或“有错误”。" in response.content.decode()
    assert not EvalCase.objects.filter(agent=agent).exists()


def test_another_departments_agent_has_no_test_set_page(tenant_a, tenant_b, login):
    other = make_agent(tenant_b.department)
    client = login(tenant_a.admin)
    assert client.get(reverse("admin:agents_evalcase_agent", args=[other.pk])).status_code == 404
    assert client.get(reverse("admin:agents_evalcase_import", args=[other.pk])).status_code == 404


def test_a_case_is_added_by_hand_for_the_admins_own_agent(tenant_a, tenant_b, login):
    agent = make_agent(tenant_a.department)
    client = login(tenant_a.admin)
    form = client.get(reverse("admin:agents_evalcase_add") + f"?agent={agent.pk}").context["adminform"].form
    assert form.initial["agent"] == agent.pk
    response = client.post(
        reverse("admin:agents_evalcase_add"),
        {
            "agent": agent.pk,
            "name": "夜间施工投诉",
            "message": "晚上工地很吵怎么办？",
            "form_values": "{}",
            "must_include": "12345",
            "expected_schema": "null",
            "expected_fields": "null",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert EvalCase.objects.get(agent=agent).must_include == "12345"


def test_one_click_on_a_trace_makes_a_case_from_the_run(fake_openai, tenant_a, tenant_b, login):
    fake_openai.reply = "博士研究生每月可领3000元安居补贴[1]。"
    agent = published_agent(
        tenant_a.department,
        endpoint=model_endpoint(tenant_a.department, fake_openai),
        knowledge_bases=[policy_knowledge_base(tenant_a.department)],
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="我是博士，电话13800138000，补贴多少？")
    client = login(tenant_a.admin)
    trace = client.get(reverse("admin:agents_run_change", args=[run.pk])).content.decode()
    button = reverse("admin:agents_evalcase_from_run", args=[run.pk])
    assert button in trace and "加入测试集" in trace

    response = client.post(button)
    case = EvalCase.objects.get(agent=agent)
    assert response.url == reverse("admin:agents_evalcase_change", args=[case.pk])
    # As stored: masked, with the answer as reference and the passage it cited as the source to expect.
    assert "13800138000" not in case.message and "【手机号1】" in case.message
    assert case.reference_answer == "博士研究生每月可领3000元安居补贴[1]。"
    assert "第一条" in case.expected_sources and case.source_run == run

    other = login(tenant_b.admin)
    assert other.post(button).status_code == 404
    assert EvalCase.objects.filter(agent=agent).count() == 1


def test_one_click_in_the_review_queue_keeps_the_reviewers_correction(fake_openai, tenant_a, tenant_b, login):
    fake_openai.reply = "答复：情况属实。"
    template = make_template(tenant_a.department, body="你是答复起草助手。", variables=[])
    agent = published_agent(
        tenant_a.department,
        endpoint=model_endpoint(tenant_a.department, fake_openai),
        template=template,
        requires_review=True,
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="请起草噪音投诉的答复。")
    assert run.review_status == Run.Review.PENDING
    # A plain reviewer decides; no button to make cases, which is the agent's admins' to do.
    item = reverse("chat:review_item", args=[run.pk])
    assert "加入测试集" not in login(tenant_a.reviewer).get(item).content.decode()
    login(tenant_a.reviewer).post(item, {"decision": "edit", "text": "答复：经核查，情况属实，已责令整改。"})

    Membership.objects.create(user=tenant_a.admin, department=tenant_a.department, role=Role.REVIEWER)
    client = login(tenant_a.admin)
    page = client.get(item).content.decode()
    assert "加入测试集" in page
    client.post(reverse("admin:agents_evalcase_from_run", args=[run.pk]))
    case = EvalCase.objects.get(agent=agent)
    assert case.reference_answer == "答复：经核查，情况属实，已责令整改。"
