"""The alert lifecycle through GraphQL: transitions, refusals, access, the timeline,
the audit log, and the live ``alertEvents`` stream over websockets."""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from server.core.clock import FrozenClock
from tests.conftest import CREATE_KEY, Workspace
from tests.graphql_client import GraphQLClient
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, SubscriptionClient, subscription_client

ALERT_FIELDS = """id fingerprint service severity status occurrenceCount summary labels
  firstFiredAt lastFiredAt acknowledgedAt acknowledgedBy resolvedAt resolvedBy closedAt closedBy"""
RAISE = f"mutation($input: AlertInput!) {{ raiseAlert(input: $input) {{ {ALERT_FIELDS} }} }}"
ALERT = f"""query($id: ID!) {{ alert(id: $id) {{ {ALERT_FIELDS}
  events {{ type occurredAt payload }} }} }}"""
MUTATIONS = {
    "acknowledge": "acknowledgeAlert",
    "resolve": "resolveAlert",
    "close": "closeAlert",
}
AUDIT_LOG = """{ auditLog(first: 20) { edges { node {
  operation target outcome errorCode actorName variables } } } }"""
ALERT_EVENTS = """subscription($filter: AlertEventFilter, $after: String) {
  alertEvents(filter: $filter, after: $after) {
    schema cursor type occurredAt workspace payload
  }
}"""
LATEST_CURSOR = "{ latestEventCursor }"


def transition_query(verb: str) -> str:
    return f"mutation($id: ID!) {{ {MUTATIONS[verb]}(id: $id) {{ {ALERT_FIELDS} }} }}"


def moment(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


async def raise_alert(
    gql: GraphQLClient,
    key: str,
    *,
    service: str = "checkout",
    severity: str = "CRITICAL",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    alert = {
        "service": service,
        "summary": f"{service} is failing",
        "severity": severity,
        "labels": labels if labels is not None else {"run": uuid.uuid4().hex[:8]},
    }
    raised: dict[str, Any] = (await gql.data(RAISE, {"input": alert}, key=key))["raiseAlert"]
    return raised


async def transition(gql: GraphQLClient, verb: str, alert_id: str, key: str) -> dict[str, Any]:
    changed: dict[str, Any] = (await gql.data(transition_query(verb), {"id": alert_id}, key=key))[
        MUTATIONS[verb]
    ]
    return changed


async def read_alert(gql: GraphQLClient, workspace: Workspace, alert_id: str) -> dict[str, Any]:
    alert: dict[str, Any] = (await gql.data(ALERT, {"id": alert_id}, key=workspace.viewer))["alert"]
    assert alert is not None
    return alert


async def alert_in(gql: GraphQLClient, workspace: Workspace, status: str) -> dict[str, Any]:
    """A fresh alert walked to ``status`` by the developer key."""
    alert = await raise_alert(gql, workspace.developer)
    path = {
        "FIRING": [],
        "ACKNOWLEDGED": ["acknowledge"],
        "RESOLVED": ["resolve"],
        "CLOSED": ["resolve", "close"],
    }[status]
    for verb in path:
        alert = await transition(gql, verb, alert["id"], workspace.developer)
    assert alert["status"] == status
    return alert


async def audit_entries(gql: GraphQLClient, workspace: Workspace) -> list[dict[str, Any]]:
    data = await gql.data(AUDIT_LOG, key=workspace.admin)
    return [edge["node"] for edge in data["auditLog"]["edges"]]


async def named_key(gql: GraphQLClient, workspace: Workspace, name: str) -> str:
    issued = await gql.data(CREATE_KEY, {"name": name, "role": "DEVELOPER"}, key=workspace.admin)
    secret: str = issued["createApiKey"]["secret"]
    return secret


# --- transitions ------------------------------------------------------------------------


async def test_an_alert_walks_firing_acknowledged_resolved_closed(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    alice = await named_key(gql, workspace, "alice-oncall")
    bob = await named_key(gql, workspace, "bob-sre")
    fired_at = restore_clock.now()
    raised = await raise_alert(gql, workspace.developer)
    assert raised["status"] == "FIRING"
    for field in ("acknowledged", "resolved", "closed"):
        assert raised[f"{field}At"] is None
        assert raised[f"{field}By"] is None

    restore_clock.advance(timedelta(minutes=3))
    acked = await transition(gql, "acknowledge", raised["id"], alice)
    assert acked["id"] == raised["id"]
    assert acked["status"] == "ACKNOWLEDGED"
    assert moment(acked["acknowledgedAt"]) == fired_at + timedelta(minutes=3)
    assert acked["acknowledgedBy"] == "alice-oncall"
    assert acked["resolvedAt"] is None
    assert acked["closedAt"] is None

    restore_clock.advance(timedelta(minutes=7))
    resolved = await transition(gql, "resolve", raised["id"], bob)
    assert resolved["status"] == "RESOLVED"
    assert moment(resolved["resolvedAt"]) == fired_at + timedelta(minutes=10)
    assert resolved["resolvedBy"] == "bob-sre"
    assert resolved["acknowledgedBy"] == "alice-oncall", "earlier steps are kept"

    restore_clock.advance(timedelta(minutes=5))
    closed = await transition(gql, "close", raised["id"], workspace.admin)
    assert closed["status"] == "CLOSED"
    assert moment(closed["closedAt"]) == fired_at + timedelta(minutes=15)
    assert closed["closedBy"] == "admin"

    stored = await read_alert(gql, workspace, raised["id"])
    assert stored["status"] == "CLOSED"
    assert moment(stored["firstFiredAt"]) == fired_at
    assert moment(stored["acknowledgedAt"]) == fired_at + timedelta(minutes=3)
    assert moment(stored["resolvedAt"]) == fired_at + timedelta(minutes=10)
    assert moment(stored["closedAt"]) == fired_at + timedelta(minutes=15)
    assert (stored["acknowledgedBy"], stored["resolvedBy"], stored["closedBy"]) == (
        "alice-oncall",
        "bob-sre",
        "admin",
    )
    assert stored["occurrenceCount"] == 1

    events = stored["events"]
    assert [event["type"] for event in events] == [
        "alert.fired",
        "alert.acknowledged",
        "alert.resolved",
        "alert.closed",
    ]
    assert {event["payload"]["alertId"] for event in events} == {raised["id"]}
    assert [event["payload"]["status"] for event in events] == [
        "FIRING",
        "ACKNOWLEDGED",
        "RESOLVED",
        "CLOSED",
    ]
    assert [moment(event["occurredAt"]) - fired_at for event in events] == [
        timedelta(minutes=minutes) for minutes in (0, 3, 10, 15)
    ]
    assert [event["payload"].get("actor") for event in events[1:]] == [
        "alice-oncall",
        "bob-sre",
        "admin",
    ]


async def test_a_firing_alert_can_be_resolved_without_an_acknowledgement(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    raised = await raise_alert(gql, workspace.developer)
    restore_clock.advance(timedelta(minutes=2))
    resolved = await transition(gql, "resolve", raised["id"], workspace.developer)
    assert resolved["status"] == "RESOLVED"
    assert moment(resolved["resolvedAt"]) == restore_clock.now()
    assert resolved["resolvedBy"] == "developer"
    assert resolved["acknowledgedAt"] is None
    assert resolved["acknowledgedBy"] is None

    closed = await transition(gql, "close", raised["id"], workspace.developer)
    assert closed["status"] == "CLOSED"
    assert closed["closedBy"] == "developer"
    stored = await read_alert(gql, workspace, raised["id"])
    assert [event["type"] for event in stored["events"]] == [
        "alert.fired",
        "alert.resolved",
        "alert.closed",
    ]


REFUSED = [
    ("acknowledge", "ACKNOWLEDGED"),
    ("acknowledge", "RESOLVED"),
    ("acknowledge", "CLOSED"),
    ("resolve", "RESOLVED"),
    ("resolve", "CLOSED"),
    ("close", "FIRING"),
    ("close", "ACKNOWLEDGED"),
    ("close", "CLOSED"),
]


@pytest.mark.parametrize(("verb", "status"), REFUSED, ids=[f"{v}-{s}" for v, s in REFUSED])
async def test_a_refused_transition_is_a_conflict_and_changes_nothing(
    gql: GraphQLClient,
    workspace: Workspace,
    restore_clock: FrozenClock,
    verb: str,
    status: str,
) -> None:
    alert = await alert_in(gql, workspace, status)
    before = await read_alert(gql, workspace, alert["id"])
    restore_clock.advance(timedelta(minutes=1))

    body = await gql.execute(transition_query(verb), {"id": alert["id"]}, key=workspace.admin)
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "CONFLICT"
    assert status in error["message"]

    assert await read_alert(gql, workspace, alert["id"]) == before
    [latest] = (await audit_entries(gql, workspace))[:1]
    assert (latest["operation"], latest["outcome"], latest["errorCode"]) == (
        MUTATIONS[verb],
        "error",
        "CONFLICT",
    )


@pytest.mark.parametrize("verb", list(MUTATIONS))
async def test_an_unknown_alert_is_not_found(
    gql: GraphQLClient, workspace: Workspace, verb: str
) -> None:
    for alert_id in ("999999999", "9223372036854775807"):
        code = await gql.error_code(
            transition_query(verb), {"id": alert_id}, key=workspace.developer
        )
        assert code == "NOT_FOUND", alert_id


OUT_OF_RANGE_IDS = ["abc", "", "0", "-1", "9223372036854775808", "99999999999999999999"]


@pytest.mark.parametrize("verb", list(MUTATIONS))
async def test_an_id_that_is_no_row_id_is_bad_input_never_internal(
    gql: GraphQLClient, workspace: Workspace, verb: str
) -> None:
    for alert_id in OUT_OF_RANGE_IDS:
        body = await gql.execute(transition_query(verb), {"id": alert_id}, key=workspace.developer)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (alert_id, error)
        assert error["extensions"]["field"] == "id"


async def test_the_alert_query_refuses_an_id_that_is_no_row_id(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    for alert_id in OUT_OF_RANGE_IDS:
        body = await gql.execute(ALERT, {"id": alert_id}, key=workspace.viewer)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (alert_id, error)


@pytest.mark.parametrize("verb", list(MUTATIONS))
async def test_an_alert_of_another_workspace_is_not_found_and_untouched(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace, verb: str
) -> None:
    status = "RESOLVED" if verb == "close" else "FIRING"
    theirs = await alert_in(gql, other_workspace, status)
    before = await read_alert(gql, other_workspace, theirs["id"])
    for key in (workspace.developer, workspace.admin):
        code = await gql.error_code(transition_query(verb), {"id": theirs["id"]}, key=key)
        assert code == "NOT_FOUND"
    assert await read_alert(gql, other_workspace, theirs["id"]) == before


@pytest.mark.parametrize("verb", list(MUTATIONS))
async def test_a_viewer_cannot_change_an_alert(
    gql: GraphQLClient, workspace: Workspace, verb: str
) -> None:
    status = "RESOLVED" if verb == "close" else "FIRING"
    alert = await alert_in(gql, workspace, status)
    before = await read_alert(gql, workspace, alert["id"])
    code = await gql.error_code(transition_query(verb), {"id": alert["id"]}, key=workspace.viewer)
    assert code == "FORBIDDEN"
    assert await read_alert(gql, workspace, alert["id"]) == before
    [latest] = (await audit_entries(gql, workspace))[:1]
    assert (latest["operation"], latest["errorCode"], latest["actorName"]) == (
        MUTATIONS[verb],
        "FORBIDDEN",
        "viewer",
    )


async def test_every_transition_is_in_the_audit_log(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    raised = await raise_alert(gql, workspace.developer)
    for verb in ("acknowledge", "resolve", "close"):
        await transition(gql, verb, raised["id"], workspace.developer)

    entries = await audit_entries(gql, workspace)
    alert_entries = [e for e in entries if e["operation"] in {"raiseAlert", *MUTATIONS.values()}]
    assert [e["operation"] for e in alert_entries] == [
        "closeAlert",
        "resolveAlert",
        "acknowledgeAlert",
        "raiseAlert",
    ]
    for entry in alert_entries:
        assert entry["target"] == f"Alert:{raised['id']}"
        assert entry["outcome"] == "ok"
        assert entry["errorCode"] is None
        assert entry["actorName"] == "developer"
    assert alert_entries[0]["variables"] == {"id": raised["id"]}


async def test_two_concurrent_acknowledgements_let_exactly_one_win(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    alert = await raise_alert(gql, workspace.developer)
    alice = await named_key(gql, workspace, "alice")
    bob = await named_key(gql, workspace, "bob")
    bodies = await asyncio.gather(
        *(
            gql.execute(transition_query("acknowledge"), {"id": alert["id"]}, key=key)
            for key in (alice, bob, alice, bob)
        )
    )
    winners = [body for body in bodies if not body.get("errors")]
    losers = [body for body in bodies if body.get("errors")]
    assert len(winners) == 1
    assert [body["errors"][0]["extensions"]["code"] for body in losers] == ["CONFLICT"] * 3
    stored = await read_alert(gql, workspace, alert["id"])
    winner = winners[0]["data"]["acknowledgeAlert"]
    assert stored["acknowledgedBy"] == winner["acknowledgedBy"]
    assert [event["type"] for event in stored["events"]] == [
        "alert.fired",
        "alert.acknowledged",
    ]


async def test_the_alert_query_is_null_for_unknown_and_foreign_ids(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    theirs = await raise_alert(gql, other_workspace.developer)
    for alert_id in (theirs["id"], "999999999"):
        data = await gql.data(ALERT, {"id": alert_id}, key=workspace.viewer)
        assert data["alert"] is None
    assert (await read_alert(gql, other_workspace, theirs["id"]))["id"] == theirs["id"]


# --- the alertEvents stream -------------------------------------------------------------


async def next_event(client: SubscriptionClient) -> dict[str, Any]:
    envelope: dict[str, Any] = (await client.next_data())["alertEvents"]
    return envelope


async def latest_cursor(gql: GraphQLClient, workspace: Workspace) -> str:
    cursor: str = (await gql.data(LATEST_CURSOR, key=workspace.viewer))["latestEventCursor"]
    return cursor


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_every_change_streams_in_order_to_a_filtered_subscriber(
    gql: GraphQLClient, live_server: str, workspace: Workspace, protocol: str
) -> None:
    after = await latest_cursor(gql, workspace)
    async with subscription_client(live_server, workspace.viewer, protocol) as client:
        await client.subscribe(ALERT_EVENTS, {"filter": {"services": ["checkout"]}, "after": after})
        labels = {"pod": "a"}
        raised = await raise_alert(gql, workspace.developer, labels=labels)
        await raise_alert(gql, workspace.developer, service="payments")
        await raise_alert(gql, workspace.developer, labels=labels)
        for verb in ("acknowledge", "resolve", "close"):
            await transition(gql, verb, raised["id"], workspace.developer)
        received = [await next_event(client) for _ in range(5)]
        await client.expect_silence(0.5)

    assert [e["type"] for e in received] == [
        "alert.fired",
        "alert.deduplicated",
        "alert.acknowledged",
        "alert.resolved",
        "alert.closed",
    ]
    assert {e["payload"]["alertId"] for e in received} == {raised["id"]}
    assert [e["payload"]["status"] for e in received] == [
        "FIRING",
        "FIRING",
        "ACKNOWLEDGED",
        "RESOLVED",
        "CLOSED",
    ]
    assert [e["payload"]["occurrenceCount"] for e in received] == [1, 2, 2, 2, 2]
    assert {e["payload"]["service"] for e in received} == {"checkout"}
    assert {e["schema"] for e in received} == {"opsgraph.alert-event.v1"}
    assert {e["workspace"] for e in received} == {workspace.id}
    cursors = [int(e["cursor"]) for e in received]
    assert cursors == sorted(set(cursors))
    assert cursors[0] > int(after)


async def test_live_events_arrive_without_a_cursor(
    gql: GraphQLClient, live_server: str, workspace: Workspace
) -> None:
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(ALERT_EVENTS, {"filter": {"types": ["alert.fired"]}})
        # Until the subscription is live a raise may go unseen: raise until one arrives.
        sentinels: set[str] = set()
        for _ in range(20):
            sentinels.add((await raise_alert(gql, workspace.developer))["id"])
            try:
                first = await client.next_data(wait=1.0)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("the subscription never went live")
        assert first["alertEvents"]["payload"]["alertId"] in sentinels
        live = await raise_alert(gql, workspace.developer, severity="PAGE")
        await transition(gql, "acknowledge", live["id"], workspace.developer)
        received = await next_event(client)
        while received["payload"]["alertId"] in sentinels:  # a late sentinel
            received = await next_event(client)
        await client.expect_silence(0.5)
    assert received["type"] == "alert.fired"
    assert received["payload"]["alertId"] == live["id"]
    assert received["payload"]["severity"] == "PAGE"
    assert int(received["cursor"]) > int(first["alertEvents"]["cursor"])


async def test_the_severities_and_types_filters_narrow_the_stream(
    gql: GraphQLClient, live_server: str, workspace: Workspace
) -> None:
    after = await latest_cursor(gql, workspace)
    async with (
        subscription_client(live_server, workspace.viewer) as urgent,
        subscription_client(live_server, workspace.viewer) as acks,
        subscription_client(live_server, workspace.viewer) as combined,
    ):
        await urgent.subscribe(
            ALERT_EVENTS, {"filter": {"severities": ["CRITICAL", "PAGE"]}, "after": after}
        )
        await acks.subscribe(
            ALERT_EVENTS, {"filter": {"types": ["alert.acknowledged"]}, "after": after}
        )
        await combined.subscribe(
            ALERT_EVENTS,
            {
                "filter": {
                    "services": ["payments"],
                    "severities": ["WARNING"],
                    "types": ["alert.fired", "alert.resolved"],
                },
                "after": after,
            },
        )
        raised = {
            severity: await raise_alert(gql, workspace.developer, severity=severity)
            for severity in ("INFO", "WARNING", "CRITICAL", "PAGE")
        }
        payments = await raise_alert(
            gql, workspace.developer, service="payments", severity="WARNING"
        )
        await raise_alert(gql, workspace.developer, service="payments", severity="PAGE")
        await transition(gql, "acknowledge", raised["INFO"]["id"], workspace.developer)
        await transition(gql, "acknowledge", raised["PAGE"]["id"], workspace.developer)
        await transition(gql, "acknowledge", payments["id"], workspace.developer)
        await transition(gql, "resolve", payments["id"], workspace.developer)

        urgent_seen = [await next_event(urgent) for _ in range(4)]
        acks_seen = [await next_event(acks) for _ in range(3)]
        combined_seen = [await next_event(combined) for _ in range(2)]
        for client in (urgent, acks, combined):
            await client.expect_silence(0.3)

    assert [(e["type"], e["payload"]["severity"]) for e in urgent_seen] == [
        ("alert.fired", "CRITICAL"),
        ("alert.fired", "PAGE"),
        ("alert.fired", "PAGE"),
        ("alert.acknowledged", "PAGE"),
    ]
    assert [e["payload"]["alertId"] for e in acks_seen] == [
        raised["INFO"]["id"],
        raised["PAGE"]["id"],
        payments["id"],
    ]
    assert {e["type"] for e in acks_seen} == {"alert.acknowledged"}
    assert [(e["type"], e["payload"]["alertId"]) for e in combined_seen] == [
        ("alert.fired", payments["id"]),
        ("alert.resolved", payments["id"]),
    ]


async def test_a_bad_severity_in_the_event_filter_is_refused(
    live_server: str, workspace: Workspace
) -> None:
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(ALERT_EVENTS, {"filter": {"severities": ["LOUD"]}})
        message = await client.receive()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_resuming_after_the_latest_cursor_replays_then_goes_live(
    gql: GraphQLClient, live_server: str, workspace: Workspace
) -> None:
    after = await latest_cursor(gql, workspace)
    alert = await raise_alert(gql, workspace.developer)
    await raise_alert(gql, workspace.developer, labels=alert["labels"])
    await transition(gql, "acknowledge", alert["id"], workspace.developer)
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(ALERT_EVENTS, {"after": after})
        replayed = [await next_event(client) for _ in range(3)]
        await transition(gql, "resolve", alert["id"], workspace.developer)
        await transition(gql, "close", alert["id"], workspace.developer)
        live = [await next_event(client) for _ in range(2)]
        await client.expect_silence(0.5)
    received = replayed + live
    assert [e["type"] for e in received] == [
        "alert.fired",
        "alert.deduplicated",
        "alert.acknowledged",
        "alert.resolved",
        "alert.closed",
    ]
    assert [e["payload"]["occurrenceCount"] for e in received] == [1, 2, 2, 2, 2]
    cursors = [int(e["cursor"]) for e in received]
    assert cursors == sorted(set(cursors)), "in order, each once"

    # The timeline of the alert holds the same events with the same cursors.
    stored = await read_alert(gql, workspace, alert["id"])
    assert [e["type"] for e in stored["events"]] == [e["type"] for e in received]


async def test_a_subscriber_of_another_workspace_sees_none_of_the_events(
    gql: GraphQLClient, live_server: str, workspace: Workspace, other_workspace: Workspace
) -> None:
    after = await latest_cursor(gql, other_workspace)
    async with subscription_client(live_server, other_workspace.admin) as theirs:
        await theirs.subscribe(ALERT_EVENTS, {"after": after})
        # Their own sentinel proves the subscription is live before ours are raised.
        sentinel = await raise_alert(gql, other_workspace.developer, service="sentinel")
        assert (await next_event(theirs))["payload"]["alertId"] == sentinel["id"]

        mine = await raise_alert(gql, workspace.developer)
        await raise_alert(gql, workspace.developer, labels=mine["labels"])
        for verb in ("acknowledge", "resolve", "close"):
            await transition(gql, verb, mine["id"], workspace.developer)
        await theirs.expect_silence(0.6)

        closing = await raise_alert(gql, other_workspace.developer, service="sentinel")
        last = await next_event(theirs)
    assert last["payload"]["alertId"] == closing["id"]
    assert last["workspace"] == other_workspace.id
