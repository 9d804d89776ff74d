"""The dashboard in chromium, on the demo workspace: SLOs, alerts, roles, errors, the live feed."""

import uuid
from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from tests.browser.conftest import Site, Watched
from tests.examples.restartable import RestartableServer, another_replica
from tests.graphql_client import GraphQLClient

RAISE_ALERT = """
mutation($input: AlertInput!) { raiseAlert(input: $input) { id } }"""
RAISE_ALERTS = """
mutation($inputs: [AlertInput!]!) { raiseAlerts(inputs: $inputs) { id } }"""
ALERT_STATUS = "query($id: ID!) { alert(id: $id) { status acknowledgedBy } }"
FEED_ITEMS = "#feed-list li.feed-event"
FIRED = "#feed-list li.feed-event[data-type='alert.fired']"


async def sign_in(page: Page, site: Site, key: str) -> None:
    await page.goto(f"{site.url}/dashboard")
    await page.fill("#api-key", key)
    await page.click("#key-form button[type=submit]")


async def raise_alert(api: GraphQLClient, site: Site, summary: str) -> None:
    alert = {
        "service": "inventory",
        "summary": summary,
        "severity": "WARNING",
        "fingerprint": uuid.uuid4().hex,
    }
    await api.data(RAISE_ALERT, {"input": alert}, key=site.demo.developer_key)


async def feed_is_live(page: Page) -> None:
    await expect(page.locator("#feed-status")).to_have_text("live")


async def test_a_key_shows_slos_and_open_alerts_and_acknowledging_changes_the_status(
    page: Page, site: Site
) -> None:
    await sign_in(page, site, site.demo.developer_key)
    checkout = page.locator("#slo-rows tr", has_text="checkout")
    await expect(checkout).to_have_attribute("data-status", "CRITICAL")
    await expect(checkout).to_have_class("slo-row slo-row-CRITICAL")
    await expect(checkout).to_contain_text("1h/5m")
    await expect(page.locator("#slo-rows tr", has_text="payments")).to_have_attribute(
        "data-status", "WARNING"
    )
    await expect(page.locator("#identity")).to_contain_text("DEVELOPER")

    firing = page.locator("#alert-rows tr[data-status=FIRING]").first
    await expect(firing).to_be_visible()
    alert_id = await firing.get_attribute("data-alert-id")
    assert alert_id is not None
    await firing.locator("button.action-acknowledge").click()

    row = page.locator(f"#alert-rows tr[data-alert-id='{alert_id}']")
    await expect(row).to_have_attribute("data-status", "ACKNOWLEDGED")
    await expect(row.locator(".alert-status")).to_have_text("ACKNOWLEDGED")
    await expect(row.locator("button.action-acknowledge")).to_have_count(0)
    stored = await site.api.data(ALERT_STATUS, {"id": alert_id}, key=site.demo.viewer_key)
    assert stored["alert"] == {"status": "ACKNOWLEDGED", "acknowledgedBy": "demo developer"}


async def test_an_alert_raised_through_the_api_appears_in_the_live_feed(
    page: Page, site: Site
) -> None:
    await sign_in(page, site, site.demo.viewer_key)
    await feed_is_live(page)
    await page.evaluate("() => { window.notReloaded = true; }")

    summary = f"disk 91 % full on db-inventory-{uuid.uuid4().hex[:6]}"
    await raise_alert(site.api, site, summary)

    await expect(page.locator(FIRED, has_text=summary)).to_have_count(1)
    await expect(page.locator("#alert-rows tr", has_text=summary)).to_have_count(1)
    assert await page.evaluate("() => window.notReloaded") is True


async def test_the_feed_resumes_after_a_server_restart_without_a_lost_or_repeated_event(
    page: Page, site: Site
) -> None:
    await sign_in(page, site, site.demo.viewer_key)
    await feed_is_live(page)
    await page.evaluate("() => { window.notReloaded = true; }")
    before, during, after = (f"restart {step} {uuid.uuid4().hex[:6]}" for step in range(3))
    await raise_alert(site.api, site, before)
    await expect(page.locator(FIRED, has_text=before)).to_have_count(1)

    await site.server.stop()
    await expect(page.locator("#feed-status")).to_contain_text("reconnecting")
    await page.select_option("#series-range", "3600")  # a request while the server is down
    await expect(page.locator("#problem")).to_contain_text("The server is unavailable")
    async with another_replica(site.server.settings) as replica:
        await raise_alert(GraphQLClient(replica), site, during)
    await site.server.start()
    await feed_is_live(page)
    await raise_alert(site.api, site, after)
    for summary in (before, during, after):
        await expect(page.locator(FIRED, has_text=summary)).to_have_count(1)
    await expect(page.locator("#problem")).to_be_hidden()  # the chart's retry succeeded

    shown = await page.locator(FEED_ITEMS).evaluate_all(
        "items => items.map(item => Number(item.dataset.cursor))"
    )
    assert shown == sorted(set(shown), reverse=True)  # newest first, none twice
    cursors = [
        int(await page.locator(FIRED, has_text=summary).get_attribute("data-cursor") or 0)
        for summary in (before, during, after)
    ]
    assert cursors == sorted(cursors)
    assert (
        await page.evaluate("() => window.performance.getEntriesByType('navigation').length") == 1
    )


async def test_a_viewer_key_gets_no_acknowledge_or_resolve_buttons(page: Page, site: Site) -> None:
    await sign_in(page, site, site.demo.viewer_key)
    await expect(page.locator("#identity")).to_contain_text("VIEWER")
    await expect(page.locator("#alert-rows tr[data-status=FIRING]").first).to_be_visible()
    await expect(page.locator("#alert-rows button")).to_have_count(0)


async def test_a_wrong_key_shows_an_error(page: Page, site: Site) -> None:
    await sign_in(page, site, "og_this-key-does-not-exist")
    problem = page.locator("#problem")
    await expect(problem).to_be_visible()
    await expect(problem).to_contain_text("The API key was refused")
    await expect(problem).to_contain_text("UNAUTHENTICATED")
    await expect(page.locator("#panels")).to_be_hidden()
    assert await page.evaluate("() => window.localStorage.getItem('opsgraph.apiKey')") is None


async def test_a_thousand_open_alerts_are_shown_a_page_at_a_time(page: Page, site: Site) -> None:
    inputs = [
        {
            "service": "batch",
            "summary": f"job {n} is late",
            "severity": "INFO",
            "fingerprint": f"job-{n}",
        }
        for n in range(1_000)
    ]
    await site.api.data(RAISE_ALERTS, {"inputs": inputs}, key=site.root_key)
    await sign_in(page, site, site.root_key)

    await expect(page.locator("#alert-range")).to_have_text("1–25 of 1,000")
    await expect(page.locator("#alert-rows tr")).to_have_count(25)
    await page.click("#alerts-older")
    await expect(page.locator("#alert-range")).to_have_text("26–50 of 1,000")
    await expect(page.locator("#alert-rows tr")).to_have_count(25)
    await page.click("#alerts-newer")
    await expect(page.locator("#alert-range")).to_have_text("1–25 of 1,000")


async def test_a_rate_limited_dashboard_says_so(
    watched_page: tuple[Page, Watched], site: Site
) -> None:
    """A replica whose limit the dashboard's first refreshes exceed."""
    page, watched = watched_page
    strict = site.server.settings.model_copy(update={"rate_limit_per_minute": 4, "run_jobs": False})
    limited = RestartableServer(strict)
    await limited.start()
    watched.allowed_hosts = {urlsplit(limited.url).netloc}
    try:
        await page.goto(f"{limited.url}/dashboard")
        await page.fill("#api-key", site.demo.viewer_key)
        await page.click("#key-form button[type=submit]")
        problem = page.locator("#problem")
        await expect(problem).to_contain_text("Rate limited by the server: retrying in")
        await expect(problem).to_contain_text("RATE_LIMITED")
    finally:
        await limited.stop()
