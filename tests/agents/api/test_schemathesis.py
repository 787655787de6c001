"""Schemathesis against the OpenAPI schema: generated requests, valid and invalid, to every operation of both
APIs, through the project's ASGI application with a working key. No answer may be a server error, and every
answer must be one the schema documents (status code, content type, headers, body).

Each operation gets a bounded number of examples (``EXAMPLES``) of valid and of invalid input; operations
naming an object get them once with generated ids and once with the ids of real objects of the key (one
of every kind declared in tests/agents/api/isolation.py), so successful answers are checked too.
"""

from __future__ import annotations

import os
import re

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agents.models import Agent
from config.asgi import application
from tests.agents.api.isolation import SPECS
from tests.factories import bearer, make_api_key

EXAMPLES = int(os.environ.get("SHUZHI_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _real_path_parameters(tenant, key, paths: list[str]) -> dict[str, dict]:
    """Path parameters naming real objects the key reaches, by operation path: one object of every kind the
    isolation specs declare (so a new resource with a spec is exercised with real ids too), read back from
    the URLs the specs build."""
    urls, agents = [], []
    for spec_class in SPECS:
        spec = spec_class()
        obj = spec.create(tenant, key)
        urls += [spec.detail_url(obj), *spec.related_urls(obj), *(url for _m, url, _kw in spec.related_writes(obj))]
        if isinstance(obj, Agent):
            agents.append(obj)
    urls += [f"/v1/models/{agent.identifier}" for agent in agents]
    found = {}
    for path in paths:
        pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
        for url in urls:
            match = pattern.match(url)
            if match:
                found[path] = {k: int(v) if v.isdigit() else v for k, v in match.groupdict().items()}
                break
    return found


def test_generated_requests_get_no_server_error_and_answers_that_match_the_schema(tenant_a, celery_worker):
    # celery_worker: uploaded documents are ingested by a real worker, not queued on the development broker.
    key, secret = make_api_key(tenant_a.department, scopes=("run", "knowledge", "reports"))
    headers = {"Authorization": bearer(secret)["HTTP_AUTHORIZATION"]}
    schema = schemathesis.openapi.from_asgi("/api/v1/schema/?format=json", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12, [op.label for op in operations]
    real = _real_path_parameters(tenant_a, key, [op.path for op in operations])
    assert {"/api/v1/runs/{id}/", "/api/v1/documents/{id}/", "/api/v1/agents/{identifier}/"} <= set(real)
    failures = []
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        variants = [None]
        if operation.path in real:
            variants.append(real[operation.path])
        for path_parameters in variants:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
                try:
                    _fuzz(strategy, headers, statuses.setdefault(operation.label, set()))
                except Exception as exc:  # every operation's findings in one report
                    where = "real ids" if path_parameters else "generated ids"
                    failures.append(f"{operation.label} ({mode.value} data, {where}):\n{exc}")
    assert not failures, "\n\n".join(failures)
    # Not only refusals: every read of a list, or of an object the key has, answered successfully at least once.
    never_succeeded = [
        operation.label
        for operation in operations
        if operation.method.upper() == "GET"
        and ("{" not in operation.path or operation.path in real)
        and not any(200 <= status < 300 for status in statuses[operation.label])
    ]
    assert not never_succeeded, never_succeeded


def _fuzz(strategy, headers: dict, statuses: set[int]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case):
        statuses.add(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    call()
