"""Each role lands on its own page after login, and sees only what its role covers."""

import pytest
from django.urls import reverse

from tenants.models import Membership
from tenants.roles import Role
from tenants.second_factor import needs_verification
from tests.factories import PASSWORD, give_second_factor, make_tenant, make_user, totp_code


def sign_in(client, user):
    """Sign in through the form; an admin then types the authenticator's code, as on the page."""
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, "login failed"
    if needs_verification(user=user):
        device = give_second_factor(user)
        landing = client.get(response["Location"])
        assert landing["Location"].startswith(reverse("second_factor:verify"))
        response = client.post(landing["Location"], {"token": totp_code(device), "next": response["Location"]})
        assert response.status_code == 302, "second factor refused"
    return client.get(response["Location"])


@pytest.mark.parametrize(
    ("role", "landing"),
    [("staff", "chat:workspace"), ("reviewer", "chat:review"), ("leader", "reports:home"), ("admin", "admin:index")],
)
def test_each_role_lands_on_its_own_home_page(client, tenant_a, tenant_b, role, landing):
    response = sign_in(client, tenant_a.users[role])
    assert response.status_code == 302
    assert response["Location"] == reverse(landing)
    page = client.get(response["Location"])
    assert page.status_code == 200


def test_platform_admin_lands_in_the_admin_and_reaches_every_page(client, platform_admin, tenant_a, tenant_b):
    assert sign_in(client, platform_admin)["Location"] == reverse("admin:index")
    for name in (
        "admin:index",
        "chat:workspace",
        "chat:review",
        "reports:home",
        "admin:tenants_department_changelist",
        "admin:tenants_user_changelist",
        "admin:tenants_auditentry_changelist",
        "admin:axes_accessattempt_changelist",
    ):
        assert client.get(reverse(name)).status_code == 200, name


def test_user_without_any_role_is_told_so(client, db):
    user = make_user("nobody")
    response = sign_in(client, user)
    assert response.status_code == 200
    assert "尚未分配角色" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "forbidden"),
    [("staff", ["chat:review", "reports:home"]), ("reviewer", ["reports:home"]), ("leader", ["chat:review"])],
)
def test_roles_cannot_open_other_roles_pages(login, tenant_a, tenant_b, role, forbidden):
    client = login(tenant_a.users[role])
    for name in forbidden:
        assert client.get(reverse(name)).status_code == 403, name


def test_anonymous_visitors_are_sent_to_login(client, db):
    for name in ("home", "chat:workspace", "chat:review", "reports:home"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", ["staff", "reviewer", "leader"])
def test_non_admin_roles_are_refused_by_the_admin_login(client, tenant_a, tenant_b, role):
    user = tenant_a.users[role]
    response = client.post(reverse("admin:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    assert "没有管理后台权限" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302


def test_leader_reports_cover_their_department_and_every_one_below(login, district, tenant_a, tenant_b):
    district_leader = make_user("district-leader")
    Membership.objects.create(user=district_leader, department=district, role=Role.LEADER)
    html = login(district_leader).get(reverse("reports:home")).content.decode()
    assert all(name in html for name in ("示范区", "甲局", "乙局"))

    html = login(tenant_a.leader).get(reverse("reports:home")).content.decode()
    assert "甲局" in html and "乙局" not in html


def test_nested_departments_are_covered_at_any_depth(login, tenant_a, tenant_b):
    office = make_tenant("甲局办公室", parent=tenant_a.department)
    html = login(tenant_a.leader).get(reverse("reports:home")).content.decode()
    assert office.department.name in html and "乙局" not in html


def test_a_deactivated_department_grants_nothing(login, tenant_a, tenant_b):
    tenant_a.department.is_active = False
    tenant_a.department.save()
    client = login(tenant_a.staff)
    assert client.get(reverse("chat:workspace")).status_code == 403
    assert client.get(reverse("admin:index")).status_code == 302
