import pytest

from tests.factories import make_department, make_tenant, make_user


@pytest.fixture
def district(db):
    return make_department("示范区")


@pytest.fixture
def tenant_a(district):
    return make_tenant("甲局", parent=district)


@pytest.fixture
def tenant_b(district):
    return make_tenant("乙局", parent=district)


@pytest.fixture
def platform_admin(db):
    return make_user("root", is_superuser=True, is_staff=True)


@pytest.fixture
def login(client):
    """Log a user in (bypassing the login form) and return the client."""

    def _login(user):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login


@pytest.fixture(scope="session")
def _fake_openai_server():
    from tests.fakes.openai_server import FakeOpenAI

    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(_fake_openai_server):
    """The loopback OpenAI-compatible server, reset for each test."""
    _fake_openai_server.reset()
    return _fake_openai_server
