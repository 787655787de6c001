"""Repeated failed logins lock the account for a while, with a clear message."""

from django.urls import reverse

from tests.factories import PASSWORD


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, settings, tenant_a, tenant_b):
    user = tenant_a.staff
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(reverse("login"), {"username": user.username, "password": "wrong-password"})
        assert response.status_code == 200
        assert "用户名或密码不正确" in response.content.decode()
    locked = client.post(reverse("login"), {"username": user.username, "password": "wrong-password"})
    assert locked.status_code == 429
    assert "账号已暂时锁定" in locked.content.decode()
    again = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lock_on_one_account_leaves_other_accounts_alone(client, settings, tenant_a, tenant_b):
    settings.AXES_LOCKOUT_PARAMETERS = ["username"]
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": tenant_a.staff.username, "password": "wrong-password"})
    ok = client.post(reverse("login"), {"username": tenant_b.staff.username, "password": PASSWORD})
    assert ok.status_code == 302


def test_the_admin_login_is_protected_too(client, settings, tenant_a, tenant_b):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("admin:login"), {"username": tenant_a.admin.username, "password": "wrong-password"})
    response = client.post(reverse("admin:login"), {"username": tenant_a.admin.username, "password": PASSWORD})
    assert response.status_code == 429
