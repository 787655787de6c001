"""Department isolation of every REST API object, generated from the declarations in isolation.py."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from tests.agents.api.isolation import ApiSpec, load_specs
from tests.factories import bearer, make_api_key

SPECS = load_specs()


def ids_listed(client, url: str, secret: str) -> list:
    response = client.get(url, **bearer(secret))
    assert response.status_code == 200, (url, response.content)
    return [row["id"] for row in response.json()["results"]]


def assert_not_found(response, url: str) -> None:
    assert response.status_code == 404, (url, response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["type"] == "not_found_error", (url, error)


def row_counts() -> dict[str, int]:
    """Rows of every model of the project's apps: a refused write leaves them all as they were."""
    return {
        model._meta.label: model._default_manager.count()
        for app in ("agents", "tenants")
        for model in apps.get_app_config(app).get_models()
    }


@pytest.fixture(params=SPECS, ids=lambda spec: spec.__name__)
def spec(request) -> ApiSpec:
    return request.param()


@pytest.fixture
def owned(spec, tenant_a):
    """(object, secret of the key of A that reaches it)."""
    key, secret = make_api_key(tenant_a.department, scopes=spec.scopes)
    return spec.create(tenant_a, key), secret


def test_the_key_of_its_department_lists_and_opens_it(spec, owned, tenant_a, client):
    obj, secret = owned
    assert spec.identity(obj) in ids_listed(client, spec.list_url(tenant_a, obj), secret)
    for url in [spec.detail_url(obj), *spec.related_urls(obj)]:
        response = client.get(url, **bearer(secret))
        assert response.status_code == 200, (url, response.content[:300])


def test_a_key_of_another_department_gets_404_and_does_not_list_it(spec, owned, tenant_b, client):
    obj, _secret = owned
    key_b, secret_b = make_api_key(tenant_b.department, scopes=spec.scopes)
    spec.expose(key_b, obj)
    assert spec.identity(obj) not in ids_listed(client, spec.list_url(tenant_b, obj), secret_b)
    for url in [spec.detail_url(obj), *spec.related_urls(obj)]:
        assert_not_found(client.get(url, **bearer(secret_b)), url)
    for method, url, kwargs in spec.related_writes(obj):
        before = row_counts()
        assert_not_found(getattr(client, method)(url, **kwargs, **bearer(secret_b)), url)
        assert row_counts() == before, url


@pytest.mark.parametrize("spec_class", [s for s in SPECS if s.key_owned], ids=lambda spec: spec.__name__)
def test_another_key_of_the_same_department_gets_404_for_what_a_key_owns(spec_class, tenant_a, client):
    spec = spec_class()
    owner, _secret = make_api_key(tenant_a.department, scopes=spec.scopes)
    obj = spec.create(tenant_a, owner)
    other, secret = make_api_key(tenant_a.department, scopes=spec.scopes)
    spec.expose(other, obj)
    assert spec.identity(obj) not in ids_listed(client, spec.list_url(tenant_a, obj), secret)
    for url in [spec.detail_url(obj), *spec.related_urls(obj)]:
        assert_not_found(client.get(url, **bearer(secret)), url)


def _routes(patterns, prefix: str = "") -> list[tuple[str, str | None]]:
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found.extend(_routes(pattern.url_patterns, route))
        elif isinstance(pattern, URLPattern):
            found.append((route, pattern.name))
    return found


def test_every_api_route_naming_an_object_has_an_isolation_spec():
    covered = {route for spec in SPECS for route in spec.routes}
    missing = [
        f"  {name or '(unnamed)'}: /{route}"
        for route, name in _routes(get_resolver().url_patterns)
        if route.startswith("api/v1/") and "<" in route and name not in covered
    ]
    assert not missing, (
        "These /api/v1/ routes take a URL parameter but no ApiSpec in tests/agents/api/isolation.py covers "
        "them (add one with @api_spec, listing the route name in `routes`):\n" + "\n".join(missing)
    )
