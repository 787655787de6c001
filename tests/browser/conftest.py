"""Browser tests: headless Chromium (Debian's ``chromium`` package) against the app under a real ASGI server.

Fixtures (see README's test section and tests/browser/helpers.py for the helpers):

- ``browser`` (package scope): one Chromium for all browser tests, driven by the ``playwright`` package.
- ``asgi_server`` and ``live_url`` (tests/conftest.py, tests/live_server.py): uvicorn serving
  ``config.asgi.application`` on 127.0.0.1, and its base URL for one test (the test's data committed).
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
import threading
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
