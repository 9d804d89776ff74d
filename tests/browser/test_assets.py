"""The pages' files as the server sends them: all its own, none inline, vendored as recorded.

These need no browser: they read the HTML and the vendored files, and ask the
server for every file a page names.
"""

import hashlib
import re
from html.parser import HTMLParser

import httpx
import pytest

from server.core.clock import FrozenClock
from server.transport.web_assets import DASHBOARD_DIR, PLAYGROUND_DIR, VENDOR_DIR
from tests.conftest import Backend, make_settings, running_app

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#: Relative module imports of the pages' own scripts.
IMPORT = re.compile(r"""^import .* from "(\./[\w-]+\.js)";$""", re.MULTILINE)


class PageParts(HTMLParser):
    """The URLs a page loads, and whatever it holds inline."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style>")
        for name, value in attributes.items():
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
            if name in ("src", "href") and value:
                self.urls.append(value)

    def loaded(self) -> list[str]:
        """The files the page loads: its URLs but the links to the other pages."""
        return [url for url in self.urls if url not in ("/graphql", "/dashboard")]


def parts_of(html: str) -> PageParts:
    parts = PageParts()
    parts.feed(html)
    return parts


async def playground_html(http: httpx.AsyncClient) -> str:
    response = await http.get("/graphql", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def dashboard_html(http: httpx.AsyncClient) -> str:
    response = await http.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_every_vendored_file_is_the_one_recorded_with_its_package_and_licence() -> None:
    recorded = {}
    for line in (VENDOR_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        recorded[name] = digest
    present = {
        str(path.relative_to(VENDOR_DIR))
        for path in VENDOR_DIR.rglob("*")
        if path.is_file() and path.name not in ("SHA256SUMS", "PACKAGES.txt")
    }
    assert present == set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR_DIR / name).read_bytes()).hexdigest() == digest, name
    libraries = {name.split("/", 1)[0] for name in recorded}
    for library in libraries:
        assert any(name.startswith(f"{library}/LICENSE") for name in recorded), library
    packages = (VENDOR_DIR / "PACKAGES.txt").read_text().splitlines()
    pinned = [re.fullmatch(r"(@?[\w./-]+)@(\d+\.\d+\.\d+) sha512-[\w+/=]+", p) for p in packages]
    assert all(pinned), packages
    assert {match[1] for match in pinned if match} >= {
        "graphiql",
        "@graphiql/plugin-explorer",
        "react",
        "react-dom",
        "graphql-ws",
        "uplot",
    }


@pytest.mark.parametrize("page", ["playground", "dashboard"])
async def test_a_page_loads_only_its_servers_own_files_and_holds_nothing_inline(
    http: httpx.AsyncClient, page: str
) -> None:
    html = await (playground_html(http) if page == "playground" else dashboard_html(http))
    parts = parts_of(html)
    assert parts.inline == []
    assert all(url.startswith("/") for url in parts.urls), parts.urls
    assert not any(url.startswith("//") for url in parts.urls), parts.urls
    loaded = parts.loaded()
    assert loaded
    for url in loaded:
        response = await http.get(url)
        assert response.status_code == 200, url
        if url.endswith(".js"):
            assert "javascript" in response.headers["content-type"], url


async def test_the_dashboards_modules_are_all_served(http: httpx.AsyncClient) -> None:
    scripts = sorted(path.name for path in DASHBOARD_DIR.glob("*.js"))
    imported = {"app.js"}
    for name in scripts:
        imported |= {target[2:] for target in IMPORT.findall((DASHBOARD_DIR / name).read_text())}
    assert imported == set(scripts)  # each module is used, each import exists
    for name in scripts:
        response = await http.get(f"/dashboard/{name}")
        assert response.status_code == 200
        assert "javascript" in response.headers["content-type"]


async def test_the_playground_opens_on_its_documented_example_operations(
    http: httpx.AsyncClient,
) -> None:
    examples = (await http.get("/static/playground/examples.js")).text
    assert examples == (PLAYGROUND_DIR / "examples.js").read_text()
    operations = re.findall(r"^(query|mutation|subscription) (\w+)", examples, re.MULTILINE)
    assert [kind for kind, _ in operations].count("subscription") == 1
    assert operations[0] == ("query", "Me")


async def test_without_the_playground_only_the_dashboards_files_are_served(
    backend: Backend, clock: FrozenClock, root_key: str
) -> None:
    async with running_app(make_settings(backend, environment="production"), clock) as client:
        http = client.http
        assert (await http.get("/graphql", headers={"Accept": BROWSER_ACCEPT})).status_code == 404
        for withheld in (
            "/static/playground/playground.js",
            "/static/vendor/graphiql/graphiql.min.js",
            "/static/vendor/react/react.production.min.js",
        ):
            assert (await http.get(withheld)).status_code == 404, withheld
        html = await dashboard_html(http)
        for url in parts_of(html).loaded():
            assert (await http.get(url)).status_code == 200, url
