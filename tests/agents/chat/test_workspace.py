"""The staff workspace: streamed chat, conversations, stop, regenerate, feedback, edit, citations, permissions."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from django.urls import reverse

from agents.chat import services
from agents.models import Conversation, Run
from agents.runtime.events import AnswerDelta
from agents.runtime.pipeline import run_execute, run_stream
from tests.agents.runtime.helpers import model_endpoint, policy_knowledge_base, published_agent
from tests.fakes.openai_server import Reply


def sse_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def post_stream(client: AsyncClient, url: str, data: dict) -> tuple[int, list[tuple[str, dict]]]:
    response = await client.post(url, data)
    if not response.streaming:
        return response.status_code, []
    chunks = [chunk async for chunk in response.streaming_content]
    body = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks).decode()
    return response.status_code, sse_events(body)


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_a_message_streams_its_answer_and_the_conversation_keeps_it(tenant_a, tenant_b, fake_openai):
    fake_openai.reply = "根据[1]，博士每月补贴3000元，电话【手机号1】可咨询。"
    # Tokens spaced out as a model sends them (tokens already waiting are sent as one event).
    fake_openai.chunk_delay = 0.03

    def setup():
        endpoint = model_endpoint(tenant_a.department, fake_openai)
        kb = policy_knowledge_base(tenant_a.department)
        return published_agent(tenant_a.department, endpoint=endpoint, knowledge_bases=[kb])

    agent = await sync_to_async(setup)()
    client = AsyncClient()
    await client.aforce_login(tenant_a.staff)
    status, events = await post_stream(
        client, reverse("chat:send", args=[agent.pk]), {"message": "博士补贴多少？我电话13800138000"}
    )
    assert status == 200
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done" and names.count("delta") > 1
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    # Staff see their own personal data back, even while the answer streams.
    assert streamed == fake_openai.reply.replace("【手机号1】", "13800138000")
    done = events[-1][1]["html"]
    assert '<a class="cite"' in done and "3000元" in done and "本内容由人工智能生成" in done
    run = await Run.objects.aget(pk=events[0][1]["run"])
    assert run.status == Run.Status.SUCCEEDED and run.conversation_id and "13800138000" not in run.input_text
    page = await client.get(reverse("chat:conversation", args=[run.conversation_id]))
    html = page.content.decode()
    assert "3000元" in html and "13800138000" in html and "博士补贴多少" in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_refused_runs_answer_404_or_a_clear_error(tenant_a, tenant_b, fake_openai):
    agent = await sync_to_async(published_agent)(tenant_a.department)
    other = AsyncClient()
    await other.aforce_login(tenant_b.staff)
    status, _ = await post_stream(other, reverse("chat:send", args=[agent.pk]), {"message": "你好"})
    assert status == 404
    own = AsyncClient()
    await own.aforce_login(tenant_a.staff)
    response = await own.post(reverse("chat:send", args=[agent.pk]), {"message": "   "})
    assert response.status_code == 400 and "请输入问题" in json.loads(response.content)["error"]
    assert not await Conversation.objects.aexists(), "a refused first message leaves no empty conversation"
    foreign = await Conversation.objects.acreate(department=tenant_a.department, user=tenant_a.admin, agent=agent)
    status, _ = await post_stream(
        own, reverse("chat:send", args=[agent.pk]) + f"?conversation={foreign.pk}", {"message": "你好"}
    )
    assert status == 404
    assert not await Run.objects.aexists()


def test_other_peoples_conversations_runs_and_unreadable_passages_answer_404(tenant_a, tenant_b, login):
    kb = policy_knowledge_base(tenant_a.department)
    agent = published_agent(tenant_a.department, knowledge_bases=[kb])
    conversation = services.conversation_start(user=tenant_a.staff, agent=agent)
    run = run_execute(principal=tenant_a.staff, agent=agent, conversation=conversation, message="博士安居补贴")
    passage_id = run.retrieved[0]["passage_id"]
    owner = login(tenant_a.staff)
    assert owner.get(reverse("chat:conversation", args=[conversation.pk])).status_code == 200
    assert owner.get(reverse("chat:passage", args=[passage_id])).status_code == 200
    intruder = login(tenant_a.reviewer)  # same department, not the owner
    for url in (
        reverse("chat:conversation", args=[conversation.pk]),
        reverse("chat:run_turn", args=[run.pk]),
        reverse("chat:run_docx", args=[run.pk]),
    ):
        assert intruder.get(url).status_code == 404
        assert intruder.get(url, headers={"HX-Request": "true"}).status_code == 404
    for url in (reverse("chat:run_rate", args=[run.pk]), reverse("chat:conversation_delete", args=[conversation.pk])):
        assert intruder.post(url, {"rating": 1}, headers={"HX-Request": "true"}).status_code == 404
    assert login(tenant_b.staff).get(reverse("chat:passage", args=[passage_id])).status_code == 404
    assert login(tenant_b.staff).get(reverse("chat:agent", args=[agent.pk])).status_code == 404
    conversation.refresh_from_db()
    assert not conversation.is_deleted


def test_stop_ends_a_streaming_answer_keeping_what_came(tenant_a, tenant_b, fake_openai):
    agent = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    conversation = services.conversation_start(user=tenant_a.staff, agent=agent)
    fake_openai.script(Reply(text="很长的回答。" * 40, chunk_delay=0.02))
    stream = run_stream(principal=tenant_a.staff, agent=agent, conversation=conversation, message="写长一点")
    run = next(stream).run
    for event in stream:
        if isinstance(event, AnswerDelta):
            assert services.run_stop(run=run, user=tenant_a.staff)
            break
    for _event in stream:
        pass
    run.refresh_from_db()
    assert run.status == Run.Status.INCOMPLETE and run.error == "已停止生成。"
    assert run.answer and len(run.answer) < len("很长的回答。" * 40)


def test_regenerate_replaces_the_answer_and_leaves_the_history(tenant_a, tenant_b, fake_openai):
    agent = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    conversation = services.conversation_start(user=tenant_a.staff, agent=agent)
    fake_openai.script(Reply(text="第一次的回答"), Reply(text="第二次的回答"), Reply(text="下一轮"))
    first = run_execute(principal=tenant_a.staff, agent=agent, conversation=conversation, message="问题")
    again = run_execute(
        principal=tenant_a.staff,
        agent=agent,
        conversation=conversation,
        message=first.input_text,
        regenerate=first,
    )
    assert [r.pk for r in services.conversation_runs(conversation=conversation)] == [again.pk]
    run_execute(principal=tenant_a.staff, agent=agent, conversation=conversation, message="继续")
    history = [m["content"] for m in fake_openai.chat_requests[-1]["body"]["messages"][1:]]
    assert history == ["问题", "第二次的回答", "继续"]


def test_rate_edit_and_download_a_scenario_document(tenant_a, tenant_b, fake_openai, login, settings):
    from io import BytesIO

    from tests.agents.chat.test_docx_export import custom_properties

    settings.SHUZHI_AI_LABEL_PROVIDER = "示范区应急管理局"

    import docx

    from tests.agents.factories import make_template

    template = make_template(
        tenant_a.department,
        body="根据要点起草通知：{{ points }}",
        variables=[{"name": "points", "label": "要点", "type": "long_text"}],
    )
    fake_openai.reply = "示范区应急管理局关于做好防汛工作的通知\n各街道办事处：\n一、加强值守。\n联系电话【手机号1】。"
    agent = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai), template=template
    )
    conversation = services.conversation_start(user=tenant_a.staff, agent=agent)
    run = run_execute(
        principal=tenant_a.staff,
        agent=agent,
        conversation=conversation,
        form_values={"points": "加强值守，联系电话13800138000"},
    )
    client = login(tenant_a.staff)
    page = client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert "下载 Word" in page and "编辑文稿" in page
    assert "<dt>要点</dt>" in page, "form fields are shown by their labels"

    rated = client.post(reverse("chat:run_rate", args=[run.pk]), {"rating": "-1", "comment": "标题不准确"})
    assert rated.status_code == 200 and 'aria-pressed="true"' in rated.content.decode()
    run.refresh_from_db()
    assert (run.rating, run.rating_comment) == (-1, "标题不准确")

    edited = (
        "示范区应急管理局关于做好防汛工作的通知\n各街道办事处：\n一、加强值守。\n二、及时报告。\n联系电话13800138000。"
    )
    assert client.post(reverse("chat:run_edit", args=[run.pk]), {"text": edited}).status_code == 200
    run.refresh_from_db()
    assert "二、及时报告" in run.edited_text and "13800138000" not in run.edited_text

    response = client.get(reverse("chat:run_docx", args=[run.pk]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    document = docx.Document(BytesIO(response.content))
    texts = [p.text for p in document.paragraphs if p.text.strip()]
    assert texts[0] == "示范区应急管理局关于做好防汛工作的通知"
    assert "二、及时报告。" in texts and any("13800138000" in t for t in texts)
    assert "AI" in (document.core_properties.comments + document.core_properties.keywords)
    # The AI-generated label: visibly in the page header, implicitly in the file's custom properties.
    assert "本内容由人工智能生成" in document.sections[0].header.paragraphs[0].text
    implicit = json.loads(custom_properties(response.content)["AIGC"].replace("&quot;", '"'))
    assert implicit == {**implicit, "Label": "1", "ContentProducer": "示范区应急管理局", "ProduceID": run.uuid.hex}


def test_conversations_can_be_searched_renamed_and_deleted(tenant_a, tenant_b, login):
    agent = published_agent(tenant_a.department)
    conversation = services.conversation_start(user=tenant_a.staff, agent=agent)
    run_execute(principal=tenant_a.staff, agent=agent, conversation=conversation, message="防汛值班安排")
    client = login(tenant_a.staff)
    found = client.get(
        reverse("chat:workspace"), {"cq": "防汛"}, headers={"HX-Request": "true", "HX-Target": "conversation-list"}
    )
    assert "防汛值班安排" in found.content.decode() and "<html" not in found.content.decode()
    assert (
        "防汛"
        not in client.get(reverse("chat:workspace"), {"cq": "不存在的词"})
        .content.decode()
        .split("conversation-list")[1]
    )
    renamed = client.post(
        reverse("chat:conversation_rename", args=[conversation.pk]), {"title": "值班"}, headers={"HX-Request": "true"}
    )
    assert renamed.status_code == 200 and "值班" in renamed.content.decode()
    assert client.post(reverse("chat:conversation_rename", args=[conversation.pk]), {"title": " "}).status_code == 400
    client.post(reverse("chat:conversation_delete", args=[conversation.pk]))
    assert client.get(reverse("chat:conversation", args=[conversation.pk])).status_code == 404
    assert Run.objects.filter(conversation=conversation).exists()  # kept for traceability


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_a_browser_that_goes_away_loses_nothing(tenant_a, tenant_b, fake_openai):
    """The chat stops listening when the browser disconnects; the run finishes and is stored anyway."""
    import asyncio

    from agents.chat import streaming

    def setup():
        return published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))

    agent = await sync_to_async(setup)()
    fake_openai.script(Reply(text="后台完成的回答", chunk_delay=0.05))
    events = await streaming.start(run_kwargs={"principal": tenant_a.staff, "agent": agent, "message": "你好"})
    first = await events.__anext__()
    await events.aclose()  # the browser is gone
    for _ in range(200):
        run = await Run.objects.aget(pk=first.run.pk)
        if run.status != Run.Status.RUNNING:
            break
        await asyncio.sleep(0.1)
    assert run.status == Run.Status.SUCCEEDED and run.answer == "后台完成的回答"


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_attached_files_reach_the_agent_masked_and_bad_files_are_refused(tenant_a, tenant_b, fake_openai):
    from django.core.files.uploadedfile import SimpleUploadedFile

    agent = await sync_to_async(published_agent)(
        tenant_a.department, endpoint=await sync_to_async(model_endpoint)(tenant_a.department, fake_openai)
    )
    client = AsyncClient()
    await client.aforce_login(tenant_a.staff)
    transcript = SimpleUploadedFile(
        "询问笔录.txt", "问：你的电话？答：13800138000。问：事发经过？答：夜间施工。".encode()
    )
    status, events = await post_stream(
        client, reverse("chat:send", args=[agent.pk]), {"message": "根据附件起草文书", "attachments": transcript}
    )
    assert status == 200 and events[-1][0] == "done"
    sent = fake_openai.chat_requests[-1]["body"]["messages"][-1]["content"]
    assert "附件《询问笔录.txt》" in sent and "夜间施工" in sent and "13800138000" not in sent
    run = await Run.objects.aget(pk=events[0][1]["run"])
    assert run.attachments[0]["name"] == "询问笔录.txt" and "【手机号1】" in run.attachments[0]["text"]

    program = SimpleUploadedFile("报告.pdf", b"MZ\x90\x00" + b"\x00" * 200)
    response = await client.post(reverse("chat:send", args=[agent.pk]), {"message": "看看", "attachments": program})
    assert response.status_code == 400 and "报告.pdf" in json.loads(response.content)["error"]
    assert await Run.objects.acount() == 1
