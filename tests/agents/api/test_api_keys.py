"""API keys: created in the admin with the secret shown once, hashed, scoped, revoked, and dead with their owner."""

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from tenants.api_keys import api_key_authenticate
from tenants.models import ApiKey, AuditEntry
from tenants.roles import Action
from tests.agents.factories import make_agent
from tests.agents.runtime.helpers import published_agent
from tests.factories import make_api_key


def _create_in_admin(client, tenant, agents, **extra):
    data = {
        "department": tenant.department.pk,
        "name": "12345 热线工单系统",
        "scopes": ["run"],
        "agents": [a.pk for a in agents],
        "expires_at_0": "",
        "expires_at_1": "",
        "requests_per_minute": "",
        "tokens_per_day": "",
        "tokens_per_month": "",
        **extra,
    }
    return client.post(reverse("admin:tenants_apikey_add"), data)


def test_the_secret_is_shown_once_and_only_its_hash_is_kept(tenant_a, tenant_b, login):
    agent = published_agent(tenant_a.department)
    client = login(tenant_a.admin)
    response = _create_in_admin(client, tenant_a, [agent])
    html = response.content.decode()
    assert response.status_code == 200 and "只显示这一次" in html
    assert "no-store" in response["Cache-Control"]
    secret = re.search(r'value="(sk-sz-[^"]+)"', html).group(1)
    key = ApiKey.objects.get()
    assert key.created_by == tenant_a.admin and key.department == tenant_a.department
    assert secret not in (key.key_hash, key.prefix) and secret.startswith(key.prefix)
    assert api_key_authenticate(secret=secret) == key
    # Nowhere else: not on the key's page, not in the audit log.
    page = client.get(reverse("admin:tenants_apikey_change", args=[key.pk])).content.decode()
    assert secret not in page and key.prefix in page
    assert not any(
        secret in str(entry.changes) or key.key_hash in str(entry.changes) for entry in AuditEntry.objects.all()
    )


def test_a_key_calls_only_its_own_or_granted_agents_that_are_listed_on_it(tenant_a, tenant_b, login):
    own = published_agent(tenant_a.department)
    unlisted = published_agent(tenant_a.department)
    granted = published_agent(tenant_b.department)
    granted.granted_departments.add(tenant_a.department)
    foreign = published_agent(tenant_b.department)
    client = login(tenant_a.admin)
    refused = _create_in_admin(client, tenant_a, [own, foreign])
    assert refused.status_code == 200 and "agents" in refused.context["adminform"].form.errors
    assert not ApiKey.objects.exists()
    assert _create_in_admin(client, tenant_a, [own, granted]).status_code == 200
    key = ApiKey.objects.get()
    assert set(Agent.objects.usable_by(key)) == {own, granted}
    assert unlisted not in Agent.objects.usable_by(key)


def test_scopes_decide_what_a_key_reaches(tenant_a, tenant_b):
    agent = published_agent(tenant_a.department)
    reader, _ = make_api_key(tenant_a.department, scopes=["reports"], agents=[agent])
    assert not Agent.objects.usable_by(reader).exists()
    assert reader.scope_department_ids(Action.REPORT) == {tenant_a.department.pk}
    assert reader.scope_department_ids(Action.MANAGE) == frozenset()
    runner, _ = make_api_key(tenant_a.department, scopes=["run"], agents=[agent])
    assert list(Agent.objects.usable_by(runner)) == [agent]
    assert runner.scope_department_ids(Action.REPORT) == frozenset()


def test_revoking_stops_a_key_at_once(tenant_a, tenant_b, login):
    key, secret = make_api_key(tenant_a.department, agents=[make_agent(tenant_a.department)])
    client = login(tenant_a.admin)
    response = client.post(reverse("admin:tenants_apikey_change", args=[key.pk]), {"_revoke": "1"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at and key.revoked_by == tenant_a.admin
    assert api_key_authenticate(secret=secret) is None
    listing = client.get(reverse("admin:tenants_apikey_changelist")).content.decode()
    assert "已吊销" in listing


def test_revoke_action_and_no_deleting(tenant_a, tenant_b, login):
    key, secret = make_api_key(tenant_a.department)
    other, other_secret = make_api_key(tenant_b.department)
    client = login(tenant_a.admin)
    client.post(
        reverse("admin:tenants_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk, other.pk]},
    )
    assert api_key_authenticate(secret=secret) is None
    assert api_key_authenticate(secret=other_secret) == other, "another department's key is out of reach"
    assert client.post(reverse("admin:tenants_apikey_delete", args=[key.pk]), {"post": "yes"}).status_code == 403


def test_a_key_dies_with_its_creator_its_department_or_its_expiry(tenant_a, tenant_b):
    key, secret = make_api_key(tenant_a.department)
    assert api_key_authenticate(secret=secret) == key
    key.created_by.is_active = False
    key.created_by.save()
    assert api_key_authenticate(secret=secret) is None
    key.created_by.is_active = True
    key.created_by.save()
    tenant_a.department.is_active = False
    tenant_a.department.save()
    assert api_key_authenticate(secret=secret) is None
    tenant_a.department.is_active = True
    tenant_a.department.save()
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_key_authenticate(secret=secret) is None
    assert api_key_authenticate(secret="sk-sz-" + "x" * 43) is None
    assert api_key_authenticate(secret="") is None


def test_last_use_is_recorded_and_shown(tenant_a, tenant_b, login):
    key, secret = make_api_key(tenant_a.department)
    assert key.last_used_at is None
    api_key_authenticate(secret=secret)
    key.refresh_from_db()
    assert key.last_used_at is not None
    html = login(tenant_a.admin).get(reverse("admin:tenants_apikey_changelist")).content.decode()
    assert key.name in html and "有效" in html
