"""The escalation sweep, driven through the API with the session clock moved by hand.

Each test pauses the job runner and runs the sweep itself at chosen moments;
notifications go out through the real receivers of the notification tests (an
HTTP endpoint and an SMTP server on loopback).
"""

import json
from datetime import timedelta
from typing import Any

from server.core.clock import FrozenClock
from server.core.services import Services
from tests.conftest import START, Workspace
from tests.escalation.helpers import (
    ACK,
    RESOLVE,
    add_shift,
    create_policy,
    executions,
    raise_alert,
    set_fallback,
    step,
    summary,
    sweep_at,
)
from tests.graphql_client import GraphQLClient
from tests.notifications.helpers import NOTIFICATIONS, create_route, deliveries, run_jobs
from tests.notifications.receivers import smtp_server, webhook_receiver

T0 = START + timedelta(days=3)
HOUR = timedelta(hours=1)
PRIMARY = "oncall://primary"
SECONDARY = "oncall://secondary"
NEVER_MATCHES = [{"label": "team", "op": "EQ", "value": "nobody"}]
ALERT_EVENTS = "query($id: ID!) { alert(id: $id) { timeoutEscalatedAt events { type payload } } }"


def seconds(count: int) -> timedelta:
    return timedelta(seconds=count)


def mail_for(workspace: Workspace, person: str) -> str:
    return f"{person}.{workspace.name}@example.com"


async def staff(gql: GraphQLClient, workspace: Workspace, schedule: str, *people: Any) -> None:
    """Shifts of (person, start, end) in ``schedule``, each with a mail address of its own."""
    for person, starts_at, ends_at in people:
        await add_shift(
            gql,
            workspace.developer,
            schedule,
            person,
            starts_at,
            ends_at,
            contact=mail_for(workspace, person),
        )


async def test_an_unacknowledged_page_escalates_step_by_step_to_whoever_is_on_call(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    clock, key = paused_runner, workspace.developer
    clock.set(T0)
    await staff(
        gql,
        workspace,
        "primary",
        ("alice", T0 - HOUR, T0 + seconds(600)),
        ("bob", T0 + seconds(600), T0 + 2 * HOUR),
    )
    await staff(gql, workspace, "secondary", ("carol", T0 - HOUR, T0 + 2 * HOUR))
    async with webhook_receiver() as receiver, smtp_server() as sink:
        await create_route(
            gql, key, name="ops-hook", channel="WEBHOOK", url=receiver.url, matchers=NEVER_MATCHES
        )
        await create_policy(
            gql,
            key,
            step(300, PRIMARY),
            step(600, SECONDARY, "route://ops-hook"),
            repeat=1,
            matchers=[{"label": "severity", "op": "EQ", "value": "PAGE"}],
        )
        alert = (await raise_alert(gql, key))["id"]
        await raise_alert(gql, key, "checkout-slow", severity="WARNING")  # no policy matches

        expected: list[tuple[str, int, int, str, list[str]]] = []
        for at, new in [
            (299, []),
            (300, [("ACK_TIMEOUT", 0, 0, PRIMARY, ["alice"])]),
            # Bob took over primary at 600 s, after step 0 had reached it.
            (899, [("SHIFT_HANDOVER", 0, 0, PRIMARY, ["bob"])]),
            (
                900,
                [
                    ("ACK_TIMEOUT", 1, 0, SECONDARY, ["carol"]),
                    ("ACK_TIMEOUT", 1, 0, "route://ops-hook", ["route://ops-hook"]),
                ],
            ),
            (1199, []),
            # The list runs again (repeat 1): primary is Bob's now.
            (1200, [("ACK_TIMEOUT", 0, 1, PRIMARY, ["bob"])]),
            (
                1800,
                [
                    ("ACK_TIMEOUT", 1, 1, SECONDARY, ["carol"]),
                    ("ACK_TIMEOUT", 1, 1, "route://ops-hook", ["route://ops-hook"]),
                ],
            ),
            (7000, []),  # every run done
        ]:
            await sweep_at(services, clock, T0 + seconds(at))
            expected += new
            found = await executions(gql, workspace.viewer, alert)
            assert summary(found) == expected, at
        times = [found[index]["executedAt"] for index in (0, 1, 2, 4, 5)]
        assert times == [(T0 + seconds(s)).isoformat() for s in (300, 899, 900, 1200, 1800)]
        assert {e["alert"]["id"] for e in found} == {alert}
        assert not any(e["undeliverable"] for e in found)

        # The people got in-app notifications and mails; the route got signed webhooks.
        for person, count in (("alice", 1), ("bob", 2), ("carol", 2)):
            inbox = await gql.data(NOTIFICATIONS, {"recipient": person}, key=workspace.viewer)
            assert inbox["notifications"]["totalCount"] == count, person
        smtp = services.settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_tls": "none"}
        )
        await run_jobs(services, smtp)
        mailed = [rcpt for envelope, _ in sink.mails for rcpt in envelope.rcpt_tos]
        for person, count in (("alice", 1), ("bob", 2), ("carol", 2)):
            assert mailed.count(mail_for(workspace, person)) == count, person
        hooks = [json.loads(request.body) for request in receiver.requests]
        assert len(hooks) == 2
        assert all("webhook-signature" in request.headers for request in receiver.requests)
        assert alert in json.dumps(hooks)


async def test_acknowledging_or_resolving_stops_the_escalation(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    clock, key = paused_runner, workspace.developer
    clock.set(T0)
    await staff(gql, workspace, "primary", ("alice", T0 - HOUR, T0 + 2 * HOUR))
    await create_policy(gql, key, step(60, PRIMARY), step(60, PRIMARY), repeat=3)
    acknowledged = (await raise_alert(gql, key, "acknowledged"))["id"]
    resolved = (await raise_alert(gql, key, "resolved"))["id"]
    await sweep_at(services, clock, T0 + seconds(60))
    assert len(await executions(gql, workspace.viewer, acknowledged)) == 1
    await gql.data(ACK, {"id": acknowledged}, key=key)
    await gql.data(RESOLVE, {"id": resolved}, key=key)
    for at in (120, 180, 3600):
        await sweep_at(services, clock, T0 + seconds(at))
    assert len(await executions(gql, workspace.viewer, acknowledged)) == 1
    assert len(await executions(gql, workspace.viewer, resolved)) == 1


async def test_a_shift_handover_notifies_the_incoming_person_of_the_open_alerts(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    clock, key = paused_runner, workspace.developer
    clock.set(T0)
    handover = T0 + timedelta(minutes=30)
    await staff(
        gql,
        workspace,
        "primary",
        ("alice", T0 - HOUR, handover),
        ("bob", handover, T0 + 3 * HOUR),
    )
    # A schedule the escalation never reached changes hands too.
    await staff(
        gql, workspace, "secondary", ("carol", T0 - HOUR, handover), ("dave", handover, T0 + HOUR)
    )
    await create_policy(gql, key, step(0, PRIMARY), step(7200, SECONDARY))
    open_alert = (await raise_alert(gql, key, "open"))["id"]
    acknowledged = (await raise_alert(gql, key, "acknowledged"))["id"]
    await sweep_at(services, clock, T0)
    await gql.data(ACK, {"id": acknowledged}, key=key)
    await sweep_at(services, clock, handover - seconds(1))
    await sweep_at(services, clock, handover + seconds(10))
    await sweep_at(services, clock, handover + seconds(25))

    assert summary(await executions(gql, workspace.viewer, open_alert)) == [
        ("ACK_TIMEOUT", 0, 0, PRIMARY, ["alice"]),
        ("SHIFT_HANDOVER", 0, 0, PRIMARY, ["bob"]),
    ]
    assert summary(await executions(gql, workspace.viewer, acknowledged)) == [
        ("ACK_TIMEOUT", 0, 0, PRIMARY, ["alice"])
    ]
    # An alert that fires after the handover has nothing to hand over.
    later = (await raise_alert(gql, key, "later"))["id"]
    await sweep_at(services, clock, handover + seconds(40))
    assert summary(await executions(gql, workspace.viewer, later)) == [
        ("ACK_TIMEOUT", 0, 0, PRIMARY, ["bob"])
    ]


async def test_nobody_on_call_reaches_the_fallback_and_is_recorded_as_undeliverable(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    clock, key = paused_runner, workspace.developer
    clock.set(T0)
    lead = mail_for(workspace, "lead")
    await set_fallback(gql, key, "nights", lead)
    await create_policy(gql, key, step(0, "oncall://nights", "oncall://nobody", "route://gone"))
    alert = (await raise_alert(gql, key))["id"]
    await sweep_at(services, clock, T0 + seconds(1))

    found = await executions(gql, workspace.viewer, alert)
    assert [(e["target"], e["recipients"], e["undeliverable"]) for e in found] == [
        ("oncall://nights", ["fallback"], True),
        ("oncall://nobody", [], True),
        ("route://gone", [], True),
    ]
    shown = await deliveries(gql, workspace.viewer, alertId=alert)
    undeliverable = sorted(d["target"] for d in shown if d["status"] == "UNDELIVERABLE")
    assert undeliverable == ["oncall://nights", "oncall://nobody", "route://gone"]
    assert [d["target"] for d in shown if d["channel"] == "EMAIL"] == [lead]
    inbox = await gql.data(NOTIFICATIONS, {"recipient": "fallback"}, key=workspace.viewer)
    assert inbox["notifications"]["totalCount"] == 1


async def test_an_alert_that_fires_again_often_enough_escalates_at_once(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    clock, key = paused_runner, workspace.developer
    clock.set(T0)
    await staff(gql, workspace, "primary", ("alice", T0 - HOUR, T0 + 2 * HOUR))
    await create_policy(gql, key, step(3600, PRIMARY), refireThreshold=2)
    alert = (await raise_alert(gql, key))["id"]
    await sweep_at(services, clock, T0 + seconds(10))
    await raise_alert(gql, key)
    await sweep_at(services, clock, T0 + seconds(20))  # one re-fire: not yet
    assert await executions(gql, workspace.viewer, alert) == []
    assert (await raise_alert(gql, key))["occurrenceCount"] == 3
    await sweep_at(services, clock, T0 + seconds(30))
    await raise_alert(gql, key)
    await sweep_at(services, clock, T0 + seconds(40))  # counted from the last escalation
    await raise_alert(gql, key)
    await sweep_at(services, clock, T0 + seconds(50))
    await sweep_at(services, clock, T0 + seconds(3600))  # the step itself, on time
    assert summary(await executions(gql, workspace.viewer, alert)) == [
        ("REPEAT_TRIGGER", 0, 0, PRIMARY, ["alice"]),
        ("REPEAT_TRIGGER", 0, 0, PRIMARY, ["alice"]),
        ("ACK_TIMEOUT", 0, 0, PRIMARY, ["alice"]),
    ]
    shown = (await gql.data(ALERT_EVENTS, {"id": alert}, key=workspace.viewer))["alert"]
    reasons = [e["payload"]["reason"] for e in shown["events"] if e["type"] == "alert.escalated"]
    assert reasons == ["REPEAT_TRIGGER", "REPEAT_TRIGGER", "ACK_TIMEOUT"]


SILENCE = "mutation($input: SilenceRuleInput!) { createSilenceRule(input: $input) { id } }"
EXPIRE = "mutation($id: ID!) { expireSilence(id: $id) { id } }"
AGGREGATE = (
    "mutation($input: AggregationRuleInput!) { createAggregationRule(input: $input) { id } }"
)


async def test_silenced_and_noise_suppressed_alerts_never_escalate(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    clock, key = paused_runner, workspace.developer
    clock.set(T0)
    await staff(gql, workspace, "primary", ("alice", T0 - HOUR, T0 + 5 * HOUR))
    await create_policy(gql, key, step(60, PRIMARY), refireThreshold=1)
    rule = {"matchers": [{"label": "service", "op": "EQ", "value": "search"}]}
    silence = await gql.data(
        SILENCE, {"input": {**rule, "endsAt": (T0 + 2 * HOUR).isoformat()}}, key=key
    )
    await gql.data(
        AGGREGATE,
        {
            "input": {
                "name": "batch",
                "groupBy": ["service"],
                "windowSeconds": 3600,
                "maxNotifications": 0,
                "matchers": [{"label": "service", "op": "EQ", "value": "batch"}],
            }
        },
        key=key,
    )
    silenced = await raise_alert(gql, key, "search-down", service="search")
    suppressed = await raise_alert(gql, key, "batch-late", service="batch")
    assert (silenced["silenced"], suppressed["noiseSuppressed"]) == (True, True)
    await raise_alert(gql, key, "search-down", service="search")  # a re-fire, silenced too
    for at in (60, 600, 3600):
        await sweep_at(services, clock, T0 + seconds(at))
    assert await executions(gql, workspace.viewer, silenced["id"]) == []
    assert await executions(gql, workspace.viewer, suppressed["id"]) == []

    # Once the silence lifts, the overdue step runs.
    await gql.data(EXPIRE, {"id": silence["createSilenceRule"]["id"]}, key=key)
    await sweep_at(services, clock, T0 + seconds(3660))
    assert summary(await executions(gql, workspace.viewer, silenced["id"])) == [
        ("ACK_TIMEOUT", 0, 0, PRIMARY, ["alice"])
    ]
    assert await executions(gql, workspace.viewer, suppressed["id"]) == []


SLA = """
query($from: DateTime!, $to: DateTime!) {
  slaOverview(from: $from, to: $to) { total acknowledged timeoutEscalated timeoutEscalationRate }
}"""


async def test_the_sla_overview_counts_the_timeout_escalations(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    clock, key = paused_runner, workspace.developer
    clock.set(T0)
    await create_policy(gql, key, step(300, "oncall://primary"))
    quick = (await raise_alert(gql, key, "quick"))["id"]
    slow = (await raise_alert(gql, key, "slow"))["id"]
    clock.set(T0 + seconds(100))
    await gql.data(ACK, {"id": quick}, key=key)
    await sweep_at(services, clock, T0 + seconds(300))

    variables = {"from": T0.isoformat(), "to": (T0 + HOUR).isoformat()}
    overview = (await gql.data(SLA, variables, key=workspace.viewer))["slaOverview"]
    assert overview == {
        "total": 2,
        "acknowledged": 1,
        "timeoutEscalated": 1,
        "timeoutEscalationRate": 0.5,
    }
    shown = (await gql.data(ALERT_EVENTS, {"id": slow}, key=workspace.viewer))["alert"]
    assert shown["timeoutEscalatedAt"] == (T0 + seconds(300)).isoformat()
    escalated = [e["payload"] for e in shown["events"] if e["type"] == "alert.escalated"]
    assert [(p["reason"], p["step"], p["target"]) for p in escalated] == [
        ("ACK_TIMEOUT", 0, "oncall://primary")
    ]


async def test_a_workspace_escalates_only_its_own_alerts(
    gql: GraphQLClient,
    workspace: Workspace,
    other_workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
) -> None:
    clock = paused_runner
    clock.set(T0)
    await create_policy(gql, workspace.developer, step(0, PRIMARY))
    mine = (await raise_alert(gql, workspace.developer))["id"]
    theirs = (await raise_alert(gql, other_workspace.developer))["id"]
    await sweep_at(services, clock, T0 + seconds(1))
    assert len(await executions(gql, workspace.viewer, mine)) == 1
    assert await executions(gql, other_workspace.viewer, theirs) == []
    assert await executions(gql, other_workspace.viewer, mine) == []
    # The alert shows them too, batched for a list of alerts.
    listed = await gql.data(ALERTS_WITH_EXECUTIONS, key=workspace.viewer)
    shown = [edge["node"] for edge in listed["alerts"]["edges"]]
    assert shown == [
        {"id": mine, "escalationExecutions": [{"reason": "ACK_TIMEOUT", "recipients": []}]}
    ]


ALERTS_WITH_EXECUTIONS = """
{ alerts { edges { node { id escalationExecutions { reason recipients } } } } }
"""
