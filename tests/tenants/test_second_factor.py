"""The second factor: roles that need it reach no page without it; setting it up, passing it, recovery, reset."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.models import AuditEntry, Membership
from tenants.roles import Role
from tests.factories import PASSWORD, give_second_factor, make_user, sign_in, totp_code

SETUP = "/accounts/2fa/setup/"
VERIFY = "/accounts/2fa/verify/"


def _sample(route: str) -> str:
    """A concrete path matching a URL pattern's text (route converters and the admin's two regexes)."""
    # Regex groups: the first alternative of a choice, else one character.
    route = re.sub(r"\(\?P<\w+>([^)]*)\)", lambda m: m.group(1).split("|")[0] if "|" in m.group(1) else "x", route)
    route = re.sub(r"<uuid:\w+>", str(uuid.uuid4()), route)
    route = re.sub(r"<(?:\w+:)?\w+>", "1", route)
    return "/" + route.replace("^", "").replace("$", "")


def every_page() -> list[str]:
    """One concrete address for every URL pattern of the platform."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield pattern, _sample(prefix + str(pattern.pattern))

    pages = []
    for pattern, path in walk(get_resolver().url_patterns):
        # The sample really is an address of that pattern (so no page escapes the check unseen).
        assert resolve(path).func == pattern.callback or str(pattern.pattern).endswith("(?P<url>.*)$"), path
        pages.append(path)
    return sorted(set(pages))


PAGES = every_page()
# What a signed-in person reaches before the second factor: signing in and out, the factor's own pages,
# the language switch, the health check and icon, and the APIs (API keys only, never a session).
OPEN = (
    "/accounts/login/",
    "/accounts/logout/",
    "/admin/logout/",
    "/accounts/2fa/",
    "/i18n/",
    "/healthz",
    "/favicon.ico",
)
API = ("/api/", "/v1/")


def test_the_enumeration_covers_admin_workspace_and_reports():
    assert len(PAGES) > 100
    for expected in (
        "/admin/",
        "/admin/agents/agent/1/change/",
        "/admin/tenants/auditentry/",
        "/workspace/",
        "/reports/",
    ):
        assert expected in PAGES


@pytest.fixture
def admins(tenant_a, tenant_b, platform_admin):
    return {
        "platform admin": platform_admin,
        "department admin": tenant_a.admin,
        "security admin": tenant_a.security,
        "audit admin": tenant_a.auditor,
    }


@pytest.mark.parametrize("who", ["platform admin", "department admin", "security admin", "audit admin"])
def test_no_page_of_an_admin_role_opens_before_the_second_factor(who, admins):
    client = Client()
    client.force_login(admins[who], backend="django.contrib.auth.backends.ModelBackend")
    opened = []
    for path in PAGES:
        if path.startswith(OPEN + API):
            continue
        for method in (client.get, client.post):
            response = method(path)
            if not (response.status_code == 302 and response["Location"].startswith(SETUP)):
                opened.append(f"{method.__name__.upper()} {path} → {response.status_code}")
    assert opened == []
    # And the same with an authenticator set up but not passed this session: sent to pass it.
    give_second_factor(admins[who])
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)


def test_staff_without_a_factor_are_not_asked(client, tenant_a, tenant_b):
    client.force_login(tenant_a.staff, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("chat:workspace")).status_code == 200


def test_anyone_who_set_up_a_factor_must_pass_it(client, tenant_a, tenant_b):
    give_second_factor(tenant_a.staff)
    client.force_login(tenant_a.staff, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("chat:workspace"))
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)


def test_switched_off_admins_enter_with_the_password(client, settings, tenant_a, tenant_b):
    settings.SHUZHI_2FA_REQUIRED = False
    client.force_login(tenant_a.admin, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/admin/").status_code == 200


def test_the_roles_are_configurable(client, settings, tenant_a, tenant_b):
    settings.SHUZHI_2FA_ROLES = ["platform_admin", "admin", "leader"]
    client.force_login(tenant_a.leader, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("reports:home"))
    assert response.status_code == 302 and response["Location"].startswith(SETUP)


def test_an_admin_sets_it_up_on_first_sign_in_and_gets_recovery_codes(client, settings, tenant_a, tenant_b):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the right code at once after a wrong one (see the throttling test)
    admin = tenant_a.admin
    response = client.post(reverse("login"), {"username": admin.username, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0].startswith(SETUP)
    page = response.content.decode()
    assert "<svg" in page and "<script>" not in page.split("</head>")[1]
    device = TOTPDevice.objects.get(user=admin, confirmed=False)
    secret = re.search(r"data-otp-secret>([A-Z2-7 ]+)<", page).group(1)
    assert secret.replace(" ", "") in _base32(device)

    wrong = client.post(SETUP, {"token": "000000" if totp_code(device) != "000000" else "111111"})
    assert wrong.status_code == 400 and "验证码不正确" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302

    done = client.post(SETUP, {"token": totp_code(device), "next": "/admin/"})
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", done.content.decode())
    assert len(codes) == 10
    assert client.get("/admin/").status_code == 200
    kinds = set(AuditEntry.objects.filter(object_id=str(admin.pk)).values_list("kind", flat=True))
    assert {AuditEntry.Kind.FACTOR_ENROLLED, AuditEntry.Kind.RECOVERY_CODES_ISSUED} <= kinds


def _base32(device) -> str:
    from base64 import b32encode

    return b32encode(device.bin_key).decode()


def test_sign_in_asks_for_the_code_and_returns_where_the_person_was_going(client, settings, tenant_a, tenant_b):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = give_second_factor(tenant_a.admin)
    client.post(reverse("login"), {"username": tenant_a.admin.username, "password": PASSWORD})
    response = client.get("/admin/agents/agent/")
    assert response["Location"].startswith(VERIFY)
    refused = client.post(VERIFY, {"token": "12345", "next": "/admin/agents/agent/"})
    assert refused.status_code == 400 and "不正确" in refused.content.decode()
    passed = client.post(VERIFY, {"token": totp_code(device), "next": "/admin/agents/agent/"})
    assert passed.status_code == 302 and passed["Location"] == "/admin/agents/agent/"
    assert client.get("/admin/agents/agent/").status_code == 200
    # A code that served once is not accepted again (another session trying the same code).
    other = Client()
    other.post(reverse("login"), {"username": tenant_a.admin.username, "password": PASSWORD})
    assert other.post(VERIFY, {"token": totp_code(device)}).status_code == 400


def test_after_wrong_codes_even_the_right_one_waits_and_the_page_says_how_long(client, tenant_a, tenant_b):
    device = give_second_factor(tenant_a.admin)
    client.force_login(tenant_a.admin, backend="django.contrib.auth.backends.ModelBackend")
    wrong = "000000" if totp_code(device) != "000000" else "111111"
    assert "不正确" in client.post(VERIFY, {"token": wrong}).content.decode()
    refused = client.post(VERIFY, {"token": totp_code(device)})
    assert refused.status_code == 400
    assert re.search(r"请在 \d+ 秒后再输入", refused.content.decode())
    assert client.get("/admin/").status_code == 302


def test_a_redirect_after_the_code_stays_on_the_platform(client, tenant_a, tenant_b):
    device = give_second_factor(tenant_a.admin)
    client.force_login(tenant_a.admin, backend="django.contrib.auth.backends.ModelBackend")
    passed = client.post(VERIFY, {"token": totp_code(device), "next": "https://evil.example/"})
    assert passed["Location"] == reverse("home")


def test_a_recovery_code_works_once_and_is_audited(client, tenant_a, tenant_b):
    from tenants.second_factor import recovery_codes_issue

    admin = tenant_a.admin
    give_second_factor(admin)
    codes = recovery_codes_issue(user=admin)
    client.post(reverse("login"), {"username": admin.username, "password": PASSWORD})
    assert client.post(VERIFY, {"token": codes[0].upper()}).status_code == 302
    assert client.get("/admin/").status_code == 200
    entry = AuditEntry.objects.get(kind=AuditEntry.Kind.RECOVERY_CODE_USED)
    assert entry.object_id == str(admin.pk) and entry.changes == {"left": 9}
    assert entry.department_id == tenant_a.department.pk

    again = Client()
    again.post(reverse("login"), {"username": admin.username, "password": PASSWORD})
    assert again.post(VERIFY, {"token": codes[0]}).status_code == 400
    assert again.get("/admin/").status_code == 302


def test_a_password_alone_never_replaces_the_factor(client, tenant_a, tenant_b):
    device = give_second_factor(tenant_a.staff)
    client.force_login(tenant_a.staff, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(SETUP)
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert client.post(reverse("second_factor:recovery_codes")).status_code == 302
    assert TOTPDevice.objects.filter(user=tenant_a.staff).get() == device


def test_a_department_admin_resets_a_members_factor_audited_but_not_another_departments(login, tenant_a, tenant_b):
    give_second_factor(tenant_a.staff)
    give_second_factor(tenant_b.staff)
    client = login(tenant_a.admin)
    changelist = reverse("admin:tenants_user_changelist")
    for user in (tenant_a.staff, tenant_b.staff):
        client.post(changelist, {"action": "reset_second_factor", "_selected_action": [user.pk]})
    assert not TOTPDevice.objects.filter(user=tenant_a.staff).exists()
    assert TOTPDevice.objects.filter(user=tenant_b.staff).exists()
    entry = AuditEntry.objects.get(kind=AuditEntry.Kind.FACTOR_RESET)
    assert (entry.actor_id, entry.object_id) == (tenant_a.admin.pk, str(tenant_a.staff.pk))
    # The reset person signs in with the password alone again (staff need no factor by default).
    staff = Client()
    staff.post(reverse("login"), {"username": tenant_a.staff.username, "password": PASSWORD})
    assert staff.get(reverse("chat:workspace")).status_code == 200


def test_a_reset_admin_must_set_it_up_again(login, platform_admin, tenant_a, tenant_b):
    give_second_factor(tenant_a.admin)
    login(platform_admin).post(
        reverse("admin:tenants_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [tenant_a.admin.pk]},
    )
    client = Client()
    client.post(reverse("login"), {"username": tenant_a.admin.username, "password": PASSWORD})
    assert client.get("/admin/")["Location"].startswith(SETUP)


def test_the_status_page_offers_new_recovery_codes_after_the_factor(tenant_a, tenant_b):
    client = sign_in(Client(), tenant_a.admin)
    page = client.get(reverse("second_factor:status")).content.decode()
    assert 'data-second-factor="on"' in page
    response = client.post(reverse("second_factor:recovery_codes"))
    assert len(re.findall(r"<code>[a-z0-9]{5}-[a-z0-9]{5}</code>", response.content.decode())) == 10


def test_an_admin_of_several_departments_needs_it_as_well(client, tenant_a, tenant_b):
    person = make_user("two-hats")
    Membership.objects.create(user=person, department=tenant_a.department, role=Role.STAFF)
    Membership.objects.create(user=person, department=tenant_b.department, role=Role.ADMIN)
    client.force_login(person, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("chat:workspace"))["Location"].startswith(SETUP)
