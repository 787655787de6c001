"""Publishing from the agent page: the form is saved first, what will change is shown, errors lose nothing."""

from django.urls import reverse

from agents.builder.services import agent_publish
from agents.models import Agent
from tests.agents.factories import make_agent, make_endpoint, make_knowledge_base
from tests.agents.specs import AgentSpec


def change_url(agent):
    return reverse("admin:agents_agent_change", args=[agent.pk])


def form(tenant, agent, **overrides):
    """The agent's form as the page shows it, with the admin's edits."""
    same = {
        "area": agent.area,
        "template": agent.template_id,
        "max_tokens": agent.max_tokens,
        "max_tool_steps": agent.max_tool_steps,
        "minutes_saved": agent.minutes_saved,
    }
    return {**AgentSpec().form_data(tenant, agent), **same, **overrides}


def test_publish_saves_the_unsaved_form_first_and_says_what_was_published(login, tenant_a, tenant_b):
    endpoint = make_endpoint(tenant_a.department, models="fake-chat,fake-large")
    agent = make_agent(tenant_a.department, endpoint=endpoint, model_name="fake-chat", assigned_roles=["staff"])
    agent_publish(agent=agent, user=tenant_a.admin)
    agent.refresh_from_db()
    client = login(tenant_a.admin)

    data = form(tenant_a, agent, endpoint=endpoint.pk, model_name="fake-large", _publish="1", publish_note="换大模型")
    response = client.post(change_url(agent), data, follow=True)

    agent.refresh_from_db()
    v2 = agent.current_version
    assert v2.number == 2 and v2.snapshot["model"]["model_name"] == "fake-large" and v2.note == "换大模型"
    page = response.content.decode()
    published = [str(m) for m in response.context["messages"] if "已发布版本 v2" in str(m)]
    assert published and "模型名称" in published[0] and "温度" not in published[0]
    assert "已保存的草稿与 v2 相同" in page


def test_publish_with_an_invalid_form_shows_the_error_by_the_field_and_publishes_nothing(login, tenant_a, tenant_b):
    endpoint = make_endpoint(tenant_a.department, models="fake-chat")
    agent = make_agent(tenant_a.department, endpoint=endpoint, model_name="fake-chat", assigned_roles=["staff"])
    agent_publish(agent=agent, user=tenant_a.admin)
    client = login(tenant_a.admin)

    data = form(tenant_a, agent, endpoint=endpoint.pk, model_name="no-such-model", name="新名称", _publish="1")
    response = client.post(change_url(agent), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "模型名称必须是该模型服务提供的模型之一" in " ".join(errors["model_name"])
    page = response.content.decode()
    assert 'value="新名称"' in page, "what the admin typed is still on the form"
    agent.refresh_from_db()
    assert agent.versions.count() == 1 and agent.name != "新名称"


def test_the_agent_page_lists_the_saved_changes_that_publishing_would_bring(login, tenant_a, tenant_b):
    agent = make_agent(tenant_a.department, name="通知起草", assigned_roles=["staff"])
    agent_publish(agent=agent, user=tenant_a.admin)
    kb = make_knowledge_base(tenant_a.department)
    agent.knowledge_bases.add(kb)
    Agent.objects.filter(pk=agent.pk).update(name="通知起草（新）")
    page = login(tenant_a.admin).get(change_url(agent)).content.decode()
    assert "发布后将改变" in page
    assert "通知起草 → 通知起草（新）" in page
    assert f"— → {kb.name}" in page


def test_each_field_says_whether_it_waits_for_publishing_or_takes_effect_on_save(login, tenant_a, tenant_b):
    agent = make_agent(tenant_a.department, assign_all_members=True)
    response = login(tenant_a.admin).get(change_url(agent))
    form = response.context["adminform"].form
    assert "发布后生效" in form.fields["model_name"].help_text
    assert "发布后生效" in form.fields["knowledge_bases"].help_text
    assert "保存即生效" in form.fields["assigned_users"].help_text
    assert "保存即生效" in form.fields["is_active"].help_text
    assert 'class="shuzhi-badge versioned"' in response.content.decode()


def test_publishing_after_changing_only_who_may_use_it_says_that_change_is_already_live(login, tenant_a, tenant_b):
    endpoint = make_endpoint(tenant_a.department)
    agent = make_agent(tenant_a.department, endpoint=endpoint, model_name="fake-chat", assign_all_members=True)
    agent_publish(agent=agent, user=tenant_a.admin)
    agent.refresh_from_db()
    client = login(tenant_a.admin)
    data = form(tenant_a, agent, endpoint=endpoint.pk, model_name="fake-chat", assigned_roles=["reviewer"])
    data.update(_publish="1", temperature=str(agent.temperature), max_tool_steps=agent.max_tool_steps)
    response = client.post(change_url(agent), data, follow=True)
    assert "保存后已经生效" in response.content.decode()
    agent.refresh_from_db()
    assert agent.assigned_roles == ["reviewer"] and agent.versions.count() == 1


def test_the_version_diff_names_fields_and_objects_and_diffs_the_prompt_text(login, tenant_a, tenant_b):
    from agents.models import Tool

    first_kb, second_kb = make_knowledge_base(tenant_a.department), make_knowledge_base(tenant_a.department)
    agent = make_agent(tenant_a.department, assign_all_members=True)
    agent.knowledge_bases.add(first_kb)
    agent_publish(agent=agent, user=tenant_a.admin)
    agent.knowledge_bases.add(second_kb)
    tool = Tool.objects.get(department=None, builtin="current_datetime")
    agent.tools.add(tool)
    agent.template.body = "你是{{ org }}的助手。\n请处理：{{ task }}\n引用条款时注明文号。"
    agent.template.save()
    agent_publish(agent=agent, user=tenant_a.admin)

    page = login(tenant_a.admin).get(reverse("admin:agents_agent_diff", args=[agent.pk]), {"a": 1, "b": 2})
    html = page.content.decode()
    assert "knowledge_base_ids" not in html and "function_name" not in html
    assert '<th scope="row">知识库</th>' in html
    assert f"{first_kb.name}、{second_kb.name}" in html
    assert '<th scope="row">工具</th>' in html and tool.name in html
    assert '<th scope="row">提示词正文</th>' in html and "+引用条款时注明文号。" in html
