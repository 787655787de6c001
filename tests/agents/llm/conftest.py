import pytest

from agents.models import AllowedHost
from tests.agents.factories import make_endpoint


@pytest.fixture
def loopback_allowed(db):
    # The egress guard must let the gateway reach the loopback fake (harmless if already allowed).
    AllowedHost.objects.get_or_create(pattern="127.0.0.1")


@pytest.fixture
def endpoint(tenant_a, tenant_b, fake_openai, loopback_allowed):
    """A chat endpoint of department A served by the loopback fake."""
    return make_endpoint(tenant_a.department, base_url=fake_openai.base_url, models="fake-chat,fake-backup")
