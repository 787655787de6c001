"""Two web processes on one PostgreSQL behave as one platform.

Two uvicorn processes of the platform (each the run command's server, the served default settings, its own
connection pool) serve the same test database on two loopback ports; one browser's cookies and one
integrator's key go to either, as behind a load balancer. Each shared limit is proven through real HTTP:

- login lockout: failed sign-ins split across the two lock the account on both (axes' database handler);
- an API key's per-minute quota counts the calls of both processes together, and so does its token quota
  (``tenants/quotas.py``: counters in PostgreSQL);
- a session made on one works on the other, and signing out on the other ends it on both (database sessions);
- the cache: the platform's only use of Django's cache is the model list a service offers
  (``agents/builder/model_choices.py``, the default per-process memory cache, kept five minutes). Its key
  includes the service's address and key, and the names offered come from the registered models in the
  database, so an admin's change to a model service is offered at once by every process: proven below;
- an endpoint's concurrency limit (PostgreSQL advisory locks) is proven across processes in
  ``tests/agents/llm/test_limits_and_async.py`` (``test_the_endpoints_limit_holds_across_processes`` and the
  batch worker beside it), not repeated here;
- the one beat scheduler: there is no lock in the platform; one beat is enforced by the deployment (compose
  runs one ``beat`` service, Kubernetes ``platform/kubernetes/beat.yaml`` one replica with the ``Recreate``
  strategy, so a rollout never runs two), checked by ``tests/deployment/test_manifests.py``. Most of its
  tasks are safe to send twice (pruning rate windows, re-queuing interrupted work nobody holds, failing
  stuck work, recomputing usage), but the weekly summaries and the expiry warnings keep no record of a
  mail sent: a second beat would mail every leader and admin twice. Hence the deployment's singleton;
- one session per person (``SHUZHI_SINGLE_SESSION``) and the second factor's used codes hold across the
  two as well: a sign-in on one ends the session on the other, a code used on one is refused on the other.
"""

from __future__ import annotations

import json
from itertools import cycle

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from django.urls import reverse

from tenants.models import RateWindow
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.config.served import Served
from tests.factories import PASSWORD, give_second_factor, make_api_key, sign_in, totp_code
from tests.fakes.openai_server import Reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def pair(django_db_setup, django_db_blocker, tmp_path_factory):
    """Two web processes of the platform (one uvicorn worker each) on this test database.

    Each has a folder of its own, as on two hosts; like them, they are given the deployment's secret key
    and encryption salt (and the login failure limit this test counts against, and one session per person; this process's, so that what a test stores, sessions and encrypted keys, reads there).
    """
    shared = {
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "SHUZHI_ENCRYPTION_SALT": settings.SALT_KEY,
        "SHUZHI_LOGIN_FAILURE_LIMIT": str(settings.AXES_FAILURE_LIMIT),
        "SHUZHI_SINGLE_SESSION": "1",
    }
    folder = tmp_path_factory.mktemp("two-web")
    servers = []
    with django_db_blocker.unblock():
        try:
            for name in ("a", "b"):
                (folder / name).mkdir()
                servers.append(Served(folder / name / "web.log", workers=1, env=shared))
            yield servers
        finally:
            for server in servers:
                server.stop()


def url(server: Served, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


@pytest.fixture
def browser():
    """One browser: its cookies (for host 127.0.0.1, whatever the port) go to both processes."""
    with httpx.Client(timeout=60, follow_redirects=False) as client:
        yield client


def served_password(user) -> None:
    """The suite hashes passwords with MD5 for speed; the served settings check them with PBKDF2."""
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])


def sign_in_form(browser: httpx.Client, server: Served, username: str, password: str) -> httpx.Response:
    login = url(server, reverse("login"))
    assert browser.get(login).status_code == 200
    token = browser.cookies["csrftoken"]
    return browser.post(
        login,
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": login},
    )


def test_failed_sign_ins_split_across_the_processes_lock_the_account_on_both(pair, browser, tenant_a):
    a, b = pair
    user = tenant_a.staff
    served_password(user)
    limit = settings.AXES_FAILURE_LIMIT
    servers = cycle(pair)
    for _ in range(limit - 1):
        answer = sign_in_form(browser, next(servers), user.username, "wrong-password")
        assert answer.status_code == 200 and "用户名或密码不正确" in answer.text
    # Each process has seen fewer failures than the limit; together they reach it.
    locked = sign_in_form(browser, next(servers), user.username, "wrong-password")
    assert locked.status_code == 429 and "账号已暂时锁定" in locked.text
    for server in (a, b):
        again = sign_in_form(browser, server, user.username, PASSWORD)
        assert again.status_code == 429 and "账号已暂时锁定" in again.text
        assert browser.get(url(server, "/workspace/")).status_code == 302, "nobody is signed in"


def test_a_session_made_on_one_process_works_on_the_other_and_signing_out_there_ends_it_on_both(
    pair, browser, tenant_a
):
    a, b = pair
    served_password(tenant_a.staff)
    signed_in = sign_in_form(browser, a, tenant_a.staff.username, PASSWORD)
    assert signed_in.status_code == 302, signed_in.text[-3000:]
    for server in (b, a):
        page = browser.get(url(server, "/workspace/"))
        assert page.status_code == 200 and "工作台" in page.text
    out = browser.post(
        url(b, reverse("logout")),
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": url(b, "/workspace/")},
    )
    assert out.status_code == 302
    for server in (a, b):
        gone = browser.get(url(server, "/workspace/"))
        assert gone.status_code == 302 and reverse("login") in gone.headers["location"]


def test_one_session_per_person_a_sign_in_on_one_process_ends_the_session_on_the_other(pair, tenant_a):
    a, b = pair
    served_password(tenant_a.staff)
    with httpx.Client(timeout=60) as office, httpx.Client(timeout=60) as home:
        assert sign_in_form(office, a, tenant_a.staff.username, PASSWORD).status_code == 302
        assert office.get(url(a, "/workspace/")).status_code == 200
        assert sign_in_form(home, b, tenant_a.staff.username, PASSWORD).status_code == 302
        for server in (a, b):
            assert office.get(url(server, "/workspace/")).status_code == 302, "the earlier session has ended"
            assert home.get(url(server, "/workspace/")).status_code == 200


def test_a_second_factor_code_used_on_one_process_is_refused_on_the_other(pair, tenant_a):
    a, b = pair
    admin = tenant_a.admin
    served_password(admin)
    device = give_second_factor(admin)
    verify = "/accounts/2fa/verify/"
    with httpx.Client(timeout=60) as first, httpx.Client(timeout=60) as second:
        assert sign_in_form(first, a, admin.username, PASSWORD).status_code == 302
        code = totp_code(device)
        passed = first.post(url(a, verify), data={"token": code, "csrfmiddlewaretoken": first.cookies["csrftoken"]})
        assert passed.status_code == 302 and verify not in passed.headers["location"], passed.text[-2000:]
        assert first.get(url(a, "/admin/")).status_code == 200
        # Someone else with the password, on the other process, tries the code seen over the admin's shoulder.
        assert sign_in_form(second, b, admin.username, PASSWORD).status_code == 302
        replayed = second.post(url(b, verify), data={"token": code, "csrfmiddlewaretoken": second.cookies["csrftoken"]})
        assert replayed.status_code == 400 and "不正确" in replayed.text
        assert second.get(url(b, "/admin/")).status_code == 302, "the second session has not passed the factor"


def ask(server: Served, secret: str, model: str, text: str) -> httpx.Response:
    return httpx.post(
        url(server, "/v1/chat/completions"),
        headers={"Authorization": f"Bearer {secret}"},
        json={"model": model, "messages": [{"role": "user", "content": text}]},
        timeout=60,
    )


def test_a_keys_per_minute_quota_counts_the_calls_of_both_processes_together(pair, tenant_a, tenant_b, fake_openai):
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    # Calls that happen to straddle a minute's end are counted in two minutes: then try again with a new key.
    for _attempt in range(3):
        key, secret = make_api_key(tenant_a.department, agents=[agent], requests_per_minute=3)
        servers = cycle(pair)
        answers = [ask(next(servers), secret, agent.identifier, f"第{n}次") for n in range(1, 5)]
        if RateWindow.objects.filter(subject=f"k:{key.pk}").count() == 1:
            break
    else:
        pytest.fail("every attempt straddled a minute's end")
    # Two processes counting apart would each have allowed 3 (6 in all); together they allow 3.
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429], [a.text for a in answers]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 61


def test_a_keys_token_quota_spent_on_one_process_holds_on_the_other(pair, tenant_a, tenant_b, fake_openai):
    a, b = pair
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    _key, secret = make_api_key(tenant_a.department, agents=[agent], tokens_per_day=100)
    fake_openai.script(Reply(text="好的。", usage={"prompt_tokens": 90, "completion_tokens": 20}))
    assert ask(a, secret, agent.identifier, "一").status_code == 200
    refused = ask(b, secret, agent.identifier, "二")
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "insufficient_quota"
    assert len(fake_openai.chat_requests) == 1, "the refused call never reached the model service"


def test_a_change_to_a_model_service_is_seen_at_once_by_both_processes(pair, tenant_a, tenant_b, fake_openai):
    """What each process keeps of a model service (its model list, its HTTP client) follows the admin's edit."""
    a, b = pair
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    endpoint.model_names = "fake-chat,fake-new"
    endpoint.save()
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    _key, secret = make_api_key(tenant_a.department, agents=[agent])
    admin = Client()
    sign_in(admin, tenant_a.admin)
    cookies = {"sessionid": admin.cookies["sessionid"].value}
    path = reverse("admin:agents_agent_models") + f"?endpoint={endpoint.pk}"

    def offered(server: Served) -> dict:
        answer = httpx.get(url(server, path), cookies=cookies, timeout=60)
        assert answer.status_code == 200, answer.text[:500]
        return json.loads(answer.text)

    for server in (a, b):  # each process now keeps the service's list, and a client for it
        first = offered(server)
        assert first["names"] == ["fake-chat"] and "fake-new" in first["note"]
        assert ask(server, secret, agent.identifier, "你好").status_code == 200
    # The service now offers the new model and demands a new key; the admin enters it (saved as the
    # endpoint's admin form saves it, in the database both processes read).
    fake_openai.models = ["fake-chat", "fake-new"]
    fake_openai.api_key = "sk-new"
    endpoint.api_key = "sk-new"
    endpoint.save()
    for server in (b, a):
        assert offered(server) == {"names": ["fake-chat", "fake-new"], "note": ""}
        answer = ask(server, secret, agent.identifier, "再问")
        assert answer.status_code == 200, answer.text
    assert [r["headers"].get("authorization") for r in fake_openai.chat_requests[-2:]] == ["Bearer sk-new"] * 2
    # The names offered are the registered ones, read from the database by every process.
    endpoint.model_names = "fake-new"
    endpoint.save()
    for server in (b, a):
        assert offered(server)["names"] == ["fake-new"]
