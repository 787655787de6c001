"""Agents: immutable published versions, rollback, diffs, concurrent edits, validation and who may use them."""

import json

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse

from agents.builder.services import agent_publish, agent_version_restore
from agents.models import Agent, AgentVersion
from tenants.models import Membership
from tenants.roles import Role
from tests.agents.factories import make_agent, make_endpoint, make_template
from tests.agents.specs import AgentSpec
from tests.factories import make_user, sign_in


def change_url(agent):
    return reverse("admin:agents_agent_change", args=[agent.pk])


def edit(client, tenant, agent, **overrides):
    data = {**AgentSpec().form_data(tenant, agent), **overrides}
    return client.post(change_url(agent), data)


def test_publish_freezes_the_draft_and_editing_makes_a_new_draft(login, tenant_a, tenant_b):
    endpoint = make_endpoint(tenant_a.department)
    agent = make_agent(
        tenant_a.department, name="通知起草", endpoint=endpoint, model_name="fake-chat", assign_all_members=True
    )
    client = login(tenant_a.admin)
    assert client.post(reverse("admin:agents_agent_publish", args=[agent.pk]), {"note": "首次发布"}).status_code == 302
    agent.refresh_from_db()
    v1 = agent.current_version
    assert v1.number == 1 and v1.snapshot["name"] == "通知起草" and v1.note == "首次发布"
    assert v1.published_by == tenant_a.admin

    edited = edit(client, tenant_a, agent, name="通知起草（新）", endpoint=endpoint.pk, model_name="fake-chat")
    assert edited.status_code == 302
    agent.refresh_from_db()
    assert agent.name == "通知起草（新）"
    assert agent.current_version.snapshot["name"] == "通知起草", "staff keep the published version"
    page = client.get(change_url(agent)).content.decode()
    assert "草稿有未发布的修改" in page

    client.post(reverse("admin:agents_agent_publish", args=[agent.pk]))
    agent.refresh_from_db()
    assert agent.current_version.number == 2 and agent.current_version.snapshot["name"] == "通知起草（新）"

    # Publishing again without changes makes no new version and says why.
    again = client.post(reverse("admin:agents_agent_publish", args=[agent.pk]), follow=True)
    assert "没有需要发布的修改" in again.content.decode()
    assert agent.versions.count() == 2


def test_rollback_publishes_an_earlier_version_and_leaves_every_version_byte_identical(login, tenant_a, tenant_b):
    agent = make_agent(tenant_a.department, name="第一版")
    v1 = agent_publish(agent=agent, user=tenant_a.admin)
    Agent.objects.filter(pk=agent.pk).update(name="第二版")
    agent.template.body = "你是{{ org }}的新助手。请处理：{{ task }}"
    agent.template.save()
    v2 = agent_publish(agent=agent, user=tenant_a.admin)
    before = {v.pk: (v.snapshot_text, v.digest) for v in AgentVersion.objects.filter(agent=agent)}

    client = login(tenant_a.admin)
    response = client.post(reverse("admin:agents_agent_restore", args=[agent.pk, 1]))
    assert response.status_code == 302
    agent.refresh_from_db()
    v3 = agent.current_version
    assert v3.number == 3 and v3.restored_from == 1
    assert v3.snapshot_text == v1.snapshot_text and v3.digest == v1.digest
    after = {v.pk: (v.snapshot_text, v.digest) for v in AgentVersion.objects.filter(agent=agent, number__lte=2)}
    assert after == before
    assert v2.snapshot["name"] == "第二版"


def test_published_versions_cannot_be_changed_even_in_sql(tenant_a, tenant_b):
    version = agent_publish(agent=make_agent(tenant_a.department), user=tenant_a.admin)
    version.note = "改"
    with pytest.raises(Exception, match="不可修改"):
        version.save()
    with (
        pytest.raises(DatabaseError, match="published agent versions cannot be changed"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE agents_agentversion SET snapshot_text = '{}'")


def test_versions_page_and_diff_between_two_versions(login, tenant_a, tenant_b):
    agent = make_agent(tenant_a.department, name="答复起草")
    agent_publish(agent=agent, user=tenant_a.admin)
    agent.template.body = "你是{{ org }}的热线助手。请处理：{{ task }}"
    agent.template.save()
    Agent.objects.filter(pk=agent.pk).update(requires_review=True)
    agent_publish(agent=agent, user=tenant_a.admin)
    client = login(tenant_a.admin)
    page = client.get(reverse("admin:agents_agent_versions", args=[agent.pk])).content.decode()
    assert "v1" in page and "v2" in page and "恢复为此版本" in page
    diff = client.get(reverse("admin:agents_agent_diff", args=[agent.pk]), {"a": 1, "b": 2}).content.decode()
    assert "+你是{{ org }}的热线助手。请处理：{{ task }}" in diff
    assert "-你是{{ org }}的助手。请处理：{{ task }}" in diff
    assert '<th scope="row">需要人工审核</th>' in diff and "requires_review" not in diff


def test_the_second_of_two_concurrent_saves_is_told_and_nothing_is_overwritten(client, tenant_a, tenant_b):
    from django.test import Client

    agent = make_agent(tenant_a.department, name="原名")
    second_admin = make_user("second-admin")
    Membership.objects.create(user=second_admin, department=tenant_a.department, role=Role.ADMIN)
    first, second = Client(), Client()
    sign_in(first, tenant_a.admin)
    sign_in(second, second_admin)
    # Both open the form at the same revision...
    seen = Agent.objects.get(pk=agent.pk).revision
    assert edit(first, tenant_a, agent, name="甲的修改", seen_revision=seen).status_code == 302
    response = edit(second, tenant_a, agent, name="乙的修改", seen_revision=seen)
    assert response.status_code == 200
    assert "其他管理员已修改并保存了此智能体" in response.content.decode()
    assert Agent.objects.get(pk=agent.pk).name == "甲的修改"
    # ...and after reloading, the second admin can save.
    fresh = Agent.objects.get(pk=agent.pk)
    assert edit(second, tenant_a, fresh, name="乙的修改", seen_revision=fresh.revision).status_code == 302
    assert Agent.objects.get(pk=agent.pk).name == "乙的修改"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"output_mode": "structured", "output_schema": "null"}, "output_schema", "请填写 JSON Schema"),
        (
            {"output_mode": "structured", "output_schema": json.dumps({"type": "object", "required": "x"})},
            "output_schema",
            "JSON Schema 无效",
        ),
        ({"output_mode": "structured", "output_schema": json.dumps({"type": "array"})}, "output_schema", "object"),
        ({"output_mode": "chat", "output_schema": json.dumps({"type": "object"})}, "output_schema", "只有结构化输出"),
        ({"model_name": "gpt-x"}, "model_name", "未选择模型服务时不能填写模型名称"),
        ({"temperature": "3"}, "temperature", "2"),
    ],
)
def test_agent_validation_errors(login, tenant_a, tenant_b, overrides, field, message):
    agent = make_agent(tenant_a.department)
    response = edit(login(tenant_a.admin), tenant_a, agent, **overrides)
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors[field])


def test_model_name_must_be_one_the_endpoint_offers(login, tenant_a, tenant_b):
    agent = make_agent(tenant_a.department)
    endpoint = make_endpoint(tenant_a.department, models="deepseek-chat,deepseek-reasoner")
    client = login(tenant_a.admin)
    bad = edit(client, tenant_a, agent, endpoint=endpoint.pk, model_name="qwen-max")
    assert "deepseek-chat、deepseek-reasoner" in str(bad.context["adminform"].form.errors["model_name"])
    assert (
        edit(
            client, tenant_a, Agent.objects.get(pk=agent.pk), endpoint=endpoint.pk, model_name="deepseek-reasoner"
        ).status_code
        == 302
    )


def test_structured_agent_with_a_valid_schema_saves(login, tenant_a, tenant_b):
    agent = make_agent(tenant_a.department)
    schema = {"type": "object", "properties": {"category": {"type": "string"}}, "required": ["category"]}
    assert (
        edit(
            login(tenant_a.admin), tenant_a, agent, output_mode="structured", output_schema=json.dumps(schema)
        ).status_code
        == 302
    )
    assert Agent.objects.get(pk=agent.pk).output_schema == schema


def test_builder_pages_of_another_departments_agent_answer_404(login, tenant_a, tenant_b):
    other = make_agent(tenant_b.department)
    agent_publish(agent=other, user=tenant_b.admin)
    client = login(tenant_a.admin)
    assert client.post(reverse("admin:agents_agent_publish", args=[other.pk])).status_code == 404
    assert client.get(reverse("admin:agents_agent_versions", args=[other.pk])).status_code == 404
    assert client.get(reverse("admin:agents_agent_diff", args=[other.pk]), {"a": 1, "b": 1}).status_code == 404
    assert client.post(reverse("admin:agents_agent_restore", args=[other.pk, 1])).status_code == 404
    assert AgentVersion.objects.filter(agent=other).count() == 1


def published(department, **extra):
    agent = make_agent(department, **extra)
    agent_publish(agent=agent, user=None)
    return agent


def test_who_may_use_an_agent(tenant_a, tenant_b):
    everyone = published(tenant_a.department, assign_all_members=True)
    reviewers = published(tenant_a.department, assigned_roles=["reviewer"])
    named = published(tenant_a.department)
    named.assigned_users.add(tenant_a.staff)
    granted = published(tenant_b.department, assign_all_members=True)
    granted.granted_departments.add(tenant_a.department)
    not_granted = published(tenant_b.department, assign_all_members=True)
    draft = make_agent(tenant_a.department, assign_all_members=True)
    switched_off = published(tenant_a.department, assign_all_members=True, is_active=False)

    def usable(user):
        return set(Agent.objects.usable_by(user))

    assert usable(tenant_a.staff) == {everyone, named, granted}
    assert usable(tenant_a.reviewer) == {everyone, reviewers, granted}
    assert usable(tenant_b.staff) == {granted, not_granted}
    assert draft not in usable(tenant_a.admin) and switched_off not in usable(tenant_a.admin)


def test_granting_is_the_only_way_across_departments_and_lists_other_departments(login, tenant_a, tenant_b):
    agent = make_agent(tenant_a.department)
    client = login(tenant_a.admin)
    form = client.get(change_url(agent)).context["adminform"].form
    assert tenant_b.department in form.fields["granted_departments"].queryset
    assert all(
        u.memberships.filter(department=tenant_a.department).exists() for u in form.fields["assigned_users"].queryset
    )
    assert tenant_b.staff not in form.fields["assigned_users"].queryset
    response = edit(client, tenant_a, agent, assigned_users=[tenant_b.staff.pk])
    assert response.status_code == 200 and "assigned_users" in response.context["adminform"].form.errors


def test_deleting_an_agent_removes_its_versions(tenant_a, tenant_b):
    agent = make_agent(tenant_a.department)
    agent_publish(agent=agent, user=tenant_a.admin)
    agent_version_restore(version=agent.versions.get(), user=tenant_a.admin)
    agent.delete()
    assert not AgentVersion.objects.filter(agent_id=agent.pk).exists()


def test_template_in_use_cannot_be_deleted_silently(login, tenant_a, tenant_b):
    template = make_template(tenant_a.department)
    make_agent(tenant_a.department, template=template)
    response = login(tenant_a.admin).post(
        reverse("admin:agents_prompttemplate_delete", args=[template.pk]), {"post": "yes"}
    )
    assert response.status_code == 200  # Django lists the protected agents instead of deleting
    assert template.__class__.objects.filter(pk=template.pk).exists()
