"""Sessions and passwords as the assessors check them: idle and absolute limits, one session per person,
the password policy, the first-login change, the last sign-in shown, failed sign-ins in the audit log.

Time passing is the session's own clock moved back (what a person away from the desk leaves behind);
no test waits for it or measures it.
"""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tenants.models import AuditEntry, Membership, User
from tenants.roles import Role
from tenants.sign_ins import SEEN_AT, SIGNED_IN_AT
from tests.factories import PASSWORD, make_user, sign_in

NEW_PASSWORD = "Quiet-River-2026"


def form_sign_in(client, user, password=PASSWORD, address="10.1.2.3"):
    return client.post(reverse("login"), {"username": user.username, "password": password}, REMOTE_ADDR=address)


def move_session_clock(client, *, key, seconds_ago):
    session = client.session
    session[key] = session[key] - seconds_ago if key in session else None
    session.save()


def page_text(response) -> str:
    return response.content.decode()


# ----------------------------------------------------------------------------------------- sessions


def test_an_idle_session_is_signed_out_with_a_message_and_audited(client, settings, tenant_a, tenant_b):
    settings.SHUZHI_IDLE_MINUTES = 30
    form_sign_in(client, tenant_a.staff)
    assert client.get(reverse("chat:workspace")).status_code == 200
    move_session_clock(client, key=SEEN_AT, seconds_ago=31 * 60)
    response = client.get(reverse("chat:workspace"), follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("login"))
    assert "长时间未操作" in page_text(response)
    assert client.get(reverse("chat:workspace")).status_code == 302  # signed out, not only redirected once
    entry = AuditEntry.objects.filter(kind=AuditEntry.Kind.SIGN_OUT).get()
    assert entry.object_id == str(tenant_a.staff.pk) and entry.changes == {"reason": "idle"}


def test_activity_keeps_the_session_and_the_status_check_does_not(client, settings, tenant_a, tenant_b):
    settings.SHUZHI_IDLE_MINUTES = 30
    form_sign_in(client, tenant_a.staff)
    move_session_clock(client, key=SEEN_AT, seconds_ago=29 * 60)
    status = client.get(reverse("session_status")).json()
    assert status["signed_in"] and 0 < status["idle_left"] <= 60
    # Asking does not count as activity; a page does.
    assert client.get(reverse("session_status")).json()["idle_left"] <= 60
    assert client.get(reverse("chat:workspace")).status_code == 200
    assert client.get(reverse("session_status")).json()["idle_left"] > 29 * 60


def test_staying_from_the_warning_restarts_the_idle_time(client, settings, tenant_a, tenant_b):
    settings.SHUZHI_IDLE_MINUTES = 30
    form_sign_in(client, tenant_a.staff)
    move_session_clock(client, key=SEEN_AT, seconds_ago=29 * 60)
    stayed = client.post(reverse("session_status")).json()
    assert stayed["idle_left"] > 29 * 60
    move_session_clock(client, key=SEEN_AT, seconds_ago=31 * 60)
    gone = client.get(reverse("session_status"))
    assert gone.json() == {"signed_in": False}
    assert client.get(reverse("chat:workspace")).status_code == 302


def test_a_session_ends_after_its_lifetime_whatever_the_activity(client, settings, tenant_a, tenant_b):
    settings.SESSION_COOKIE_AGE = 8 * 3600
    form_sign_in(client, tenant_a.staff)
    move_session_clock(client, key=SIGNED_IN_AT, seconds_ago=8 * 3600 + 1)
    response = client.get(reverse("chat:workspace"), follow=True)
    assert "登录已超过 8 小时" in page_text(response)
    assert AuditEntry.objects.get(kind=AuditEntry.Kind.SIGN_OUT).changes == {"reason": "lifetime"}


def test_every_page_carries_the_idle_warning_without_inline_script(login, settings, tenant_a, tenant_b):
    settings.SHUZHI_IDLE_MINUTES = 30
    settings.SHUZHI_IDLE_WARNING_SECONDS = 90
    for user, url in ((tenant_a.staff, reverse("chat:workspace")), (tenant_a.admin, reverse("admin:index"))):
        html = page_text(login(user).get(url))
        assert 'data-idle-seconds="1800"' in html and 'data-warning-seconds="90"' in html
        assert "js/idle.js" in html
        assert "<script>" not in html


def test_one_session_per_person_ends_the_older_one(settings, tenant_a, tenant_b):
    settings.SHUZHI_SINGLE_SESSION = True
    first, second = Client(), Client()
    form_sign_in(first, tenant_a.staff, address="10.1.2.3")
    form_sign_in(second, tenant_a.staff, address="10.9.9.9")
    assert second.get(reverse("chat:workspace")).status_code == 200
    assert first.get(reverse("chat:workspace")).status_code == 302
    entry = AuditEntry.objects.get(kind=AuditEntry.Kind.SESSION_ENDED)
    assert entry.changes == {"reason": "new_sign_in", "count": 1}
    # Someone else's sessions are untouched.
    other = Client()
    form_sign_in(other, tenant_b.staff)
    assert second.get(reverse("chat:workspace")).status_code == 200


def test_several_sessions_are_allowed_unless_configured(settings, tenant_a, tenant_b):
    settings.SHUZHI_SINGLE_SESSION = False
    first, second = Client(), Client()
    form_sign_in(first, tenant_a.staff)
    form_sign_in(second, tenant_a.staff)
    assert first.get(reverse("chat:workspace")).status_code == 200
    assert second.get(reverse("chat:workspace")).status_code == 200


# ------------------------------------------------------------------------------------ sign-in record


def test_after_sign_in_the_last_time_and_address_are_shown_with_failures_since(client, tenant_a, tenant_b):
    first = form_sign_in(client, tenant_a.staff, address="10.1.2.3")
    assert "第一次登录" in page_text(client.get(first["Location"], follow=True))
    client.post(reverse("logout"))
    Client().post(reverse("login"), {"username": tenant_a.staff.username, "password": "wrong"}, REMOTE_ADDR="10.6.6.6")
    again = form_sign_in(client, tenant_a.staff, address="10.4.4.4")
    html = page_text(client.get(again["Location"], follow=True))
    assert "上次登录：" in html and "地址 10.1.2.3" in html
    assert "此后有 1 次失败的登录尝试" in html


def test_failed_sign_ins_are_in_the_audit_log_with_name_and_address(client, tenant_a, tenant_b):
    client.post(reverse("login"), {"username": tenant_a.staff.username, "password": "wrong"}, REMOTE_ADDR="10.6.6.6")
    client.post(reverse("login"), {"username": "no-such-person", "password": "wrong"}, REMOTE_ADDR="10.6.6.7")
    failed = AuditEntry.objects.filter(kind=AuditEntry.Kind.SIGN_IN_FAILED).order_by("id")
    assert [(e.object_repr, e.changes["address"]) for e in failed] == [
        (tenant_a.staff.username, "10.6.6.6"),
        ("no-such-person", "10.6.6.7"),
    ]
    assert failed[0].department_id == tenant_a.department.pk  # the department's admins read it
    assert failed[1].object_id == "" and failed[1].department_id is None
    form_sign_in(client, tenant_a.staff)
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.SIGN_IN, object_id=str(tenant_a.staff.pk)).exists()


def test_a_department_admin_reads_their_members_failed_sign_ins_only(login, tenant_a, tenant_b):
    for user in (tenant_a.staff, tenant_b.staff):
        Client().post(reverse("login"), {"username": user.username, "password": "wrong"})
    html = page_text(
        login(tenant_a.admin).get(reverse("admin:tenants_auditentry_changelist"), {"kind": "sign_in_failed"})
    )
    assert tenant_a.staff.username in html and tenant_b.staff.username not in html


# ------------------------------------------------------------------------------------------ passwords


def change_password(client, old, new, **extra):
    return client.post(
        reverse("password_change"), {"old_password": old, "new_password1": new, "new_password2": new, **extra}
    )


def test_the_password_policy_refuses_too_few_character_classes_with_a_clear_message(client, tenant_a, tenant_b):
    sign_in(client, tenant_a.staff)
    refused = change_password(client, PASSWORD, "onlylowercaseletters")
    assert refused.status_code == 200 and "至少要包含以下 3 类字符" in page_text(refused)
    assert User.objects.get(pk=tenant_a.staff.pk).check_password(PASSWORD)
    assert change_password(client, PASSWORD, NEW_PASSWORD).status_code == 302
    assert User.objects.get(pk=tenant_a.staff.pk).check_password(NEW_PASSWORD)


def test_the_last_passwords_cannot_be_chosen_again(client, settings, tenant_a, tenant_b):
    settings.SHUZHI_PASSWORD_HISTORY = 3
    sign_in(client, tenant_a.staff)
    assert change_password(client, PASSWORD, NEW_PASSWORD).status_code == 302
    back = change_password(client, NEW_PASSWORD, PASSWORD)
    assert "不能使用最近 3 次用过的密码" in page_text(back)
    assert change_password(client, NEW_PASSWORD, NEW_PASSWORD).status_code == 200  # the current one neither
    assert change_password(client, NEW_PASSWORD, "Third-Lantern-77").status_code == 302
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.PASSWORD_CHANGED).count() == 2


def test_an_expired_password_is_changed_before_anything_else(client, settings, tenant_a, tenant_b):
    settings.SHUZHI_PASSWORD_MAX_DAYS = 90
    User.objects.filter(pk=tenant_a.staff.pk).update(password_changed_at=timezone.now() - timedelta(days=91))
    sign_in(client, tenant_a.staff)
    response = client.get(reverse("chat:workspace"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("password_change"))
    assert "已超过 90 天未修改" in page_text(response)
    done = change_password(client, PASSWORD, NEW_PASSWORD, next=reverse("chat:workspace"))
    assert done["Location"] == reverse("chat:workspace")
    assert client.get(reverse("chat:workspace")).status_code == 200


def test_a_password_near_expiry_is_announced_at_sign_in(client, settings, tenant_a, tenant_b):
    settings.SHUZHI_PASSWORD_MAX_DAYS = 90
    User.objects.filter(pk=tenant_a.staff.pk).update(password_changed_at=timezone.now() - timedelta(days=85))
    landing = form_sign_in(client, tenant_a.staff)
    assert "天内过期" in page_text(client.get(landing["Location"], follow=True))


def test_expiry_switched_off_never_asks(client, settings, tenant_a, tenant_b):
    settings.SHUZHI_PASSWORD_MAX_DAYS = 0
    User.objects.filter(pk=tenant_a.staff.pk).update(password_changed_at=timezone.now() - timedelta(days=900))
    sign_in(client, tenant_a.staff)
    assert client.get(reverse("chat:workspace")).status_code == 200


def test_an_account_an_admin_created_changes_its_password_at_first_sign_in(login, tenant_a, tenant_b):
    admin = login(tenant_a.admin)
    admin.post(
        reverse("admin:tenants_user_add"),
        {
            "username": "new-clerk",
            "password1": "Given-By-Admin-1",
            "password2": "Given-By-Admin-1",
            "usable_password": "true",
            "department": tenant_a.department.pk,
            "role": Role.STAFF,
        },
    )
    clerk = User.objects.get(username="new-clerk")
    assert clerk.must_change_password
    person = Client()
    form_sign_in(person, clerk, password="Given-By-Admin-1")
    response = person.get(reverse("chat:workspace"), follow=True)
    assert "管理员为您设置的密码" in page_text(response)
    assert person.get(reverse("reports:home"))["Location"].startswith(reverse("password_change"))
    assert change_password(person, "Given-By-Admin-1", NEW_PASSWORD).status_code == 302
    assert person.get(reverse("chat:workspace")).status_code == 200
    assert not User.objects.get(pk=clerk.pk).must_change_password


def test_a_password_an_admin_sets_for_someone_is_changed_at_their_next_sign_in(login, tenant_a, tenant_b):
    member = make_user("member-x")
    Membership.objects.create(user=member, department=tenant_a.department, role=Role.STAFF)
    admin = login(tenant_a.admin)
    response = admin.post(
        reverse("admin:auth_user_password_change", args=[member.pk]),
        {"password1": "Reset-By-Admin-9", "password2": "Reset-By-Admin-9", "usable_password": "true"},
    )
    assert response.status_code == 302
    assert User.objects.get(pk=member.pk).must_change_password


def test_the_first_login_change_can_be_switched_off(client, settings, tenant_a, tenant_b):
    settings.SHUZHI_PASSWORD_CHANGE_FIRST_LOGIN = False
    User.objects.filter(pk=tenant_a.staff.pk).update(must_change_password=True)
    sign_in(client, tenant_a.staff)
    assert client.get(reverse("chat:workspace")).status_code == 200
