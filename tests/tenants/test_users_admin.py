"""Department admins manage the people of their own department, and only them."""

from django.urls import reverse

from tenants.models import Membership, User
from tenants.roles import Role
from tests.factories import make_user

PW = "Long-Enough-Pass-2026"


def add_user(client, department, role="staff", username="new-clerk"):
    return client.post(
        reverse("admin:tenants_user_add"),
        {
            "username": username,
            "display_name": "新同事",
            "email": "",
            "password1": PW,
            "password2": PW,
            "usable_password": "true",
            "department": department.pk,
            "role": role,
        },
    )


def test_department_admin_creates_a_user_directly_in_their_department(login, tenant_a, tenant_b):
    response = add_user(login(tenant_a.admin), tenant_a.department)
    assert response.status_code == 302
    user = User.objects.get(username="new-clerk")
    assert list(user.memberships.values_list("department", "role")) == [(tenant_a.department.pk, Role.STAFF)]
    assert not user.is_superuser and user.check_password(PW)


def test_department_admin_cannot_create_a_user_in_another_department(login, tenant_a, tenant_b):
    response = add_user(login(tenant_a.admin), tenant_b.department)
    assert response.status_code == 200 and "department" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="new-clerk").exists()


def test_user_list_holds_only_members_of_the_admins_departments(login, tenant_a, tenant_b):
    result = login(tenant_a.admin).get(reverse("admin:tenants_user_changelist")).context["cl"].queryset
    assert set(result) == set(tenant_a.users.values())
    assert login(tenant_a.admin).get(reverse("admin:tenants_user_change", args=[tenant_b.staff.pk])).status_code == 404


def test_department_admin_cannot_make_anyone_a_platform_admin(login, tenant_a, tenant_b):
    client = login(tenant_a.admin)
    page = client.get(reverse("admin:tenants_user_change", args=[tenant_a.staff.pk]))
    assert "is_superuser" not in page.context["adminform"].form.fields
    client.post(
        reverse("admin:tenants_user_change", args=[tenant_a.staff.pk]),
        {
            "username": tenant_a.staff.username,
            "is_active": "on",
            "is_superuser": "on",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    tenant_a.staff.refresh_from_db()
    assert not tenant_a.staff.is_superuser


def test_a_user_shared_with_another_department_is_edited_by_platform_admins(login, tenant_a, tenant_b, platform_admin):
    shared = make_user("shared-clerk")
    Membership.objects.create(user=shared, department=tenant_a.department, role=Role.STAFF)
    Membership.objects.create(user=shared, department=tenant_b.department, role=Role.STAFF)
    url = reverse("admin:tenants_user_change", args=[shared.pk])
    client = login(tenant_a.admin)
    assert client.get(url).status_code == 200  # visible, read-only
    assert client.post(url, {"username": "renamed"}).status_code == 403
    password_url = reverse("admin:auth_user_password_change", args=[shared.pk])
    assert client.get(password_url).status_code == 403
    shared.refresh_from_db()
    assert shared.username == "shared-clerk"
    assert login(platform_admin).get(password_url).status_code == 200


def test_memberships_inline_shows_only_the_admins_departments(login, tenant_a, tenant_b, platform_admin):
    shared = make_user("two-hats")
    Membership.objects.create(user=shared, department=tenant_b.department, role=Role.LEADER)
    Membership.objects.create(user=shared, department=tenant_a.department, role=Role.STAFF)
    page = login(tenant_a.admin).get(reverse("admin:tenants_user_change", args=[shared.pk]))
    inline = page.context["inline_admin_formsets"][0].formset
    assert {f.instance.department_id for f in inline.forms} == {tenant_a.department.pk}
