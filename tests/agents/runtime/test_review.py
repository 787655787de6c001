"""Agents that require review: output waits in the agent department's queue until a reviewer decides."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from agents.models import Run
from agents.runtime.pipeline import run_execute
from agents.runtime.review import Decision, review_queue, run_review
from agents.runtime.visibility import delivered
from tests.agents.runtime.helpers import model_endpoint, published_agent


@pytest.fixture
def pending(tenant_a, tenant_b, fake_openai):
    fake_openai.reply = "关于张某投诉的答复意见：经核查，情况属实，请联系【手机号1】。"
    agent = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), requires_review=True
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="张某，电话13800138000，投诉噪音，请起草答复。")
    assert run.status == Run.Status.SUCCEEDED and run.review_status == Run.Review.PENDING
    return run


def test_the_requester_sees_only_the_status_until_a_reviewer_approves(pending, tenant_a, login):
    client = login(tenant_a.staff)
    page = client.get(reverse("chat:run", args=[pending.pk])).content.decode()
    assert "待审核" in page and "答复意见" not in page

    reviewer = login(tenant_a.reviewer)
    queue = reviewer.get(reverse("chat:review")).content.decode()
    assert reverse("chat:review_item", args=[pending.pk]) in queue
    item = reviewer.get(reverse("chat:review_item", args=[pending.pk])).content.decode()
    # The reviewer sees the full trace, with the personal data their role entitles them to.
    assert "13800138000" in item and "答复意见" in item
    response = reviewer.post(reverse("chat:review_item", args=[pending.pk]), {"decision": "approve"})
    assert response.status_code == 302

    pending.refresh_from_db()
    assert pending.review_status == Run.Review.APPROVED and pending.reviewer_id == tenant_a.reviewer.pk
    page = login(tenant_a.staff).get(reverse("chat:run", args=[pending.pk])).content.decode()
    assert "已通过" in page and "答复意见" in page and "13800138000" in page
    assert not review_queue(user=tenant_a.reviewer).exists()


def test_an_edited_text_is_stored_masked_and_delivered_as_edited(pending, tenant_a):
    run = run_review(
        run=pending,
        reviewer=tenant_a.reviewer,
        decision=Decision.EDIT,
        text="经核查情况属实，已责令整改。请致电13800138000反馈。",
    )
    assert run.review_status == Run.Review.EDITED
    assert "13800138000" not in run.final_text and "【手机号1】" in run.final_text
    assert delivered(run)[0] == run.final_text


def test_rejecting_needs_a_reason_and_the_requester_sees_it(pending, tenant_a, login):
    with pytest.raises(ValidationError, match="理由"):
        run_review(run=pending, reviewer=tenant_a.reviewer, decision=Decision.REJECT)
    run_review(run=pending, reviewer=tenant_a.reviewer, decision=Decision.REJECT, reason="依据引用错误")
    page = login(tenant_a.staff).get(reverse("chat:run", args=[pending.pk])).content.decode()
    assert "未通过审核" in page and "依据引用错误" in page and "答复意见" not in page
    with pytest.raises(ValidationError, match="已由"):
        run_review(run=pending, reviewer=tenant_a.reviewer, decision=Decision.APPROVE)


def test_other_departments_reviewers_and_other_users_get_404(pending, tenant_a, tenant_b, login):
    assert login(tenant_b.reviewer).get(reverse("chat:review_item", args=[pending.pk])).status_code == 404
    assert (
        login(tenant_b.reviewer)
        .post(reverse("chat:review_item", args=[pending.pk]), {"decision": "approve"})
        .status_code
        == 404
    )
    assert login(tenant_a.admin).get(reverse("chat:run", args=[pending.pk])).status_code == 404
    assert login(tenant_b.staff).get(reverse("chat:run", args=[pending.pk])).status_code == 404
    with pytest.raises(Run.DoesNotExist):
        run_review(run=pending, reviewer=tenant_b.reviewer, decision=Decision.APPROVE)
    pending.refresh_from_db()
    assert pending.review_status == Run.Review.PENDING
