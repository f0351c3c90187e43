"""Real-browser tests: Debian's Chromium driven by Playwright, pages checked with axe.

The browser is always `/usr/bin/chromium` (installed by `make browser`); `playwright install` is never
run, because it downloads a browser build of its own and the network here is closed.

Helpers for tests (import them from `tests.browser.conftest`):
- `screenshot(page, name)` keeps a PNG under `test-artifacts/screenshots/` (the main pages' screenshots
  are kept as test artefacts); a failed test's page is kept there too, as `failed-<test>.png`.
- `assert_accessible(page)` fails on every serious or critical WCAG 2.2 AA violation axe finds.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# As root Chromium will not start without --no-sandbox; on a closed network the others keep it from
# stalling on GPU probing and on its own update, sync and QUIC traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for this folder's tests: starting it costs about a second, a new context little.

    Package scope, not session: Playwright's sync API leaves its asyncio loop marked as running on
    the test thread until it stops, which would break `asyncio.run` in every later test.
    While it runs, Django sees that loop and refuses ORM calls ("You cannot call this from an async
    context"); nothing asynchronous touches Django's connections here (the loop only talks to
    Chromium), so the check is switched off for these tests only.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield launched
            launched.close()


@pytest.fixture
def page(browser: Browser, server_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh context (no cookies from other tests) whose relative URLs go to the test server.

    Rows the server should see must be committed: use `committed_db` in the test.
    """
    context = browser.new_context(base_url=server_url, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(10_000)  # fail fast: nothing here should take seconds
    opened = context.new_page()
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and not opened.is_closed():
        screenshot(opened, "failed-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name))
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Keep the call phase's report on the test, so that `page` can tell at teardown whether it failed."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as `test-artifacts/screenshots/<name>.png` (gitignored) and return the path."""
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_accessible(page: Page) -> None:
    """Fail listing every serious or critical WCAG 2.2 AA violation on the page as it is now.

    Serious and critical are the impacts that block a user outright; moderate and minor ones are left to
    review rather than failing the build.
    """
    options = {"runOnly": {"type": "tag", "values": WCAG_22_AA}, "resultTypes": ["violations"]}
    results = Axe().run(page, options=options)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        listed = "\n".join(_describe(violation) for violation in blocking)
        pytest.fail(f"{page.url}: axe found {len(blocking)} serious or critical violation(s):\n{listed}", pytrace=False)


def _describe(violation: dict[str, Any]) -> str:
    targets = "; ".join(" ".join(str(t) for t in node["target"]) for node in violation["nodes"])
    return f"- {violation['id']} ({violation['impact']}): {violation['help']} [{targets}]"
