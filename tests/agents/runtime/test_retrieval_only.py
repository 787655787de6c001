"""With no chat model connected, agents answer from their knowledge bases, with citations, clearly labelled."""

import pytest

from agents.models import Run, UsageCounter
from agents.runtime.access import AgentNotAvailable
from agents.runtime.events import AnswerDelta, RunFinished, RunStarted, Sources
from agents.runtime.pipeline import RunInputInvalid, run_execute, run_stream
from agents.runtime.visibility import delivered
from tests.agents.runtime.helpers import policy_knowledge_base, published_agent


def test_no_model_answers_with_the_best_passages_and_their_citations(tenant_a, tenant_b):
    agent = published_agent(tenant_a.department, knowledge_bases=[policy_knowledge_base(tenant_a.department)])
    events = list(run_stream(principal=tenant_a.staff, agent=agent, message="博士来工作有安居补贴吗？每月多少钱"))

    assert isinstance(events[0], RunStarted) and events[0].retrieval_only
    sources = next(e for e in events if isinstance(e, Sources))
    assert sources.hits[0]["n"] == 1 and "人才安居补贴办法" in sources.hits[0]["citation"]
    streamed = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    run = events[-1].run
    assert isinstance(events[-1], RunFinished)
    assert run.status == Run.Status.SUCCEEDED and run.retrieval_only
    assert "未连接大语言模型" in run.answer
    assert "3000元" in run.answer and "《人才安居补贴办法》 （示人社〔2025〕3号）" in run.answer
    assert streamed == run.answer
    assert run.model_calls == 0 and run.input_tokens == 0 and run.endpoint is None
    assert run.ttft_ms is not None and run.latency_ms >= run.ttft_ms
    assert run.version == agent.current_version and run.caller_department == tenant_a.department


def test_no_model_and_no_knowledge_says_so_plainly(tenant_a, tenant_b):
    agent = published_agent(tenant_a.department)
    run = run_execute(principal=tenant_a.staff, agent=agent, message="你好")
    assert run.status == Run.Status.SUCCEEDED
    assert "未连接大语言模型" in run.answer and "没有关联知识库" in run.answer


def test_each_run_is_counted_once_in_the_usage_of_the_callers_department(tenant_a, tenant_b):
    agent = published_agent(tenant_a.department)
    agent.granted_departments.add(tenant_b.department)
    run_execute(principal=tenant_a.staff, agent=agent, message="一")
    run_execute(principal=tenant_a.staff, agent=agent, message="二")
    run_execute(principal=tenant_b.staff, agent=agent, message="三")
    own = UsageCounter.objects.get(department=tenant_a.department, agent=agent, user_id=tenant_a.staff.pk)
    granted = UsageCounter.objects.get(department=tenant_b.department, agent=agent, user_id=tenant_b.staff.pk)
    assert (own.runs, granted.runs) == (2, 1)
    # Runs belong to the agent's department (its admins and reviewers trace them) whoever called.
    assert set(Run.objects.values_list("department", flat=True)) == {tenant_a.department.pk}


def test_who_may_not_use_an_agent_gets_nothing_and_nothing_is_stored(tenant_a, tenant_b):
    agent = published_agent(tenant_a.department)
    with pytest.raises(AgentNotAvailable):
        run_execute(principal=tenant_b.staff, agent=agent, message="你好")
    draft_only = published_agent(tenant_a.department)
    type(draft_only).objects.filter(pk=draft_only.pk).update(current_version=None)
    draft_only.refresh_from_db()
    with pytest.raises(AgentNotAvailable):
        run_execute(principal=tenant_a.staff, agent=draft_only, message="你好")
    # The draft runs only for the agent's admins (the playground).
    with pytest.raises(AgentNotAvailable):
        run_execute(principal=tenant_a.staff, agent=draft_only, message="你好", draft=True)
    assert run_execute(principal=tenant_a.admin, agent=draft_only, message="你好", draft=True).version is None
    assert Run.objects.count() == 1


def test_empty_input_and_bad_form_values_are_refused_before_anything_runs(tenant_a, tenant_b):
    from tests.agents.factories import make_template

    template = make_template(
        tenant_a.department,
        body="为{{ org }}处理{{ kind }}。",
        variables=[
            {"name": "org", "label": "单位", "type": "short_text"},
            {"name": "kind", "label": "类型", "type": "choice", "choices": "投诉\n咨询"},
        ],
    )
    with pytest.raises(RunInputInvalid, match="请输入问题"):
        run_execute(principal=tenant_a.staff, agent=published_agent(tenant_a.department), message="  ")
    agent = published_agent(tenant_a.department, template=template)
    with pytest.raises(RunInputInvalid, match="请填写“单位”"):
        run_execute(principal=tenant_a.staff, agent=agent, message="你好")
    with pytest.raises(RunInputInvalid, match="类型"):
        run_execute(principal=tenant_a.staff, agent=agent, form_values={"org": "应急局", "kind": "表扬"})
    with pytest.raises(RunInputInvalid, match="未定义的字段"):
        run_execute(principal=tenant_a.staff, agent=agent, form_values={"org": "应急局", "kind": "投诉", "id": 3})
    assert not Run.objects.exists()
    run = run_execute(principal=tenant_a.staff, agent=agent, form_values={"org": "应急局", "kind": "投诉"})
    assert run.form_values == {"org": "应急局", "kind": "投诉"}


def test_tools_that_need_no_model_work_on_the_callers_text(tenant_a, tenant_b):
    agent = published_agent(tenant_a.department, tools=["document_format_check", "mask_personal_data"])
    document = (
        "示范区应急管理局关于做好防汛工作的通知。\n"
        "示应急[2025]012号\n"
        "各街道办事处\n"
        "一.加强值守。\n"
        "联系人：张三，电话13800138000。\n"
        "示范区应急管理局\n"
        "2025年07月01日\n"
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message=document)
    assert run.status == Run.Status.SUCCEEDED and run.retrieval_only
    assert {s["tool"] for s in run.steps} == {"mask_personal_data", "document_format_check"}
    assert "格式问题" in run.answer and "〔2025〕12号" in run.answer  # the corrected issuing number
    assert "2025年7月1日" in run.answer
    # The masking tool shows the text with placeholders; the run stores no raw phone number.
    assert "【手机号1】" in run.answer and "13800138000" not in run.answer


def test_retrieval_only_answers_quote_the_documents_and_skip_review(tenant_a, tenant_b):
    agent = published_agent(
        tenant_a.department, knowledge_bases=[policy_knowledge_base(tenant_a.department)], requires_review=True
    )
    run = run_execute(principal=tenant_a.staff, agent=agent, message="博士安居补贴")
    assert run.review_status == Run.Review.NONE and "3000元" in delivered(run)[0]


def test_an_uploaded_ofd_document_is_format_checked_on_its_own_lines(tenant_a, tenant_b):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from agents.chat.services import attachments_parse
    from tests.agents.tools.test_doc_format import REQUEST
    from tests.agents.tools.test_doc_format_set import ofd_bytes

    agent = published_agent(tenant_a.department, tools=["document_format_check"])
    sloppy = REQUEST.replace("示应急〔2025〕5号", "示应急[2025]5号")
    attachments = attachments_parse(files=[SimpleUploadedFile("请示.ofd", ofd_bytes(sloppy))])
    run = run_execute(principal=tenant_a.staff, agent=agent, message="请检查附件的格式", attachments=attachments)
    assert run.status == Run.Status.SUCCEEDED
    (step,) = run.steps
    problems = step["result"]["problems"]
    # Line 2 of the file as read (the OFD has no blank lines), not shifted by the message.
    assert [(p["code"], p["line"]) for p in problems] == [("number.brackets", 2)]
    assert "示应急〔2025〕5号" in run.answer
