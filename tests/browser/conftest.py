"""Browser tests: headless Chromium (Debian's ``chromium`` package) against the app under a real ASGI server.

Fixtures (see README's test section and tests/browser/helpers.py for the helpers):

- ``browser`` (package scope): one Chromium for all browser tests, driven by the ``playwright`` package.
- ``asgi_server`` (package scope): uvicorn serving ``config.asgi.application`` on 127.0.0.1, a free port.
- ``live_url`` (function scope): the server's base URL for one test; the test's data is committed
  (``transactional_db``) so the server's threads see it, and the tables are emptied afterwards.
- ``browser_errors`` (function scope): console errors, uncaught exceptions, CSP violations, server
  errors (5xx) and assets that failed to load (4xx) on the test's pages; a test with any of them
  fails (``BrowserErrors.allow(fragment)`` accepts an expected one).
- ``page`` (desktop, 1280×800) and ``phone`` (390×844, a phone's user agent, touch): a fresh browser
  context per test, already pointed at the server (``page.goto("/workspace/")``).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36"
    ),
}
# Chromium is told to stay quiet: no first-run, no updates, no sync, no QUIC; it talks only to the server.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Chromium logs a CSP violation to the console itself; the page also reports it, with the directive,
# in case a future Chromium words it differently.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline code"}`
    + ` in ${event.sourceFile || document.location.href}:${event.lineNumber}`);
});
"""
ASSET_TYPES = {"stylesheet", "script", "image", "font", "media"}
# Long enough for a slow CI machine, short enough that a missing element fails in reasonable time.
ACTION_TIMEOUT_MS = 15_000


def chromium_executable() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "Browser tests need Chromium from the system packages: install Debian's `chromium` package "
            "(`apt-get install chromium fonts-noto-cjk`; .ci/run does this). Playwright's own browser "
            "download is not used.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for every browser test (launching it takes about a second)."""
    from django.db import connections
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_executable()
    # While Playwright's loop counts as running, Django keeps the test thread's connections apart
    # (asgiref's Local): close the one opened before, so that it is not left behind idle, and the
    # one opened meanwhile at the end.
    connections.close_all()
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        expect.set_options(timeout=ACTION_TIMEOUT_MS)
        with _orm_usable_beside(asyncio.get_running_loop()):
            yield chromium
            connections.close_all()
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="package")
def asgi_server(django_db_setup):
    """uvicorn serving the project's ASGI application in a background thread, on the test database.

    The same server the platform runs in production (async views, streaming responses), with the
    test settings pytest-django applied (DEBUG off; static files come from WhiteNoise's finders).
    """
    server = LiveASGIServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_url(asgi_server, transactional_db) -> Iterator[str]:
    """The server's base URL (``http://127.0.0.1:<port>``); the test's data is committed so the server sees it."""
    before = {c[0] for c in _other_connections()}
    yield asgi_server.url
    # Before the tables are emptied: no request still running, no other thread still using the database.
    asgi_server.wait_idle()
    _wait_for_the_tests_connections_to_close(before)


@pytest.fixture
def browser_errors():
    return BrowserErrors()


@pytest.fixture
def page(browser, live_url, browser_errors):
    """A desktop browser tab (1280×800) in a fresh context: no cookies, Chinese locale, Beijing time."""
    context = _new_context(browser, live_url, browser_errors, "desktop", DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser, live_url, browser_errors):
    """A phone-sized browser tab (390×844, mobile user agent, touch) in a fresh context."""
    context = _new_context(browser, live_url, browser_errors, "phone", PHONE)
    yield context.new_page()
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A browser test whose pages logged an error fails, even if all its assertions held."""
    result = yield
    errors = item.funcargs.get("browser_errors")
    if isinstance(errors, BrowserErrors):
        unexpected = errors.unexpected()
        if unexpected:
            raise AssertionError("the browser reported errors:\n" + "\n".join(unexpected))
    return result


@dataclass
class BrowserErrors:
    """What the browser complained about during a test: console errors, uncaught exceptions, CSP violations."""

    messages: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    contexts: list = field(default_factory=list)

    def allow(self, fragment: str) -> None:
        """Accept messages containing ``fragment`` (a test that provokes a 404 on purpose, say)."""
        self.allowed.append(fragment)

    def unexpected(self) -> list[str]:
        self._flush()
        return [m for m in self.messages if not any(fragment in m for fragment in self.allowed)]

    def _flush(self) -> None:
        # A round trip to each open page delivers the events Chromium sent before it.
        for context in self.contexts:
            for tab in context.pages:
                # A page that is closing has nothing more to report.
                with contextlib.suppress(Exception):
                    tab.evaluate("0")


def _new_context(browser, base_url: str, errors: BrowserErrors, label: str, options: dict):
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.add_init_script(script=CSP_REPORTER)

    def on_console(message):
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            errors.messages.append(f"[{label}] console error: {message.text} ({where})")

    def on_response(response):
        # A server error anywhere, or a page asset (style, script, image, font) that failed to load.
        kind = response.request.resource_type
        if response.status >= 500 or (response.status >= 400 and kind in ASSET_TYPES):
            errors.messages.append(f"[{label}] HTTP {response.status} for {kind} {response.url}")

    context.on("console", on_console)
    context.on("response", on_response)
    context.on("weberror", lambda error: errors.messages.append(f"[{label}] uncaught: {error.error}"))
    errors.contexts.append(context)
    return context


class LiveASGIServer:
    """uvicorn in a thread of this process, on a socket bound before it starts (no port race)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = None
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        import uvicorn

        from config.asgi import application

        config = uvicorn.Config(
            application,
            lifespan="off",
            log_level="warning",
            access_log=False,
            # A stream still open when the tests end is cut after this long instead of hanging the run.
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="asgi-test-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if self.error or not self.thread.is_alive():
                raise RuntimeError(f"the test ASGI server did not start: {self.error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the test ASGI server did not start within 30 s")
            time.sleep(0.02)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:
            self.error = exc
            raise

    def wait_idle(self, timeout: float = 15.0) -> None:
        """Wait until no request is being handled (a test's streams end when its browser context closes)."""
        deadline = time.monotonic() + timeout
        while self.server.server_state.tasks:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.server.server_state.tasks)} request(s) still running {timeout:.0f} s after the test"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def _other_connections() -> list[tuple]:
    """(pid, state, idle for, last query) of every other connection to the test database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, now() - state_change, left(query, 200) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchall()


def _wait_for_the_tests_connections_to_close(before: set[int], timeout: float = 30.0) -> None:
    """Wait until the connections the test's work opened are closed, and no other one is busy.

    Requests close their connection when they end, and work that outlives a request (a run that
    goes on after the browser left) closes its own when it is done. Emptying the tables before
    then would pull the data from under that work (or wait forever on its open transaction), so
    the test waits for it; a connection still open after ``timeout`` is reported. ``before``: the
    connections already open when the test started (left by earlier tests), which only must not
    be busy.
    """
    deadline = time.monotonic() + timeout
    while True:
        busy = [c for c in _other_connections() if c[0] not in before or c[1] != "idle"]
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if busy:
        listed = "\n".join(f"  pid {pid}: {state} for {age}, last query: {sql}" for pid, state, age, sql in busy)
        raise AssertionError(
            f"{len(busy)} connection(s) to the test database still open or busy {timeout:.0f} s after the test "
            f"(work still running, or a thread that never closes its connection):\n{listed}"
        )


@contextlib.contextmanager
def _orm_usable_beside(playwright_loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Let the test's own code use the ORM while Playwright's sync API is active in the test thread.

    Playwright's sync API keeps its event loop marked as running in the thread that drives it, so
    Django's async-safety check would refuse every query of the test (fixtures, assertions, the
    flush between tests). Only that loop is disregarded, and only in the test thread: the server's
    event loop is still checked, so an async view that queries the database synchronously fails
    here as it would in production. (Setting DJANGO_ALLOW_ASYNC_UNSAFE would switch the check off
    for the server too.)
    """
    from django.utils import asyncio as django_asyncio

    original = django_asyncio.get_running_loop
    test_thread = threading.current_thread()

    def get_running_loop():
        running = original()
        if running is playwright_loop and threading.current_thread() is test_thread:
            raise RuntimeError("no running event loop (only Playwright's, in the test thread)")
        return running

    django_asyncio.get_running_loop = get_running_loop
    try:
        yield
    finally:
        django_asyncio.get_running_loop = original
