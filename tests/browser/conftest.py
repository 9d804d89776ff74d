"""Browser tests: Debian's chromium driven by Playwright, against a live opsgraph.

Playwright's own browsers are never downloaded: the tests launch
``/usr/bin/chromium`` (``make test`` installs the Debian package when it is
missing). Without it they fail under ``CI=true`` and are skipped, with the
reason, elsewhere.

The pages are exercised once, on the embedded default (SQLite and the
in-memory bus, what ``make demo`` runs): they are the same on PostgreSQL, and
resuming after a server restart is proven on both backends by the
subscription and notify-client tests. The server runs in the test's event
loop on a fixed port, with the real clock and a database of its own, seeded
with the demo workspace. Every request the page makes to another host is
aborted and reported; every test leaves a screenshot in
``test-artifacts/browser/``.
"""

import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, Route, async_playwright

from server.core.migrations import ROOT
from server.transport.cli import bootstrap, migrate
from server.transport.demo import DemoWorkspace, seed
from tests.conftest import Backend, make_settings
from tests.examples.restartable import RestartableServer
from tests.graphql_client import GraphQLClient

CHROMIUM = Path(os.environ.get("OPSGRAPH_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "browser"
WAIT_MS = 15_000
CSP_VIOLATION = "violates the following Content Security Policy directive"


@dataclass
class Site:
    """The server the browser talks to, its demo workspace and an API client."""

    server: RestartableServer
    demo: DemoWorkspace
    root_key: str
    api: GraphQLClient

    @property
    def url(self) -> str:
        return self.server.url


@dataclass
class Watched:
    """What a page did that a test must not let pass unnoticed."""

    allowed_hosts: set[str] = field(default_factory=set)
    blocked: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return Path(found)
    reason = f"no chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; .ci/run installs it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium))
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    directory = tmp_path_factory.mktemp("browser")
    backend = Backend("sqlite", f"sqlite+aiosqlite:///{directory}/opsgraph.db", "memory://")
    settings = make_settings(backend, backup_dir=directory / "backups")
    await migrate(settings)
    root_key = await bootstrap(settings)
    assert root_key is not None
    server = RestartableServer(settings)
    await server.start()
    try:
        assert server.services is not None
        demo = await seed(server.services)
        async with httpx.AsyncClient(base_url=server.url) as http:
            yield Site(server, demo, root_key, GraphQLClient(http))
    finally:
        await server.stop()


def _on_console(watched: Watched, text: str, kind: str) -> None:
    if kind == "error" and CSP_VIOLATION in text:
        watched.csp_violations.append(text[:300])


@pytest.fixture
async def watched_page(
    browser: Browser, site: Site, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Page, Watched]]:
    context: BrowserContext = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    watched = Watched(allowed_hosts={urlsplit(site.url).netloc})

    async def only_this_server(route: Route, outgoing: Request) -> None:
        if urlsplit(outgoing.url).netloc in watched.allowed_hosts:
            await route.continue_()
        else:
            watched.blocked.append(outgoing.url)
            await route.abort("blockedbyclient")

    await context.route("**/*", only_this_server)
    page = await context.new_page()
    page.on("console", lambda message: _on_console(watched, message.text, message.type))
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    try:
        yield page, watched
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        await context.close()
    assert watched.blocked == [], "the page reached for another host"
    assert watched.csp_violations == [], "the Content-Security-Policy blocked part of the page"
    assert watched.page_errors == [], "the page's scripts failed"


@pytest.fixture
def page(watched_page: tuple[Page, Watched]) -> Page:
    return watched_page[0]
