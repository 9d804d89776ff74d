"""The playground in chromium: served by opsgraph alone, a pasted key, a query, a subscription."""

import json
import re

from playwright.async_api import Page, Request, expect

from server.transport.web_assets import PLAYGROUND_DIR
from tests.browser.conftest import WAIT_MS, Site

RAISE_ALERT = """
mutation($input: AlertInput!) { raiseAlert(input: $input) { id } }"""
RESPONSE = ".graphiql-response"
EXAMPLE_OPERATIONS = re.findall(
    r"^(?:query|mutation|subscription) (\w+)",
    (PLAYGROUND_DIR / "examples.js").read_text(),
    flags=re.MULTILINE,
)


async def open_playground(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/graphql")
    await expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()


async def use_key(page: Page, key: str) -> None:
    await page.fill("#api-key", key)
    await page.click("#key-form button[type=submit]")
    await expect(page.locator("#key-status")).to_contain_text(f"using key {key[:8]}")


async def run(page: Page, operation: str) -> None:
    """Replace the editor's text and press the run button."""
    await page.evaluate(
        "text => document.querySelector('.graphiql-query-editor .CodeMirror')"
        ".CodeMirror.setValue(text)",
        operation,
    )
    await page.click(".graphiql-execute-button")


async def test_the_playground_opens_its_editor_on_the_example_operations(
    page: Page, site: Site
) -> None:
    await open_playground(page, site)
    tabs = page.locator(".graphiql-tab")
    await expect(tabs).to_have_count(len(EXAMPLE_OPERATIONS))
    assert EXAMPLE_OPERATIONS[:2] == ["Me", "SloOverview"]
    await expect(tabs.first).to_contain_text("Me")
    await expect(page.locator(".graphiql-query-editor")).to_contain_text("query Me")
    await expect(page.locator("#key-status")).to_contain_text("no key")


async def test_a_pasted_key_runs_me_and_is_sent_only_to_graphql(page: Page, site: Site) -> None:
    with_key: list[str] = []

    def note(request: Request) -> None:
        if "authorization" in request.headers:
            with_key.append(request.url)

    page.on("request", note)
    await open_playground(page, site)
    await use_key(page, site.demo.developer_key)
    await run(page, "{ me { role } }")
    await expect(page.locator(RESPONSE)).to_contain_text('"role": "DEVELOPER"')

    stored = await page.evaluate("() => window.localStorage.getItem('opsgraph.apiKey')")
    assert stored == site.demo.developer_key
    assert with_key
    assert set(with_key) == {f"{site.url}/graphql"}


async def test_a_subscription_receives_an_alert_raised_meanwhile(page: Page, site: Site) -> None:
    await open_playground(page, site)
    await use_key(page, site.demo.viewer_key)
    latest = await site.api.data("{ latestEventCursor }", key=site.demo.viewer_key)
    after = json.dumps(latest["latestEventCursor"])  # no race with the raise below
    await run(
        page,
        f'subscription {{ alertEvents(filter: {{services: ["search"]}}, after: {after}) '
        "{ cursor type payload } }",
    )

    summary = "replica lag on search-db-3 above 30 s"
    alert = {"service": "search", "summary": summary, "severity": "WARNING", "fingerprint": "lag3"}
    await site.api.data(RAISE_ALERT, {"input": alert}, key=site.demo.developer_key)

    answer = page.locator(RESPONSE)
    await expect(answer).to_contain_text("alert.fired", timeout=WAIT_MS)
    await expect(answer).to_contain_text(json.dumps(summary))
