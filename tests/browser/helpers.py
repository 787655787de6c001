"""What a person does in the browser, for the browser tests: sign in, look at the page, keep a picture of it."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
# Git-ignored; CI keeps the folder as the run's artifacts.
ARTIFACTS = Path(os.environ.get("SHUZHI_TEST_ARTIFACTS") or ROOT / "test-artifacts")
SCREENSHOTS = ARTIFACTS / "screenshots"


def login_as(page, user, password: str = PASSWORD):
    """Sign in through the real login form and wait for the landing page; return the page.

    Fails with the page's own message when the form refuses the credentials.
    """
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(password)
    # One navigation: the form's POST and the redirects to the user's landing page.
    with page.expect_navigation():
        page.locator("form[action$='/accounts/login/'] button[type=submit]").click()
    if "/accounts/login/" in page.url:
        message = page.locator(".error[role=alert]").inner_text()
        raise AssertionError(f"login as {user.username} failed: {message}")
    return page


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of the page under test-artifacts/screenshots/ (``name`` without extension)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}.png"
    # CSS pixels: a phone screenshot stays phone-sized instead of three times larger.
    page.screenshot(path=str(path), full_page=full_page, scale="css")
    return path


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no sideways scrolling)."""
    return page.evaluate("Math.max(0, document.scrollingElement.scrollWidth - window.innerWidth)")
