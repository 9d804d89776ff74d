"""Annotations, generator URLs and ends through ``raiseAlert``/``raiseAlerts``, and
the expiry sweep: an open alert whose ``endsAt`` passes without a repeat is
resolved, with the events a manual resolve leaves; one without an end stays open."""

from datetime import datetime, timedelta
from typing import Any

from server.core.clock import FrozenClock
from server.core.services import Services
from tests.alerts.test_raising import ACKNOWLEDGE, count_alerts, item, moment
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient

FIELDS = """id status annotations generatorUrl endsAt resolvedAt resolvedBy occurrenceCount
  summary events { type payload }"""
RAISE = f"mutation($input: AlertInput!) {{ raiseAlert(input: $input) {{ {FIELDS} }} }}"
RAISE_MANY = f"mutation($inputs: [AlertInput!]!) {{ raiseAlerts(inputs: $inputs) {{ {FIELDS} }} }}"
ALERT = f"query($id: ID!) {{ alert(id: $id) {{ {FIELDS} }} }}"
RESOLVE = f"mutation($id: ID!) {{ resolveAlert(id: $id) {{ {FIELDS} }} }}"


def iso(value: datetime) -> str:
    return value.isoformat()


async def raise_one(gql: GraphQLClient, workspace: Workspace, **fields: Any) -> dict[str, Any]:
    data = await gql.data(RAISE, {"input": item(**fields)}, key=workspace.developer)
    raised: dict[str, Any] = data["raiseAlert"]
    return raised


async def read(gql: GraphQLClient, workspace: Workspace, alert_id: str) -> dict[str, Any]:
    alert: dict[str, Any] = (await gql.data(ALERT, {"id": alert_id}, key=workspace.viewer))["alert"]
    return alert


async def sweep(services: Services) -> None:
    """One run of the periodic job, as the job runner starts it."""
    await services.runner.periodic["alert_expiry_sweep"].run()


async def test_annotations_and_the_generator_url_are_stored_and_a_repeat_replaces_them(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    first = await raise_one(
        gql,
        workspace,
        annotations={"runbook_url": "https://runbooks/checkout", "owner": "payments"},
        generatorUrl="https://grafana.example/d/checkout",
    )
    assert first["annotations"] == {
        "runbook_url": "https://runbooks/checkout",
        "owner": "payments",
    }
    assert first["generatorUrl"] == "https://grafana.example/d/checkout"
    assert first["endsAt"] is None, "no end given: open until someone resolves it"
    repeat = await raise_one(gql, workspace, annotations={"owner": "checkout-team"})
    assert repeat["id"] == first["id"]
    assert repeat["occurrenceCount"] == 2
    assert repeat["annotations"] == {"owner": "checkout-team"}, "the latest raise wins"
    assert repeat["generatorUrl"] is None
    stored = await read(gql, workspace, first["id"])
    assert (stored["annotations"], stored["generatorUrl"]) == ({"owner": "checkout-team"}, None)


async def test_bad_annotations_urls_and_ends_are_refused_and_nothing_is_written(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    now = clock.now()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"generatorUrl": "javascript:alert(1)"}, "input.generatorUrl"),
        ({"generatorUrl": "http://"}, "input.generatorUrl"),
        ({"annotations": {"runbook": 42}}, "input.annotations"),
        ({"annotations": ["not", "an", "object"]}, "input.annotations"),
        ({"annotations": {"x": "y" * 10_001}}, "input.annotations"),
        ({"endsAt": iso(now)}, "input.endsAt"),
        ({"endsAt": "2099-01-01T00:00:00"}, "input.endsAt"),
        ({"endsAt": iso(now - timedelta(minutes=1))}, "input.endsAt"),
    ]
    for extra, field in cases:
        failed = await gql.bad_input_field(RAISE, {"input": item(**extra)}, key=workspace.developer)
        assert failed == field, extra
    batch = [item(summary="fine"), item(summary="late", endsAt=iso(now - timedelta(seconds=1)))]
    failed = await gql.bad_input_field(RAISE_MANY, {"inputs": batch}, key=workspace.developer)
    assert failed == "inputs[1].endsAt"
    assert await count_alerts(gql, workspace) == 0


async def test_an_alert_whose_end_passes_without_a_repeat_is_resolved_by_the_sweep(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    clock = paused_runner
    start = clock.now()
    ends = start + timedelta(minutes=4)
    lapsing = await raise_one(gql, workspace, service="lapsing", endsAt=iso(ends))
    assert moment(lapsing["endsAt"]) == ends
    kept = await raise_one(gql, workspace, service="kept", endsAt=iso(ends))
    endless = await raise_one(gql, workspace, service="endless")
    acknowledged = await gql.data(ACKNOWLEDGE, {"id": lapsing["id"]}, key=workspace.developer)
    assert acknowledged["acknowledgeAlert"]["status"] == "ACKNOWLEDGED"

    clock.set(start + timedelta(minutes=2))
    later = start + timedelta(minutes=6)
    repeat = await raise_one(gql, workspace, service="kept", endsAt=iso(later))
    assert moment(repeat["endsAt"]) == later, "a repeat in time moves the end forward"
    earlier = await raise_one(gql, workspace, service="kept", endsAt=iso(ends))
    assert moment(earlier["endsAt"]) == later, "the later end wins, as in Alertmanager"
    unended = await raise_one(gql, workspace, service="kept")
    assert moment(unended["endsAt"]) == later, "a repeat without an end keeps the end"

    clock.set(ends - timedelta(seconds=1))
    await sweep(services)
    assert (await read(gql, workspace, lapsing["id"]))["status"] == "ACKNOWLEDGED"

    clock.set(ends)
    await sweep(services)
    resolved = await read(gql, workspace, lapsing["id"])
    assert resolved["status"] == "RESOLVED"
    assert (moment(resolved["resolvedAt"]), resolved["resolvedBy"]) == (ends, "alert-expiry")
    assert [e["type"] for e in resolved["events"]][-1] == "alert.resolved"
    assert resolved["events"][-1]["payload"]["actor"] == "alert-expiry"
    assert resolved["events"][-1]["payload"]["status"] == "RESOLVED"
    assert (await read(gql, workspace, kept["id"]))["status"] == "FIRING"

    clock.set(start + timedelta(days=30))
    await sweep(services)
    assert (await read(gql, workspace, kept["id"]))["status"] == "RESOLVED"
    assert (await read(gql, workspace, endless["id"]))["status"] == "FIRING"
    events = (await read(gql, workspace, lapsing["id"]))["events"]
    assert [e["type"] for e in events].count("alert.resolved") == 1, "resolved once only"


async def test_the_sweep_resolves_as_a_manual_resolve_does(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    clock = paused_runner
    start = clock.now()
    manual = await raise_one(gql, workspace, service="manual")
    expiring = await raise_one(
        gql, workspace, service="expiring", endsAt=iso(start + timedelta(seconds=30))
    )
    clock.set(start + timedelta(seconds=30))
    by_hand = (await gql.data(RESOLVE, {"id": manual["id"]}, key=workspace.developer))[
        "resolveAlert"
    ]
    await sweep(services)
    swept = await read(gql, workspace, expiring["id"])
    assert [e["type"] for e in swept["events"]] == [e["type"] for e in by_hand["events"]]
    hand_payload, swept_payload = by_hand["events"][-1]["payload"], swept["events"][-1]["payload"]
    assert set(swept_payload) == set(hand_payload)
    assert swept["resolvedAt"] == by_hand["resolvedAt"]


async def test_the_sweep_is_a_periodic_job_with_its_own_interval(services: Services) -> None:
    job = services.runner.periodic["alert_expiry_sweep"]
    assert job.interval == services.settings.alert_expiry_sweep_interval
    assert services.settings.alert_expiry_sweep_interval == timedelta(seconds=30)
