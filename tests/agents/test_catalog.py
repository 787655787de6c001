"""The scenario catalog: valid, renders with its examples, browsable, and cloned in one click."""

import pytest
from django.urls import reverse

from agents.builder.services import agent_publish, catalog_sync, scenario_clone
from agents.catalog.areas import Area
from agents.catalog.loader import catalog_problems, load_all
from agents.demo import demo_agents_load
from agents.models import Agent, Scenario
from agents.prompts.templates import check_template, render
from tenants.models import Department
from tests.factories import make_tenant

SCENARIOS = load_all()


def test_the_catalog_has_at_least_thirty_valid_scenarios_across_government_work():
    assert len(SCENARIOS) >= 30
    assert catalog_problems(SCENARIOS) == []
    areas = {s["area"] for s in SCENARIOS}
    assert areas >= {
        Area.DOCUMENTS,
        Area.POLICY,
        Area.HOTLINE,
        Area.ENFORCEMENT,
        Area.INVESTMENT,
        Area.EMERGENCY,
        Area.GRASSROOTS,
        Area.HEALTH,
        Area.OFFICE,
    }
    names = " ".join(s["name"] + s["description"] for s in SCENARIOS)
    for topic in ("GB/T 9704", "12345", "笔录", "事故", "会议纪要", "病历", "网格", "招商", "合规"):
        assert topic in names or topic in " ".join(s["system_prompt"] for s in SCENARIOS), topic
    assert sum(s.get("output_mode") == "structured" for s in SCENARIOS) >= 5


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["key"] for s in SCENARIOS])
def test_each_scenario_renders_its_two_examples(scenario):
    for example in scenario["examples"]:
        text = render(scenario["system_prompt"], scenario["variables"], example["values"])
        assert "{{" not in text
        filled = [str(v) for v in example["values"].values() if str(v).strip()]
        assert all(value.strip() in text for value in filled)


def test_every_scenario_clones_into_a_valid_publishable_agent(db):
    department = Department.objects.create(name="克隆测试局", code="clone-test")
    other = Department.objects.create(name="另一局", code="clone-other")
    catalog_sync()
    assert Scenario.objects.count() == len(SCENARIOS)
    for scenario in Scenario.objects.all():
        agent = scenario_clone(scenario=scenario, department=department)
        agent.full_clean()
        assert check_template(agent.template.body, agent.template.variable_dicts()) == []
        # Knowledge search waits for a knowledge base (none yet on a fresh clone).
        suggested = set(scenario.definition.get("tools", [])) - {"knowledge_search"}
        assert set(agent.tools.values_list("builtin", flat=True)) == suggested
        version = agent_publish(agent=agent, user=None)
        assert version.snapshot["template"]["variables"][0]["name"] == scenario.definition["variables"][0]["name"]
        assert agent.scenario_key == scenario.key and agent.department == department
    assert not Agent.objects.filter(department=other).exists()


def test_cloning_twice_on_purpose_gives_two_distinct_agents(tenant_a, tenant_b):
    catalog_sync()
    scenario = Scenario.objects.first()
    first = scenario_clone(scenario=scenario, department=tenant_a.department)
    second = scenario_clone(scenario=scenario, department=tenant_a.department, allow_duplicate=True)
    assert first.slug != second.slug and first.template_id != second.template_id


def test_admin_browses_searches_filters_and_clones_in_one_click(login, tenant_a, tenant_b):
    catalog_sync()
    client = login(tenant_a.admin)
    listing = client.get(reverse("admin:agents_scenario_changelist"))
    assert listing.status_code == 200 and listing.context["cl"].result_count == len(SCENARIOS)
    hotline = client.get(reverse("admin:agents_scenario_changelist"), {"area__exact": "hotline"}).context["cl"]
    assert hotline.result_count >= 2 and all(s.area == "hotline" for s in hotline.result_list)
    found = client.get(reverse("admin:agents_scenario_changelist"), {"q": "笔录"}).context["cl"]
    assert found.result_count >= 1

    scenario = Scenario.objects.filter(area="enforcement").first()
    page = client.get(reverse("admin:agents_scenario_change", args=[scenario.pk])).content.decode()
    assert "一键克隆到本部门" in page and scenario.name in page
    response = client.post(
        reverse("admin:agents_scenario_clone", args=[scenario.pk]), {"department": tenant_a.department.pk}
    )
    agent = Agent.objects.get(department=tenant_a.department, scenario_key=scenario.key)
    assert response["Location"] == reverse("admin:agents_agent_change", args=[agent.pk])
    assert agent.current_version is None, "a clone is a draft until published"


def test_admin_cannot_clone_into_another_department_or_edit_the_catalog(login, tenant_a, tenant_b):
    catalog_sync()
    scenario = Scenario.objects.first()
    client = login(tenant_a.admin)
    client.post(reverse("admin:agents_scenario_clone", args=[scenario.pk]), {"department": tenant_b.department.pk})
    assert not Agent.objects.filter(department=tenant_b.department).exists()
    assert client.post(reverse("admin:agents_scenario_change", args=[scenario.pk]), {"name": "x"}).status_code == 403
    assert client.post(reverse("admin:agents_scenario_delete", args=[scenario.pk]), {"post": "yes"}).status_code == 403
    assert login(tenant_a.staff).get(reverse("admin:agents_scenario_changelist")).status_code == 302


def test_demo_departments_get_published_assigned_agents_that_staff_see(client, db):
    from tenants.demo import demo_departments_load

    catalog_sync()
    demo_departments_load(password="Demo-Pass-2026")
    created = demo_agents_load()
    assert len(created) >= 8
    assert demo_agents_load() == [], "loading again adds nothing"
    client.post(reverse("login"), {"username": "yingji_staff", "password": "Demo-Pass-2026"})
    page = client.get(reverse("chat:workspace")).content.decode()
    mine = Agent.objects.filter(department__code="demo-emergency")
    assert mine.count() >= 4 and all(a.current_version_id for a in mine)
    assert all(a.name in page for a in mine)
    assert not any(
        a.name in page
        for a in Agent.objects.filter(department__code="demo-market")
        if not mine.filter(name=a.name).exists()
    )


def test_staff_workspace_lists_only_agents_they_may_use(login, district):
    from tests.agents.factories import make_agent

    a, b = make_tenant("甲局", parent=district), make_tenant("乙局", parent=district)
    mine = make_agent(a.department, name="甲局通知助手", assign_all_members=True)
    theirs = make_agent(b.department, name="乙局热线助手", assign_all_members=True)
    shared = make_agent(b.department, name="乙局授权给甲局的助手", assign_all_members=True)
    shared.granted_departments.add(a.department)
    for agent in (mine, theirs, shared):
        agent_publish(agent=agent, user=None)
    page = login(a.staff).get(reverse("chat:workspace")).content.decode()
    assert "甲局通知助手" in page and "乙局授权给甲局的助手" in page and "由乙局授权使用" in page
    assert "乙局热线助手" not in page


def test_demo_knowledge_bases_hold_the_sample_policies_queued_for_the_worker(db, django_capture_on_commit_callbacks):
    from agents.demo import demo_knowledge_load
    from agents.models import Document, KnowledgeBase
    from tenants.demo import demo_departments_load

    demo_departments_load(password="Demo-Pass-2026")
    with django_capture_on_commit_callbacks() as queued:
        documents = demo_knowledge_load()
    assert len(documents) >= 20 and len(queued) == len(documents)
    assert all(d.status == "queued" for d in documents)
    assert any(d.expiry_date and d.expiry_date.isoformat() < "2026-11-23" for d in documents)
    district = KnowledgeBase.objects.get(department__code="demo-district")
    assert set(district.granted_departments.values_list("code", flat=True)) == {"demo-emergency", "demo-market"}
    assert demo_knowledge_load() == [], "loading again adds nothing"
    assert Document.objects.count() == len(documents)


def test_demo_agents_search_their_knowledge_bases_once_they_have_them(db):
    from agents.demo import demo_knowledge_load
    from tenants.demo import demo_departments_load

    catalog_sync()
    demo_departments_load(password="Demo-Pass-2026")
    demo_agents_load()
    searching = [
        a
        for a in Agent.objects.exclude(scenario_key="")
        if "knowledge_search" in Scenario.objects.get(key=a.scenario_key).definition.get("tools", [])
    ]
    assert searching and not any(a.tools.filter(builtin="knowledge_search").exists() for a in searching)
    demo_knowledge_load()
    assert all(a.knowledge_bases.exists() and a.tools.filter(builtin="knowledge_search").exists() for a in searching)


def test_demo_staff_find_a_finished_conversation_with_citations(login, db):
    from agents.demo import demo_conversations_load, demo_knowledge_load, demo_knowledge_ready
    from agents.knowledge.ingestion import document_ingest
    from agents.models import Conversation, Document
    from tenants.demo import demo_departments_load
    from tenants.models import User

    catalog_sync()
    demo_departments_load(password="Demo-Pass-2026")
    demo_agents_load()
    demo_knowledge_load()
    assert not demo_knowledge_ready()
    # Ingest the market bureau's own policies (what the worker does); leave the rest aside.
    own = Document.objects.filter(knowledge_base__department__code="demo-market")
    for document in own[:4]:
        document_ingest(document_id=document.pk)
    Document.objects.exclude(pk__in=[d.pk for d in own[:4]]).update(status=Document.Status.FAILED)
    assert demo_knowledge_ready()
    assert demo_conversations_load() >= 1
    assert demo_conversations_load() == 0, "loading again adds nothing"
    staff = User.objects.get(username="shijian_staff")
    conversation = Conversation.objects.get(user=staff)
    run = conversation.runs.get()
    assert run.status == "succeeded" and run.retrieved, "the answer cites the demo policies"
    client = login(staff)
    assert conversation.agent.name in client.get(reverse("chat:workspace")).content.decode()
    page = client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert "/workspace/passages/" in page and "未连接大语言模型" in page


def test_demo_agents_use_the_model_named_by_openai_variables(db, fake_openai):
    from agents.demo import demo_model_load
    from agents.models import AllowedHost

    catalog_sync()
    from tenants.demo import demo_departments_load

    demo_departments_load(password="Demo-Pass-2026")
    demo_agents_load()
    assert demo_model_load({}) is None
    endpoint = demo_model_load(
        {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "sk-demo", "OPENAI_MODEL": "fake-chat"}
    )
    assert endpoint.department is None and endpoint.api_key == "sk-demo"
    assert AllowedHost.objects.filter(pattern="127.0.0.1").exists()
    demo = Agent.objects.filter(department__code__in=["demo-emergency", "demo-market"]).exclude(scenario_key="")
    assert all(a.current_version.snapshot["model"]["endpoint_id"] == endpoint.pk for a in demo)
