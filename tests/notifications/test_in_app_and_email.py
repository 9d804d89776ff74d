"""In-app notifications, email to a real SMTP server, what is not notified, and the
entry points of the escalation domain."""

from datetime import timedelta
from typing import Any

import pytest

from server.core.clock import FrozenClock
from server.core.errors import NotFound
from server.core.services import Services
from server.notifications import dispatch
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.notifications.helpers import (
    ALERT_EVENTS,
    MARK_READ,
    NOTIFICATIONS,
    create_route,
    deliveries,
    raise_alert,
    run_jobs,
)
from tests.notifications.receivers import smtp_server, webhook_receiver
from tests.ws_client import subscription_client

SILENCE = """
mutation($input: SilenceRuleInput!) { createSilenceRule(input: $input) { id } }"""
AGGREGATE = """
mutation($input: AggregationRuleInput!) { createAggregationRule(input: $input) { id } }"""
SUBSCRIBE = """
subscription($filter: AlertEventFilter) {
  alertEvents(filter: $filter) { type payload }
}"""


async def inbox(gql: GraphQLClient, key: str, **arguments: Any) -> list[dict[str, Any]]:
    found = (await gql.data(NOTIFICATIONS, arguments, key=key))["notifications"]
    return [edge["node"] for edge in found["edges"]]


async def test_an_in_app_route_fills_an_inbox_that_is_read_and_marked_read(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    key = workspace.developer
    await create_route(
        gql,
        key,
        name="sre",
        channel="IN_APP",
        matchers=[{"label": "team", "op": "EQ", "value": "sre"}],
    )
    alert = await raise_alert(gql, key, labels={"team": "sre"}, summary="disk full")
    await raise_alert(gql, key, labels={"team": "web"})
    await run_jobs(services)
    await run_jobs(services)

    (notification,) = await inbox(gql, workspace.viewer)
    assert notification["recipient"] == "sre"
    assert notification["title"] == "[PAGE] checkout: disk full"
    assert "team=sre" in notification["body"]
    assert (notification["readAt"], notification["alert"]) == (None, {"id": alert["id"]})
    assert await inbox(gql, workspace.viewer, recipient="someone-else") == []

    read = (await gql.data(MARK_READ, {"id": notification["id"]}, key=workspace.viewer))[
        "markNotificationRead"
    ]
    assert read["readAt"] == paused_runner.now().isoformat()
    assert await inbox(gql, workspace.viewer, unreadOnly=True) == []
    assert len(await inbox(gql, workspace.viewer, recipient="sre")) == 1

    (delivery,) = await deliveries(gql, workspace.viewer)
    assert (delivery["channel"], delivery["status"], delivery["attempt"]) == (
        "IN_APP",
        "SUCCEEDED",
        1,
    )
    events = (await gql.data(ALERT_EVENTS, {"id": alert["id"]}, key=key))["alert"]["events"]
    (notified,) = [event["payload"] for event in events if event["type"] == "alert.notified"]
    assert (notified["recipient"], notified["channel"], notified["route"]) == (
        "sre",
        "IN_APP",
        "sre",
    )


async def test_alert_notified_reaches_alert_event_subscribers(
    gql: GraphQLClient,
    live_server: str,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
) -> None:
    await create_route(gql, workspace.developer, name="everything", channel="IN_APP")
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(SUBSCRIBE, {"filter": {"types": ["alert.notified"]}})
        alert = await raise_alert(gql, workspace.developer)
        await run_jobs(services)
        event = (await client.next_data())["alertEvents"]
    assert event["type"] == "alert.notified"
    assert event["payload"]["alertId"] == alert["id"]
    assert (event["payload"]["recipient"], event["payload"]["channel"]) == ("everything", "IN_APP")


async def test_email_goes_to_a_real_smtp_server(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    await create_route(
        gql, workspace.developer, name="mail", channel="EMAIL", email="oncall@example.com"
    )
    alert = await raise_alert(gql, workspace.developer, summary="queue backlog")
    async with smtp_server() as sink:
        settings = services.settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_tls": "none"}
        )
        assert await run_jobs(services, settings) == 1
    ((envelope, mail),) = sink.mails
    assert envelope.rcpt_tos == ["oncall@example.com"]
    assert mail["Subject"] == "[PAGE] checkout: queue backlog"
    assert mail["From"] == settings.smtp_from
    (delivery,) = await deliveries(gql, workspace.viewer)
    assert (delivery["channel"], delivery["status"], delivery["alert"]["id"]) == (
        "EMAIL",
        "SUCCEEDED",
        alert["id"],
    )
    assert mail["Message-ID"] == f"<{delivery['webhookId']}@opsgraph>"


async def test_without_an_smtp_host_an_email_attempt_fails_clearly(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    assert services.settings.smtp_host is None  # the embedded default
    await create_route(
        gql, workspace.developer, name="mail", channel="EMAIL", email="oncall@example.com"
    )
    await raise_alert(gql, workspace.developer)
    await run_jobs(services)
    first, retry = await deliveries(gql, workspace.viewer)
    assert first["status"] == "FAILED"
    assert "OPSGRAPH_SMTP_HOST" in first["error"]
    assert retry["status"] == "PENDING"


async def test_silenced_and_noise_suppressed_alerts_are_not_notified(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    key = workspace.developer
    await create_route(gql, key, name="everything", channel="IN_APP")
    silence = {
        "matchers": [{"label": "service", "op": "EQ", "value": "batch"}],
        "endsAt": (paused_runner.now() + timedelta(hours=1)).isoformat(),
    }
    await gql.data(SILENCE, {"input": silence}, key=key)
    rule = {
        "name": "one per group",
        "groupBy": ["service"],
        "windowSeconds": 600,
        "maxNotifications": 1,
    }
    await gql.data(AGGREGATE, {"input": rule}, key=key)
    silenced = await raise_alert(gql, key, service="batch")
    first = await raise_alert(gql, key, service="web", labels={"n": "1"})
    over_cap = await raise_alert(gql, key, service="web", labels={"n": "2"})
    assert (silenced["silenced"], over_cap["noiseSuppressed"]) == (True, True)
    await run_jobs(services)
    notified = [n["alert"]["id"] for n in await inbox(gql, workspace.viewer)]
    assert notified == [first["id"]]


async def test_another_workspace_s_alerts_do_not_reach_a_route(
    gql: GraphQLClient,
    workspace: Workspace,
    other_workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
) -> None:
    async with webhook_receiver() as receiver:
        await create_route(
            gql, workspace.developer, name="hook", channel="WEBHOOK", url=receiver.url
        )
        await raise_alert(gql, other_workspace.developer)
        await run_jobs(services)
        assert receiver.requests == []
    assert await deliveries(gql, workspace.viewer) == []
    assert await deliveries(gql, other_workspace.viewer) == []
    assert await inbox(gql, other_workspace.viewer) == []


async def test_a_route_is_notified_only_of_alerts_fired_after_it_was_created(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    await raise_alert(gql, workspace.developer, service="early")
    paused_runner.advance(timedelta(seconds=1))
    await create_route(gql, workspace.developer, name="late", channel="IN_APP")
    await run_jobs(services)
    assert await inbox(gql, workspace.viewer) == []


ALERT = {
    "alertId": "0",
    "fingerprint": "f",
    "service": "db",
    "severity": "PAGE",
    "status": "FIRING",
    "summary": "replica lag",
    "labels": {"team": "db"},
}


async def test_the_escalation_entry_points(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    workspace_id, now = int(workspace.id), paused_runner.now()
    await create_route(gql, workspace.developer, name="db-team", channel="IN_APP")
    raised = await raise_alert(gql, workspace.developer, service="db")
    alert = {**ALERT, "alertId": raised["id"]}
    async with services.outbox.transaction() as session:
        routed = await dispatch.notify_routes(
            session,
            notices=[dispatch.RouteNotice(workspace_id, "db-team", alert, "ACK_TIMEOUT")],
            now=now,
        )
        people = await dispatch.notify_people(
            session,
            notices=[
                dispatch.PersonNotice(
                    workspace_id, "alice", "alice@example.com", alert, "SHIFT_HANDOVER"
                ),
                dispatch.PersonNotice(
                    workspace_id, "bob", "https://example.com/bob", alert, "ACK_TIMEOUT"
                ),
            ],
            now=now,
        )
        lost = await dispatch.record_undeliverables(
            session,
            notices=[
                dispatch.UndeliverableNotice(
                    workspace_id, "oncall://active", alert, "nobody is on shift"
                )
            ],
            now=now,
        )
        assert await dispatch.route_names(session, workspace_id=workspace_id) == {"db-team"}
    assert (len(routed), [len(ids) for ids in people], len(lost)) == (1, [2, 2], 1)
    assert {n["recipient"] for n in await inbox(gql, workspace.viewer)} == {
        "db-team",
        "alice",
        "bob",
    }
    found = {
        (d["target"], d["channel"], d["status"]) for d in await deliveries(gql, workspace.viewer)
    }
    assert found == {
        ("db-team", "IN_APP", "SUCCEEDED"),
        ("alice", "IN_APP", "SUCCEEDED"),
        ("alice@example.com", "EMAIL", "PENDING"),
        ("bob", "IN_APP", "SUCCEEDED"),
        ("https://example.com/bob", None, "UNDELIVERABLE"),
        ("oncall://active", None, "UNDELIVERABLE"),
    }
    undeliverable = await deliveries(gql, workspace.viewer, status=["UNDELIVERABLE"])
    assert set(lost) <= {int(d["id"]) for d in undeliverable}
    assert {d["error"] for d in undeliverable} >= {"nobody is on shift"}
    in_app = {d["id"]: d["webhookId"] for d in await deliveries(gql, workspace.viewer)}
    events = (await gql.data(ALERT_EVENTS, {"id": raised["id"]}, key=workspace.viewer))["alert"]
    notified = [e["payload"] for e in events["events"] if e["type"] == "alert.notified"]
    assert [(p["recipient"], p["channel"], p["route"], p["reason"]) for p in notified] == [
        ("db-team", "IN_APP", "db-team", "ACK_TIMEOUT"),
        ("alice", "IN_APP", None, "SHIFT_HANDOVER"),
        ("bob", "IN_APP", None, "ACK_TIMEOUT"),
    ]
    assert all(in_app[p["deliveryId"]] == p["webhookId"] for p in notified)
    with pytest.raises(NotFound):
        async with services.outbox.transaction() as session:
            await dispatch.notify_routes(
                session,
                notices=[
                    dispatch.RouteNotice(workspace_id, "db-team", alert, "x"),
                    dispatch.RouteNotice(workspace_id, "nope", alert, "x"),
                ],
                now=now,
            )
