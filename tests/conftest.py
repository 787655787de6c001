import pytest

from tests.factories import make_department, make_tenant, make_user, sign_in


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
    """Log a user in (bypassing the login form, past the second factor when it is needed) and return the client."""

    def _login(user):
        return sign_in(client, user)

    return _login


@pytest.fixture(scope="session")
def _fake_openai_server():
    from tests.fakes.openai_server import FakeOpenAI

    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(_fake_openai_server, db):
    """The loopback OpenAI-compatible server, reset for each test.

    Loopback is refused by the egress guard unless a platform admin lists it, so the test lists it.
    """
    from agents.models import AllowedHost

    AllowedHost.objects.get_or_create(pattern="127.0.0.1", defaults={"note": "测试用的本机模型服务"})
    _fake_openai_server.reset()
    return _fake_openai_server


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (in this process, on an in-memory broker of its own) consuming tasks."""
    from celery.contrib.testing import tasks  # noqa: F401  (registers celery.ping, the no-op below)
    from celery.contrib.testing.worker import start_worker

    from config.celery import app
    from tests.celery_workers import celery_connections_forget

    # A connection pool made earlier in this process (a test that queued work without a worker) still points
    # at the broker of that time: forget it, or the tasks this worker waits for are sent elsewhere.
    celery_connections_forget(app)
    app.conf.update(
        broker_url="memory://", broker_transport_options={"polling_interval": 0.05}, task_always_eager=False
    )
    with start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30
    ):
        yield app
        # The worker notices a shutdown between two polls of the broker, and polls once more after noticing;
        # each poll of an empty queue waits 2 s. Flag it, then wake both polls with a no-op task each.
        from celery.worker import state

        state.should_terminate = 0
        app.send_task("celery.ping")
        app.send_task("celery.ping")


@pytest.fixture
def redis_server(tmp_path):
    """A Redis server of this test's own on loopback (mark the test ``@pytest.mark.redis``)."""
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def wait_for():
    """Poll a condition (what a user watching the page does) until it holds or time runs out."""
    import time

    def _wait(condition, timeout=60.0, every=0.2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(every)
        raise AssertionError("condition not met in time")

    return _wait


@pytest.fixture
def anyio_backend():
    """Async tests (``@pytest.mark.anyio``) run on asyncio, like the ASGI server."""
    return "asyncio"


@pytest.fixture(scope="package")
def asgi_server(django_db_setup):
    """uvicorn serving the project's ASGI application in a background thread, on the test database.

    The same server the platform runs in production (async views, streaming responses), with the
    test settings pytest-django applied (DEBUG off; static files come from WhiteNoise's finders).
    """
    from tests.live_server import LiveASGIServer

    server = LiveASGIServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_url(asgi_server, transactional_db):
    """The server's base URL (``http://127.0.0.1:<port>``); the test's data is committed so the server sees it."""
    from tests.live_server import other_connections, wait_for_the_tests_connections_to_close

    before = {c[0] for c in other_connections()}
    yield asgi_server.url
    # Before the tables are emptied: no request still running, no other thread still using the database.
    asgi_server.wait_idle()
    wait_for_the_tests_connections_to_close(before)


@pytest.fixture(scope="session")
def _fake_mcp_server():
    from tests.fakes.mcp_server import FakeMcpServer

    server = FakeMcpServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_mcp(_fake_mcp_server, db):
    """The loopback MCP server (the SDK's own), reset for each test; loopback is allow-listed, as for the model."""
    from agents.models import AllowedHost

    AllowedHost.objects.get_or_create(pattern="127.0.0.1", defaults={"note": "测试用的本机服务"})
    _fake_mcp_server.reset()
    return _fake_mcp_server
