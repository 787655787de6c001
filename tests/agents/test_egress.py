"""The egress guard: only registered model endpoints and allow-listed hosts are reachable."""

import logging

import pytest

from agents.egress import EgressDenied, check_url, host_matches
from agents.llm.gateway import endpoint_test_connection
from agents.models import AllowedHost
from tests.agents.factories import make_endpoint


@pytest.mark.parametrize(
    ("host", "pattern", "allowed"),
    [
        ("api.gov.example", "api.gov.example", True),
        ("API.gov.example.", "api.gov.example", True),
        ("x.api.gov.example", "api.gov.example", False),
        ("a.gov.example", "*.gov.example", True),
        ("a.b.gov.example", "*.gov.example", True),
        ("gov.example", "*.gov.example", False),
        ("evilgov.example", "*.gov.example", False),
    ],
)
def test_host_patterns(host, pattern, allowed):
    assert host_matches(host, pattern) is allowed


def test_tools_reach_only_allow_listed_hosts_and_models_only_registered_ones(tenant_a, tenant_b):
    AllowedHost.objects.create(pattern="*.gov.example")
    assert check_url("https://data.gov.example/x", purpose="tool") == "data.gov.example"
    with pytest.raises(EgressDenied, match="不在出网白名单中"):
        check_url("http://10.0.0.8:8000/v1", purpose="tool")
    make_endpoint(tenant_a.department, base_url="http://10.0.0.8:8000/v1")
    assert check_url("http://10.0.0.8:8000/v1/chat/completions", purpose="model") == "10.0.0.8"
    with pytest.raises(EgressDenied):
        check_url("http://10.0.0.8:8000/v1", purpose="tool")
    with pytest.raises(EgressDenied, match="http 或 https"):
        check_url("file:///etc/passwd", purpose="model")


def test_secrets_stay_out_of_the_logs(tenant_a, tenant_b, fake_openai, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "sk-should-never-be-logged-42"
    fake_openai.api_key = "another"
    endpoint = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, api_key=secret)
    result = endpoint_test_connection(endpoint=endpoint)
    assert not result.ok
    assert secret not in caplog.text and secret not in result.message
