"""A cloned scenario on its way to staff: department defaults, the checklist, refusals that say why."""

from django.urls import reverse

from agents.builder.services import catalog_sync, scenario_clone
from agents.models import Agent, Scenario
from tests.agents.factories import make_endpoint, make_knowledge_base
from tests.agents.specs import AgentSpec


def knowledge_scenario():
    catalog_sync()
    return next(s for s in Scenario.objects.all() if "knowledge_search" in s.definition.get("tools", []))


def clone_url(scenario):
    return reverse("admin:agents_scenario_clone", args=[scenario.pk])


def publish(client, agent):
    return client.post(reverse("admin:agents_agent_publish", args=[agent.pk]), follow=True)


def test_a_clone_gets_the_departments_only_model_and_no_knowledge_search_without_a_knowledge_base(tenant_a, tenant_b):
    endpoint = make_endpoint(tenant_a.department, models="qwen-72b,qwen-7b")
    make_endpoint(tenant_b.department, models="other")
    agent = scenario_clone(scenario=knowledge_scenario(), department=tenant_a.department)
    assert agent.endpoint == endpoint and agent.model_name == "qwen-72b"
    assert not agent.tools.filter(builtin="knowledge_search").exists()


def test_with_two_model_services_the_clone_leaves_the_choice_to_the_admin(tenant_a, tenant_b):
    make_endpoint(tenant_a.department)
    make_endpoint(tenant_a.department)
    agent = scenario_clone(scenario=knowledge_scenario(), department=tenant_a.department)
    assert agent.endpoint is None and agent.model_name == ""


def test_the_clone_page_lists_what_it_still_needs_and_publishing_refuses_until_someone_may_use_it(
    login, tenant_a, tenant_b
):
    scenario = knowledge_scenario()
    client = login(tenant_a.admin)
    response = client.post(clone_url(scenario), {"department": tenant_a.department.pk}, follow=True)
    page = response.content.decode()
    agent = Agent.objects.get(department=tenant_a.department, scenario_key=scenario.key)
    assert "请按页面上的发布前检查补齐" in page
    assert "未选择模型服务，也没有知识库：智能体无法回答任何问题" in page
    assert "还没有指定谁可以使用" in page

    refused = publish(client, agent).content.decode()
    assert "未发布：未选择模型服务，也没有知识库" in refused
    agent.refresh_from_db()
    assert agent.current_version is None

    # The admin adds a knowledge base and switches knowledge search on, but assigns nobody yet.
    kb = make_knowledge_base(tenant_a.department)
    data = {
        **AgentSpec().form_data(tenant_a, agent),
        "template": agent.template_id,
        "knowledge_bases": [kb.pk],
        "tools": [*agent.tools.values_list("pk", flat=True), _knowledge_search_pk()],
        "assigned_roles": [],
        "_publish": "1",
    }
    refused = client.post(reverse("admin:agents_agent_change", args=[agent.pk]), data, follow=True).content.decode()
    assert "未发布：还没有指定谁可以使用" in refused
    agent.refresh_from_db()
    assert agent.current_version is None and agent.knowledge_bases.get() == kb, "the edits were saved"

    data["assigned_roles"] = ["staff"]
    data["seen_revision"] = agent.revision
    client.post(reverse("admin:agents_agent_change", args=[agent.pk]), data)
    agent.refresh_from_db()
    assert agent.current_version is not None
    assert agent.current_version.snapshot["knowledge_base_ids"] == [kb.pk]


def test_knowledge_search_without_a_knowledge_base_is_refused(login, tenant_a, tenant_b):
    endpoint = make_endpoint(tenant_a.department)
    agent = scenario_clone(scenario=knowledge_scenario(), department=tenant_a.department)
    agent.assign_all_members = True
    agent.endpoint, agent.model_name = endpoint, "fake-chat"
    agent.save()
    agent.tools.add(_knowledge_search_pk())
    refused = publish(login(tenant_a.admin), agent).content.decode()
    assert "已开启“知识库检索”工具，但还没有选择知识库" in refused
    agent.refresh_from_db()
    assert agent.current_version is None


def test_cloning_the_same_scenario_again_is_refused_with_a_link_unless_confirmed(login, tenant_a, tenant_b):
    scenario = knowledge_scenario()
    client = login(tenant_a.admin)
    client.post(clone_url(scenario), {"department": tenant_a.department.pk})
    first = Agent.objects.get(department=tenant_a.department, scenario_key=scenario.key)

    page = client.get(reverse("admin:agents_scenario_change", args=[scenario.pk])).content.decode()
    assert "已从此场景克隆过" in page and reverse("admin:agents_agent_change", args=[first.pk]) in page

    again = client.post(clone_url(scenario), {"department": tenant_a.department.pk}, follow=True).content.decode()
    assert "未克隆" in again and reverse("admin:agents_agent_change", args=[first.pk]) in again
    assert Agent.objects.filter(department=tenant_a.department, scenario_key=scenario.key).count() == 1

    client.post(clone_url(scenario), {"department": tenant_a.department.pk, "duplicate": "1"})
    assert Agent.objects.filter(department=tenant_a.department, scenario_key=scenario.key).count() == 2


def test_another_departments_clone_does_not_count_as_a_duplicate(login, tenant_a, tenant_b):
    scenario = knowledge_scenario()
    scenario_clone(scenario=scenario, department=tenant_b.department)
    client = login(tenant_a.admin)
    page = client.get(reverse("admin:agents_scenario_change", args=[scenario.pk])).content.decode()
    assert "已从此场景克隆过" not in page
    client.post(clone_url(scenario), {"department": tenant_a.department.pk})
    assert Agent.objects.filter(department=tenant_a.department, scenario_key=scenario.key).count() == 1


def _knowledge_search_pk():
    from agents.models import Tool

    return Tool.objects.get(department=None, builtin="knowledge_search").pk
