"""Generic department-isolation tests for every department-owned model in the admin.

See tests/isolation.py for how a model declares itself.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.urls import reverse

from tenants.roles import Action
from tenants.scoping import department_id_of, is_department_owned, is_shared
from tests.isolation import load_specs

SPECS = load_specs()


def _ids(specs):
    return [s.model._meta.label for s in specs]


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def specs_where(**flags):
    chosen = [s for s in SPECS if all(getattr(s, k) == v for k, v in flags.items())]
    return pytest.mark.parametrize("spec", [s() for s in chosen], ids=_ids(chosen))


all_specs = specs_where()


def test_every_department_owned_admin_model_declares_a_spec():
    registered = {m for m in admin.site._registry if is_department_owned(m)}
    declared = {s.model for s in SPECS}
    assert registered, "no department-owned model is registered in the admin"
    assert registered - declared == set(), "declare an AdminSpec in a tests/**/specs.py for these"


@pytest.fixture
def objects(tenant_a, tenant_b):
    def make(spec):
        return spec.create(tenant_a), spec.create(tenant_b)

    return make


@all_specs
def test_list_shows_own_objects_only(spec, objects, tenant_a, login):
    own, other = objects(spec)
    html = login(tenant_a.admin).get(url(spec.model, "changelist")).content.decode()
    assert spec.label(own) in html
    assert spec.label(other) not in html


@all_specs
def test_search_does_not_find_other_departments_objects(spec, objects, tenant_a, login):
    own, other = objects(spec)
    client = login(tenant_a.admin)
    found = client.get(url(spec.model, "changelist"), {"q": spec.label(own)}).context["cl"].result_list
    assert own.pk in {o.pk for o in found}
    response = client.get(url(spec.model, "changelist"), {"q": spec.label(other)})
    assert response.status_code == 200
    assert other.pk not in {o.pk for o in response.context["cl"].result_list}


@all_specs
def test_open_own_object_but_other_departments_answers_404(spec, objects, tenant_a, login):
    own, other = objects(spec)
    client = login(tenant_a.admin)
    assert client.get(url(spec.model, "change", own.pk)).status_code == 200
    assert client.get(url(spec.model, "change", other.pk)).status_code == 404
    assert client.get(url(spec.model, "history", other.pk)).status_code == 404


@all_specs
def test_change_or_delete_other_departments_object_answers_404(spec, objects, tenant_a, login):
    _own, other = objects(spec)
    client = login(tenant_a.admin)
    before = spec.model._base_manager.get(pk=other.pk)
    assert client.post(url(spec.model, "change", other.pk), spec.form_data(tenant_a, other)).status_code == 404
    assert client.get(url(spec.model, "delete", other.pk)).status_code == 404
    assert client.post(url(spec.model, "delete", other.pk), {"post": "yes"}).status_code == 404
    after = spec.model._base_manager.get(pk=other.pk)
    assert spec.label(after) == spec.label(before)
    assert department_id_of(after) == department_id_of(before)


@all_specs
def test_bulk_delete_action_cannot_reach_other_departments_objects(spec, objects, tenant_a, login):
    _own, other = objects(spec)
    client = login(tenant_a.admin)
    client.post(
        url(spec.model, "changelist"),
        {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"},
    )
    assert spec.model._base_manager.filter(pk=other.pk).exists()


@specs_where(can_change=True)
def test_change_own_object_and_refuse_moving_it_to_another_department(spec, objects, tenant_a, tenant_b, login):
    own, _other = objects(spec)
    client = login(tenant_a.admin)
    moved = client.post(url(spec.model, "change", own.pk), spec.form_data(tenant_b, own))
    if spec.movable:
        assert moved.status_code == 200, "moving into another department must be a form error"
        assert moved.context["adminform"].form.errors
    assert department_id_of(spec.model._base_manager.get(pk=own.pk)) == tenant_a.department.pk
    saved = client.post(url(spec.model, "change", own.pk), spec.form_data(tenant_a, own))
    assert saved.status_code == 302, getattr(saved, "context", None) and saved.context["adminform"].form.errors


@specs_where(can_add=True)
def test_add_offers_only_own_departments_choices_and_refuses_others(spec, objects, tenant_a, tenant_b, login):
    objects(spec)
    client = login(tenant_a.admin)
    form = client.get(url(spec.model, "add")).context["adminform"].form
    checked = 0
    for name, field in form.fields.items():
        queryset = getattr(field, "queryset", None)
        if queryset is None or not is_department_owned(queryset.model):
            continue
        if name in spec.cross_department_fields:
            continue
        everything = queryset.model._default_manager.all()
        assert any(department_id_of(o) == tenant_b.department.pk for o in everything), (
            f"{name}: department B must have a choice for this test to mean anything"
        )
        # Own rows, and platform-wide rows (no department) where the model has them.
        assert all(department_id_of(o) in (tenant_a.department.pk, None) for o in queryset), name
        assert all(department_id_of(o) is not None or is_shared(o) for o in queryset), name
        checked += 1
    assert checked, "the add form has no department-owned choice to check"
    count = spec.model._base_manager.count()
    response = client.post(url(spec.model, "add"), spec.form_data(tenant_b))
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert spec.model._base_manager.count() == count
    created = client.post(url(spec.model, "add"), spec.form_data(tenant_a))
    assert created.status_code == (200 if spec.add_renders_result else 302)
    assert spec.model._base_manager.count() == count + 1


@specs_where(can_add=False)
def test_add_is_refused_when_the_department_admin_may_not_add(spec, tenant_a, login):
    assert login(tenant_a.admin).get(url(spec.model, "add")).status_code == 403


@specs_where(can_change=False)
def test_own_object_is_read_only_when_the_department_admin_may_not_change(spec, objects, tenant_a, login):
    own, _other = objects(spec)
    client = login(tenant_a.admin)
    before = spec.label(spec.model._base_manager.get(pk=own.pk))
    assert client.post(url(spec.model, "change", own.pk), spec.form_data(tenant_a, own)).status_code == 403
    assert spec.label(spec.model._base_manager.get(pk=own.pk)) == before


@specs_where(can_delete=True)
def test_delete_own_object(spec, objects, tenant_a, login):
    own, _other = objects(spec)
    response = login(tenant_a.admin).post(url(spec.model, "delete", own.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not spec.model._base_manager.filter(pk=own.pk).exists()


@specs_where(can_delete=False)
def test_delete_refused_when_the_department_admin_may_not_delete(spec, objects, tenant_a, login):
    own, _other = objects(spec)
    assert login(tenant_a.admin).post(url(spec.model, "delete", own.pk), {"post": "yes"}).status_code == 403
    assert spec.model._base_manager.filter(pk=own.pk).exists()


@all_specs
def test_platform_admin_sees_and_opens_every_departments_objects(spec, objects, platform_admin, login):
    own, other = objects(spec)
    client = login(platform_admin)
    html = client.get(url(spec.model, "changelist")).content.decode()
    assert spec.label(own) in html and spec.label(other) in html
    assert client.get(url(spec.model, "change", other.pk)).status_code == 200


@all_specs
@pytest.mark.parametrize("role", ["staff", "reviewer", "leader"])
def test_non_admin_roles_cannot_reach_configuration_pages(spec, role, objects, tenant_a, login):
    own, _other = objects(spec)
    client = login(tenant_a.users[role])
    for page in (url(spec.model, "changelist"), url(spec.model, "change", own.pk)):
        response = client.get(page)
        assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def _related_through(obj, path: str):
    for name in path.split("__"):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


@all_specs
def test_list_filters_name_no_other_departments_objects(spec, objects, tenant_a, login):
    own, other = objects(spec)
    model_admin = admin.site._registry[spec.model]
    paths = [name for name in model_admin.list_filter if isinstance(name, str)]
    html = login(tenant_a.admin).get(url(spec.model, "changelist")).content.decode()
    for path in paths:
        try:
            field = spec.model._meta.get_field(path.split("__")[0])
        except FieldDoesNotExist:  # a filter on something that is not a field
            continue
        if not field.is_relation or field.many_to_many:
            continue
        theirs, ours = _related_through(other, path), _related_through(own, path)
        if theirs is None or theirs == ours or is_shared(theirs):
            continue
        assert f">{theirs}<" not in html, (path, str(theirs))


# ------------------------------------------------------------------ separated duties (三员分立)
# The security admin manages people and roles, the audit admin reads the audit log: each reaches the
# models whose admin is scoped to their duty, in their own department only, and none of the others.
DUTIES = {"security": Action.ACCOUNTS, "auditor": Action.AUDIT}


def _scope_action(spec) -> str:
    return getattr(admin.site._registry[spec.model], "scope_action", Action.MANAGE)


@all_specs
@pytest.mark.parametrize("role", sorted(DUTIES))
def test_separated_duties_reach_their_duty_in_their_department_and_no_business_data(
    spec, role, objects, tenant_a, login
):
    own, other = objects(spec)
    client = login(tenant_a.users[role])
    if _scope_action(spec) == DUTIES[role]:
        html = client.get(url(spec.model, "changelist")).content.decode()
        assert spec.label(own) in html and spec.label(other) not in html
        assert client.get(url(spec.model, "change", own.pk)).status_code == 200
        assert client.get(url(spec.model, "change", other.pk)).status_code == 404
        return
    for page in (url(spec.model, "changelist"), url(spec.model, "change", own.pk)):
        response = client.get(page)
        assert response.status_code in (403, 404), page
        assert spec.label(own) not in response.content.decode()
    before = spec.model._base_manager.filter(pk=own.pk).count()
    client.post(url(spec.model, "delete", own.pk), {"post": "yes"})
    assert spec.model._base_manager.filter(pk=own.pk).count() == before


def test_every_duty_has_a_model_to_look_after():
    scoped = {_scope_action(s()) for s in SPECS}
    assert set(DUTIES.values()) <= scoped


@pytest.mark.parametrize("role", sorted(DUTIES))
def test_separated_duties_never_reach_the_workspace_or_reports(role, tenant_a, tenant_b, login):
    client = login(tenant_a.users[role])
    for name in ("chat:workspace", "chat:review", "reports:home"):
        assert client.get(reverse(name)).status_code in (302, 403), name
    assert client.get(reverse("home"))["Location"] == reverse("admin:index")


def test_the_security_admin_manages_their_departments_people_only(tenant_a, tenant_b, login):
    client = login(tenant_a.security)
    html = client.get(reverse("admin:tenants_user_changelist")).content.decode()
    assert tenant_a.staff.username in html and tenant_b.staff.username not in html
    assert client.get(reverse("admin:tenants_user_change", args=[tenant_a.staff.pk])).status_code == 200
    assert client.get(reverse("admin:tenants_user_change", args=[tenant_b.staff.pk])).status_code == 404


def test_the_audit_admin_reads_but_changes_nothing(tenant_a, tenant_b, login):
    client = login(tenant_a.auditor)
    assert client.get(reverse("admin:tenants_user_changelist")).status_code == 403
    assert client.get(reverse("admin:tenants_membership_add")).status_code == 403
    assert client.get(reverse("admin:tenants_auditentry_add")).status_code == 403


def test_not_even_the_platform_admin_deletes_an_audit_entry(tenant_a, tenant_b, platform_admin, login):
    from tenants.models import AuditEntry

    entry = AuditEntry.objects.create(department=tenant_a.department, kind="update", model="x", object_id="1")
    client = login(platform_admin)
    assert client.post(url(AuditEntry, "delete", entry.pk), {"post": "yes"}).status_code == 403
    client.post(
        url(AuditEntry, "changelist"), {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
