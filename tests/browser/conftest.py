"""Headless Chromium (Debian's, never a downloaded build) driving a live Harbour with a real worker.

Every page a journey visits is checked in the page with axe-core (the npm package, read from
node_modules and injected by the test) and saved as a screenshot under ``artifacts/screenshots``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from django.conf import settings as django_settings

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still
# synchronous, so Django's guard against ORM use inside a loop does not apply.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.factories import PASSWORD  # noqa: E402
from tests.notifications.receivers import SmtpReceiver  # noqa: E402
from tests.processes import Worker  # noqa: E402

CHROMIUM = os.environ.get("HARBOUR_CHROMIUM", "/usr/bin/chromium")
AXE = Path(django_settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(django_settings.BASE_DIR) / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() or not AXE.exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium) and axe-core (npm ci)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class LiveHarbour:
    url: str
    smtp: SmtpReceiver


@pytest.fixture
def live_harbour(live_server: Any, worker: Worker, smtp: SmtpReceiver, settings: Any) -> LiveHarbour:
    """The live server, with a real Redis broker and a real Celery worker (and beat) on the test database."""
    settings.REQUIRE_MFA = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
    worker.start()
    return LiveHarbour(url=live_server.url, smtp=smtp)


class Journey:
    """One person's pass through Harbour in their own browser context."""

    def __init__(
        self,
        browser: Browser,
        base_url: str,
        name: str,
        *,
        javascript: bool = True,
        viewport=DESKTOP,
        font_size: int | None = None,
        forced_colors: Literal["active", "none"] = "none",
    ):
        # bypass_csp lets the test inject axe-core; Harbour's own pages carry no inline script.
        # forced_colors="active" is a Windows contrast theme: the browser draws in its own few colours.
        self.context = browser.new_context(
            base_url=base_url,
            java_script_enabled=javascript,
            viewport=viewport,
            bypass_csp=True,
            forced_colors=forced_colors,
        )
        self.page: Page = self.context.new_page()
        self.font_size = font_size
        self.set_font_size()
        self.name = name
        self.javascript = javascript
        self.shots = 0
        self.folder = SCREENSHOTS / name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)

    def set_font_size(self) -> None:
        """The default font size a person chose in their browser's settings, if they did: rem and media
        queries follow it."""
        if self.font_size is not None:
            devtools = self.context.new_cdp_session(self.page)
            devtools.send("Page.setFontSizes", {"fontSizes": {"standard": self.font_size}})
            devtools.detach()

    def look(self, label: str) -> Page:
        """Check the page for serious accessibility problems and save its screenshot."""
        self.shots += 1
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        self.page.screenshot(path=str(self.folder / f"{self.shots:02d}-{slug}.png"), full_page=True)
        self.set_font_size()  # a full-page screenshot puts the browser's own back
        if self.javascript:
            assert_accessible(self.page)
        return self.page

    def type_to_choose(self, words: str) -> None:
        """Type into the list that has the focus, which chooses the option they begin, as a keyboard user
        does. The browser takes a key more than a second after the last as the start of a new search,
        and a busy machine can hold a key back that long: each key carries the time it would have had
        at a steady typist's pace, whenever it is sent."""
        devtools = self.context.new_cdp_session(self.page)
        started = time.time()
        for n, key in enumerate(words):
            pressed = {"key": key, "timestamp": started + n * 0.1}
            devtools.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": key, **pressed})
            devtools.send("Input.dispatchKeyEvent", {"type": "keyUp", **pressed})
        devtools.detach()

    def sign_in(self, username: str) -> None:
        self.page.goto("/login/")
        self.look("sign in")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Sign in").click()

    def go(self, link: str | re.Pattern[str], label: str) -> Page:
        """Follow a link by its accessible name: a string matches exactly, a pattern by search."""
        exact = isinstance(link, str) or None
        with self.page.expect_navigation():
            self.page.get_by_role("link", name=link, exact=exact).first.click()
        return self.look(label)

    def submit(self, button: str, label: str, *, within: str = "body") -> Page:
        with self.page.expect_navigation():
            self.page.locator(within).get_by_role("button", name=button, exact=True).click()
        return self.look(label)

    def close(self) -> None:
        self.context.close()


def assert_accessible(page: Page) -> None:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    assert violations == [], f"{page.url}: {violations}"


@pytest.fixture
def journeys(browser: Browser, live_harbour: LiveHarbour) -> Iterator[Any]:
    opened: list[Journey] = []

    def open_journey(name: str, **kwargs: Any) -> Journey:
        journey = Journey(browser, live_harbour.url, name, **kwargs)
        opened.append(journey)
        return journey

    yield open_journey
    for journey in opened:
        journey.close()
