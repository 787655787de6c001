"""Every configuration change is recorded with who, when, where and before/after values."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse

from tenants import audit
from tenants.models import AuditEntry, Membership
from tenants.roles import Role
from tests.factories import make_user


def entries_for(obj):
    return AuditEntry.objects.filter(model=obj._meta.label, object_id=str(obj.pk)).order_by("id")


def test_admin_create_update_delete_are_audited_with_before_and_after(login, tenant_a, tenant_b):
    client = login(tenant_a.admin)
    newcomer = make_user("newcomer")
    Membership.objects.create(user=newcomer, department=tenant_a.department, role=Role.STAFF)

    response = client.post(
        reverse("admin:tenants_membership_add"),
        {"user": newcomer.pk, "department": tenant_a.department.pk, "role": Role.REVIEWER},
        HTTP_X_REQUEST_ID="req-create-000001",
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=newcomer, role=Role.REVIEWER)
    created = entries_for(membership).get()
    assert created.kind == "create"
    assert created.actor == tenant_a.admin and created.actor_name == tenant_a.admin.username
    assert created.department == tenant_a.department
    assert created.changes["role"] == [None, "reviewer"]
    assert created.request_id == "req-create-000001" == response["X-Request-ID"]
    assert created.via == "admin"

    client.post(
        reverse("admin:tenants_membership_change", args=[membership.pk]),
        {"user": newcomer.pk, "department": tenant_a.department.pk, "role": Role.LEADER},
    )
    updated = entries_for(membership).filter(kind="update").get()
    assert updated.changes == {"role": ["reviewer", "leader"]}

    client.post(reverse("admin:tenants_membership_delete", args=[membership.pk]), {"post": "yes"})
    deleted = entries_for(membership).filter(kind="delete").get()
    assert deleted.changes["role"] == ["leader", None]
    assert deleted.object_repr.startswith("newcomer")


def test_saving_without_changes_writes_no_entry(tenant_a, tenant_b):
    membership = Membership.objects.filter(department=tenant_a.department).first()
    count = AuditEntry.objects.count()
    membership.save()
    assert AuditEntry.objects.count() == count


def test_password_values_never_reach_the_log(tenant_a, tenant_b):
    user = tenant_a.staff
    user.set_password("Another-Secret-99")
    user.save()
    entry = entries_for(user).filter(kind="update").get()
    before, after = entry.changes["password"]
    assert before != after and before.startswith("••••••") and after.startswith("••••••")
    assert "Another-Secret-99" not in str(entry.changes)
    assert "md5$" not in str(entry.changes) and "pbkdf2" not in str(entry.changes)


def test_entries_cannot_be_changed_or_deleted_by_the_application(tenant_a, tenant_b):
    entry = AuditEntry.objects.filter(department=tenant_a.department).first()
    entry.object_repr = "tampered"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()


@pytest.mark.parametrize("sql", ["UPDATE tenants_auditentry SET object_repr = 'x'", "DELETE FROM tenants_auditentry"])
def test_entries_cannot_be_changed_or_deleted_even_in_sql(tenant_a, tenant_b, sql):
    assert AuditEntry.objects.exists()
    denied = pytest.raises(DatabaseError, match="audit log entries cannot be changed or deleted")
    with denied, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


def test_admins_see_their_departments_entries_and_platform_admins_all(login, tenant_a, tenant_b, platform_admin):
    mine = login(tenant_a.admin).get(reverse("admin:tenants_auditentry_changelist")).context["cl"]
    departments = {e.department_id for e in mine.queryset}
    assert departments == {tenant_a.department.pk}
    everything = login(platform_admin).get(reverse("admin:tenants_auditentry_changelist")).context["cl"]
    assert {tenant_a.department.pk, tenant_b.department.pk} <= {e.department_id for e in everything.queryset}


def test_not_even_a_platform_admin_can_edit_the_log_in_the_admin(login, tenant_a, tenant_b, platform_admin):
    client = login(platform_admin)
    entry = AuditEntry.objects.first()
    assert client.get(reverse("admin:tenants_auditentry_add")).status_code == 403
    change = reverse("admin:tenants_auditentry_change", args=[entry.pk])
    assert client.post(change, {"object_repr": "x"}).status_code == 403
    assert client.post(reverse("admin:tenants_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).object_repr == entry.object_repr


def test_entries_outlive_the_objects_people_and_departments_they_name(login, tenant_a, tenant_b):
    client = login(tenant_a.admin)
    client.post(
        reverse("admin:tenants_membership_add"),
        {"user": tenant_a.staff.pk, "department": tenant_a.department.pk, "role": Role.REVIEWER},
    )
    membership = Membership.objects.get(user=tenant_a.staff, role=Role.REVIEWER)
    pk = membership.pk
    membership.delete()
    tenant_a.admin.delete()
    entries = AuditEntry.objects.filter(model="tenants.Membership", object_id=str(pk))
    assert {e.kind for e in entries} == {"create", "delete"}
    assert entries.get(kind="create").actor_name == f"{tenant_a.department.code}-admin"


def test_queryset_updates_are_audited_per_row_with_before_and_after(tenant_a, tenant_b):
    from agents.models import SensitiveWordList

    lists = [
        SensitiveWordList.objects.create(department=tenant.department, name=f"词表{tenant.department.code}", words="甲")
        for tenant in (tenant_a, tenant_b)
    ]
    ids = [w.pk for w in lists]
    with audit.context(actor=tenant_a.admin, via="task"):
        assert SensitiveWordList.objects.filter(pk__in=ids).update(words="甲\n乙") == 2
        SensitiveWordList.objects.filter(pk__in=ids).update(words="甲\n乙")  # no change: no entry
    for words in lists:
        entry = entries_for(words).filter(kind="update").get()
        assert entry.department_id == words.department_id
        assert entry.actor == tenant_a.admin and entry.via == "task"
        assert entry.changes == {"words": ["甲", "甲\n乙"]}


def test_bulk_created_and_bulk_updated_configuration_is_audited(tenant_a, tenant_b):
    from agents.models import SensitiveWordList

    with audit.context(actor=tenant_b.admin):
        created = SensitiveWordList.objects.bulk_create(
            [SensitiveWordList(department=tenant_b.department, name=f"批量词表{n}", words="甲") for n in range(3)]
        )
        for words in created:
            words.action = "block"
        SensitiveWordList.objects.bulk_update(created, ["action"])
    for words in created:
        assert [e.kind for e in entries_for(words)] == ["create", "update"]
        assert entries_for(words).last().changes == {"action": [words._meta.get_field("action").default, "block"]}
        assert {e.department_id for e in entries_for(words)} == {tenant_b.department.pk}


def test_the_demo_pointing_its_agents_at_a_model_is_audited(tenant_a, tenant_b):
    from agents.demo import demo_agents_load, demo_model_load
    from agents.models import Agent
    from tenants.demo import demo_departments_load

    demo_departments_load(password="Demo-Password-1")
    demo_agents_load()
    endpoint = demo_model_load({"OPENAI_BASE_URL": "http://10.1.2.3:8000/v1", "OPENAI_MODEL": "qwen"})
    agent = Agent.objects.filter(department__code="demo-market").exclude(scenario_key="").first()
    entry = entries_for(agent).filter(kind="update", changes__has_key="endpoint").get()
    assert entry.changes["endpoint"] == [None, endpoint.pk] and entry.changes["model_name"][1] == "qwen"
    assert entry.via == "demo" and entry.department_id == agent.department_id


def test_a_delete_that_clears_references_records_the_cleared_references(tenant_a, tenant_b):
    from tests.agents.factories import make_document, make_knowledge_base

    kb = make_knowledge_base(tenant_a.department)
    old = make_document(kb, title="旧办法")
    new = make_document(kb, title="新办法", text="第一条 新的规定。", replaces=old)
    old_pk = old.pk
    with audit.context(actor=tenant_a.admin):
        old.delete()
    entry = entries_for(new).filter(kind="update").get()
    assert entry.changes == {"replaces": [old_pk, None]} and entry.actor == tenant_a.admin
