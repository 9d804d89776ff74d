"""The demo workspace (``opsgraph demo``, ``make demo``), read through the API."""

import asyncio
import os
import signal
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import httpx

from server.core.clock import FrozenClock
from server.core.services import Services
from server.transport.demo import (
    ALERT_EVERY_TICKS,
    EXTERNAL_ALERTS,
    LIVE_INTERVAL,
    LiveData,
    seed,
)
from server.transport.demo_server import demo_notice
from tests.conftest import free_port
from tests.graphql_client import GraphQLClient

SLOS = """
{
  sloOverview {
    policies {
      status
      policy { service latestEvaluation { firingPairs } }
    }
  }
}"""
OPEN_ALERTS = """
query($service: String) {
  alerts(filter: { status: [FIRING, ACKNOWLEDGED], service: $service }, first: 50) {
    totalCount
    edges { node { service severity source summary occurrenceCount } }
  }
}"""
ONCALL = "{ oncallNow { schedule person } }"
ROLE = "{ me { role workspace { name } } }"
SERIES = """
query($from: DateTime!, $to: DateTime!) {
  signalSeries(service: "checkout", name: "latency_ms", from: $from, to: $to, step: 300,
               aggregate: AVG) { ts value count }
}"""
SAMPLES = """
query($service: String!) { signals(filter: { service: $service }, first: 1) { totalCount } }"""


def demo_name() -> str:
    return f"demo-{uuid.uuid4().hex[:8]}"


async def test_the_demo_burns_one_slo_fast_and_one_slowly(
    gql: GraphQLClient, services: Services
) -> None:
    demo = await seed(services, name=demo_name())
    policies = (await gql.data(SLOS, key=demo.viewer_key))["sloOverview"]["policies"]
    statuses = {row["policy"]["service"]: row["status"] for row in policies}
    assert statuses == {
        "checkout": "CRITICAL",
        "payments": "WARNING",
        "search": "HEALTHY",
        "inventory": "HEALTHY",
    }
    firing = {
        row["policy"]["service"]: row["policy"]["latestEvaluation"]["firingPairs"]
        for row in policies
    }
    assert firing["checkout"][0] == "1h/5m"  # the page pair: a fast burn
    assert "1d/2h" in firing["payments"]  # a ticket pair, and no page pair: a slow burn
    assert not {"1h/5m", "6h/30m"} & set(firing["payments"])
    assert firing["search"] == firing["inventory"] == []


async def test_the_demo_has_open_alerts_on_call_people_series_and_a_key_per_role(
    gql: GraphQLClient, services: Services
) -> None:
    demo = await seed(services, name=demo_name())
    alerts = (await gql.data(OPEN_ALERTS, key=demo.viewer_key))["alerts"]
    raised = {
        (edge["node"]["source"], edge["node"]["severity"], edge["node"]["service"])
        for edge in alerts["edges"]
    }
    assert ("SLO", "PAGE", "checkout") in raised
    assert ("SLO", "WARNING", "payments") in raised
    assert {alert.service for alert in EXTERNAL_ALERTS[:3]} <= {
        s for kind, _, s in raised if kind == "EXTERNAL"
    }

    shifts = (await gql.data(ONCALL, key=demo.viewer_key))["oncallNow"]
    assert {(s["schedule"], s["person"]) for s in shifts} == {
        ("primary", "Ada Lovelace"),
        ("secondary", "Linus Pauling"),
    }

    now = services.clock.now()
    window = {"from": (now - timedelta(hours=6)).isoformat(), "to": now.isoformat()}
    series = (await gql.data(SERIES, window, key=demo.viewer_key))["signalSeries"]
    assert len(series) >= 70  # 6 hours of 5-minute buckets
    assert all(point["value"] > 0 for point in series)

    for key, role in [
        (demo.admin_key, "ADMIN"),
        (demo.developer_key, "DEVELOPER"),
        (demo.viewer_key, "VIEWER"),
    ]:
        me = (await gql.data(ROLE, key=key))["me"]
        assert (me["role"], me["workspace"]["name"]) == (role, demo.name)


async def test_live_data_adds_samples_every_tick_and_raises_alerts_now_and_then(
    gql: GraphQLClient, services: Services, paused_runner: FrozenClock
) -> None:
    demo = await seed(services, name=demo_name())
    live = LiveData(services, demo.workspace_id, started=paused_runner.now())
    live.ticks = ALERT_EVERY_TICKS - 1  # the next tick raises an alert
    variables = {"service": "checkout"}
    before = (await gql.data(SAMPLES, variables, key=demo.viewer_key))["signals"]["totalCount"]
    open_before = (await gql.data(OPEN_ALERTS, key=demo.viewer_key))["alerts"]["totalCount"]

    paused_runner.advance(timedelta(seconds=5))
    await live.tick()

    after = (await gql.data(SAMPLES, variables, key=demo.viewer_key))["signals"]["totalCount"]
    assert after == before + 3  # requests, good requests, latency
    raised = EXTERNAL_ALERTS[1]
    alerts = (await gql.data(OPEN_ALERTS, {"service": raised.service}, key=demo.viewer_key))[
        "alerts"
    ]
    counts = {edge["node"]["summary"]: edge["node"]["occurrenceCount"] for edge in alerts["edges"]}
    assert counts[raised.summary] == 2  # seeded once, raised again by the tick
    assert (await gql.data(OPEN_ALERTS, key=demo.viewer_key))["alerts"]["totalCount"] == open_before


def test_the_notice_gives_the_dashboard_address_and_a_line_per_key() -> None:
    from server.core.settings import Settings
    from server.transport.demo import DemoWorkspace

    demo = DemoWorkspace(1, "demo", "og_admin", "og_developer", "og_viewer")
    notice = demo_notice(demo, Settings(port=8123)).splitlines()
    assert " dashboard:  http://127.0.0.1:8123/dashboard   (paste a key below)" in notice
    assert [line for line in notice if line.startswith("OPSGRAPH_")] == [
        "OPSGRAPH_ADMIN_KEY=og_admin",
        "OPSGRAPH_DEVELOPER_KEY=og_developer",
        "OPSGRAPH_VIEWER_KEY=og_viewer",
    ]


async def test_opsgraph_demo_serves_the_dashboard_and_keeps_adding_data(tmp_path: Path) -> None:
    """The command ``make demo`` runs, on the embedded default, as a process."""
    port = free_port()
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("OPSGRAPH")},
        "OPSGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db",
        "OPSGRAPH_PORT": str(port),
        "OPSGRAPH_BACKUP_DIR": str(tmp_path / "backups"),
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("opsgraph")),
        "demo",
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        keys = await asyncio.wait_for(_printed_keys(process), timeout=120)
        assert set(keys) == {"OPSGRAPH_ADMIN_KEY", "OPSGRAPH_DEVELOPER_KEY", "OPSGRAPH_VIEWER_KEY"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/dashboard")).status_code == 200
            gql = GraphQLClient(http)
            viewer = keys["OPSGRAPH_VIEWER_KEY"]
            policies = (await gql.data(SLOS, key=viewer))["sloOverview"]["policies"]
            assert len(policies) == 4
            counted = {"service": "checkout"}
            before = (await gql.data(SAMPLES, counted, key=viewer))["signals"]["totalCount"]
            await asyncio.sleep(LIVE_INTERVAL.total_seconds() + 2)
            after = (await gql.data(SAMPLES, counted, key=viewer))["signals"]["totalCount"]
            assert after > before
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), timeout=30)


async def _printed_keys(process: asyncio.subprocess.Process) -> dict[str, str]:
    assert process.stdout is not None
    keys: dict[str, str] = {}
    while len(keys) < 3:
        line = (await process.stdout.readline()).decode()
        assert line, "opsgraph demo ended before printing its keys"
        name, _, value = line.strip().partition("=")
        if name.startswith("OPSGRAPH_") and name.endswith("_KEY"):
            keys[name] = value
    return keys
