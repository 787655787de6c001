"""What a person does in the browser, for the browser tests: sign in, look at the page, keep a picture of it."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.factories import PASSWORD, give_second_factor, totp_code

ROOT = Path(__file__).resolve().parents[2]
# Git-ignored; CI keeps the folder as the run's artifacts.
ARTIFACTS = Path(os.environ.get("SHUZHI_TEST_ARTIFACTS") or ROOT / "test-artifacts")
SCREENSHOTS = ARTIFACTS / "screenshots"


def login_as(page, user, password: str = PASSWORD):
    """Sign in through the real login form and wait for the landing page; return the page.

    A user who needs the second factor gets an authenticator (if they have none) and types its code
    on the page that follows. Fails with the page's own message when a form refuses.
    """
    from tenants.second_factor import needs_verification

    device = give_second_factor(user) if needs_verification(user=user) else None
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(password)
    # One navigation: the form's POST and the redirects to the user's landing page.
    with page.expect_navigation():
        page.locator("form[action$='/accounts/login/'] button[type=submit]").click()
    if "/accounts/login/" in page.url:
        message = page.locator(".error[role=alert]").inner_text()
        raise AssertionError(f"login as {user.username} failed: {message}")
    if device is not None:
        pass_second_factor(page, device)
    return page


def pass_second_factor(page, device):
    """Type the authenticator's current code on the second-factor page and wait for the page it leads to."""
    assert "/accounts/2fa/verify/" in page.url, f"expected the second factor, got {page.url}"
    page.locator("#id_token").fill(totp_code(device))
    with page.expect_navigation():
        page.locator("form[action$='/accounts/2fa/verify/'] button[type=submit]").click()
    if "/accounts/2fa/" in page.url:
        raise AssertionError(f"second factor refused: {page.locator('.error[role=alert]').inner_text()}")
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
