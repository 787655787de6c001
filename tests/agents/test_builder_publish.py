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
