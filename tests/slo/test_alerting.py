"""Burn-rate alerts from the scheduled sweep, tiers, the FREEZE budget policy and
postmortem flags; their events on the alert stream."""

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from server.core.clock import FrozenClock
from server.core.events import service as events
from server.core.events.service import Stream
from server.core.services import Services
from server.core.tasks.models import PeriodicJob
from tests.conftest import START, Workspace
from tests.graphql_client import GraphQLClient
from tests.slo.helpers import (
    create_policy,
    evaluate,
    ingest,
    ratio_policy,
    sample,
    slo_alerts,
    spread,
    threshold_policy,
)
from tests.ws_client import SubscriptionClient, subscription_client

ALERT_EVENTS = """subscription($after: String) {
  alertEvents(after: $after) { schema cursor type occurredAt workspace payload }
}"""
AT = START - timedelta(hours=1)
GOOD, BAD = 100.0, 500.0


async def run_due_jobs(services: Services) -> None:
    """What the job runner does on its next tick, with the SLO sweep due.

    Other tests move the session clock too, so the sweep's next run may lie
    anywhere; the runner registers its jobs' rows only once it has started.
    """
    await services.runner._ensure_periodic_rows()
    async with services.db.transaction() as session:
        await session.execute(
            update(PeriodicJob)
            .where(PeriodicJob.name == "slo_sweep")
            .values(next_run_at=services.clock.now())
        )
    while await services.runner.run_due_periodic():
        pass


async def receive(client: SubscriptionClient, count: int) -> list[dict[str, Any]]:
    received = [(await client.next_data())["alertEvents"] for _ in range(count)]
    await client.expect_silence(0.3)
    return received


def types(envelopes: list[dict[str, Any]]) -> list[str]:
    return sorted(envelope["type"] for envelope in envelopes)


async def test_the_sweep_pages_deduplicates_and_resolves_and_subscribers_see_it(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    live_server: str,
) -> None:
    clock = paused_runner
    key = workspace.developer
    policy = await create_policy(gql, key, threshold_policy(objective=99.0, window_days=1))
    # Ten hours of fast answers, one every 6 minutes up to now.
    await ingest(gql, key, spread(100, GOOD, newest=START, every=timedelta(minutes=6)))
    # From the newest cursor: no event of the test can slip by before the
    # subscription is in place.
    cursor = (await gql.data("{ latestEventCursor }", key=workspace.viewer))["latestEventCursor"]
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(ALERT_EVENTS, {"after": cursor})
        clock.advance(timedelta(minutes=1))
        await run_due_jobs(services)
        [healthy] = await receive(client, 1)
        assert healthy["type"] == "slo.evaluated"
        assert healthy["schema"] == "opsgraph.alert-event.v1"
        assert healthy["payload"]["policyId"] == policy["id"]
        assert healthy["payload"]["status"] == "HEALTHY"

        # A fast burn: 20 slow answers over the last 10 minutes.
        burn = spread(20, BAD, newest=clock.now(), every=timedelta(seconds=30))
        await ingest(gql, key, burn)
        clock.advance(timedelta(minutes=1))
        await run_due_jobs(services)
        burning = await receive(client, 9)
        assert types(burning) == sorted(
            ["slo.evaluated", "slo.status_changed"] + ["alert.fired"] * 4 + ["alert.inhibited"] * 3
        )
        changed = next(e for e in burning if e["type"] == "slo.status_changed")
        assert (changed["payload"]["previousStatus"], changed["payload"]["status"]) == (
            "HEALTHY",
            "EXHAUSTED",
        )
        evaluated = next(e for e in burning if e["type"] == "slo.evaluated")
        assert evaluated["payload"]["firingPairs"] == ["1h/5m", "6h/30m", "1d/2h", "3d/6h"]
        alerts = await slo_alerts(gql, workspace.viewer)
        page = alerts["1h/5m"]
        assert (page["severity"], page["source"], page["status"]) == ("PAGE", "SLO", "FIRING")
        assert page["fingerprint"] == f"slo:{policy['id']}:1h/5m"
        assert page["labels"]["slo_policy_id"] == policy["id"]
        assert not page["inhibited"]
        assert [alerts[p]["severity"] for p in ("6h/30m", "1d/2h", "3d/6h")] == [
            "PAGE",
            "WARNING",
            "WARNING",
        ]
        assert all(alerts[p]["inhibited"] for p in ("6h/30m", "1d/2h", "3d/6h"))

        # The next sweep deduplicates.
        clock.advance(timedelta(minutes=1))
        await run_due_jobs(services)
        again = await receive(client, 5)
        assert types(again) == sorted(["slo.evaluated"] + ["alert.deduplicated"] * 4)
        alerts = await slo_alerts(gql, workspace.viewer)
        assert alerts["1h/5m"]["id"] == page["id"]
        assert alerts["1h/5m"]["occurrenceCount"] == 2

        # The burn stops: six hours of fast answers; every pair's short window is clean.
        clock.advance(timedelta(hours=6))
        await ingest(gql, key, spread(72, GOOD, newest=clock.now(), every=timedelta(minutes=5)))
        await run_due_jobs(services)
        resolved = await receive(client, 5)
        assert types(resolved) == sorted(["slo.evaluated"] + ["alert.resolved"] * 4)
    alerts = await slo_alerts(gql, workspace.viewer)
    assert {alert["status"] for alert in alerts.values()} == {"RESOLVED"}
    assert {alert["resolvedBy"] for alert in alerts.values()} == {"slo-evaluator"}


TIMELINE = "query($id: ID!) { alert(id: $id) { status inhibited events { type } } }"
TIMELINE_PAYLOADS = "query($id: ID!) { alert(id: $id) { events { type payload } } }"


async def test_a_faster_pair_inhibits_the_alerts_of_slower_ones(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    policy = await create_policy(gql, key, threshold_policy(objective=99.0, window_days=7))
    at1, at2, at3 = AT - timedelta(hours=3), AT - timedelta(hours=2), AT
    await ingest(
        gql,
        key,
        [
            *spread(470, GOOD, newest=AT, every=timedelta(minutes=10)),
            # A slow burn: 2 % bad over days (3d/6h fires, at about 2x).
            *spread(9, BAD, newest=at1 - timedelta(hours=3), every=timedelta(hours=5)),
            # A fast one just before at2.
            *spread(10, BAD, newest=at2 - timedelta(minutes=2), every=timedelta(0)),
        ],
    )
    first = await evaluate(gql, key, policy["id"], at1)
    assert first["firingPairs"] == ["3d/6h"]
    alerts = await slo_alerts(gql, key)
    assert (alerts["3d/6h"]["severity"], alerts["3d/6h"]["inhibited"]) == ("WARNING", False)

    second = await evaluate(gql, key, policy["id"], at2)
    assert second["firingPairs"] == ["1h/5m", "6h/30m", "1d/2h", "3d/6h"]
    alerts = await slo_alerts(gql, key)
    assert {pair: alert["inhibited"] for pair, alert in alerts.items()} == {
        "1h/5m": False,
        "6h/30m": True,
        "1d/2h": True,
        "3d/6h": True,
    }
    slow = alerts["3d/6h"]
    assert slow["occurrenceCount"] == 2
    # A slower pair's alert opened now is inhibited from its first event on.
    opened = (await gql.data(TIMELINE_PAYLOADS, {"id": alerts["6h/30m"]["id"]}, key=key))["alert"]
    fired, inhibited = opened["events"]
    assert (fired["type"], fired["payload"]["inhibited"]) == ("alert.fired", True)
    assert inhibited["type"] == "alert.inhibited"

    # Two hours on only the 6h window holds the fast burn: 3d/6h alone fires again.
    third = await evaluate(gql, key, policy["id"], at3)
    assert third["firingPairs"] == ["3d/6h"]
    alerts = await slo_alerts(gql, key)
    assert {pair: alert["status"] for pair, alert in alerts.items()} == {
        "1h/5m": "RESOLVED",
        "6h/30m": "RESOLVED",
        "1d/2h": "RESOLVED",
        "3d/6h": "FIRING",
    }
    timeline = (await gql.data(TIMELINE, {"id": slow["id"]}, key=key))["alert"]
    assert not timeline["inhibited"]
    assert [event["type"] for event in timeline["events"]] == [
        "alert.fired",
        "alert.deduplicated",
        "alert.inhibited",
        "alert.deduplicated",
        "alert.uninhibited",
    ]


async def slo_events(services: Services, workspace: Workspace) -> list[tuple[str, dict[str, Any]]]:
    async with services.db.reader() as session:
        records = await events.read_after(
            session, after=0, limit=500, stream=Stream.ALERT, workspace_id=int(workspace.id)
        )
    return [(r.type, r.payload) for r in records if r.type.startswith("slo.")]


STATE = "query($id: ID!) { sloPolicy(id: $id) { budgetPolicyState status onExhausted } }"


async def test_freeze_on_an_exhausted_budget_and_thaw_when_it_recovers(
    gql: GraphQLClient, workspace: Workspace, services: Services
) -> None:
    key = workspace.developer
    frozen = await create_policy(
        gql, key, ratio_policy(service="checkout", window_days=1, on_exhausted="FREEZE")
    )
    plain = await create_policy(gql, key, ratio_policy(service="search", window_days=1))

    async def requests(good: float, total: float, at: Any) -> None:
        for service in ("checkout", "search"):
            await ingest(
                gql,
                key,
                [
                    sample(good, at, service=service, name="requests_good"),
                    sample(total, at, service=service, name="requests_total"),
                ],
            )

    async def state_after(at: Any) -> dict[str, Any]:
        for policy in (frozen, plain):
            await evaluate(gql, key, policy["id"], at)
        state: dict[str, Any] = (await gql.data(STATE, {"id": frozen["id"]}, key=key))["sloPolicy"]
        return state

    await requests(99.5, 100, AT - timedelta(hours=5))  # 0.5 % bad: half of a 1 % budget
    assert await state_after(AT - timedelta(hours=4)) == {
        "budgetPolicyState": "ACTIVE",
        "status": "WARNING",
        "onExhausted": "FREEZE",
    }
    await requests(98, 100, AT - timedelta(hours=3, minutes=30))  # 2.5 of 200 bad: 1.25x
    assert (await state_after(AT - timedelta(hours=3)))["budgetPolicyState"] == "FROZEN"
    assert (await state_after(AT - timedelta(hours=2)))["budgetPolicyState"] == "FROZEN"
    await requests(1000, 1000, AT - timedelta(hours=1, minutes=30))  # 2.5 of 1,200: 0.21x
    assert await state_after(AT - timedelta(hours=1)) == {
        "budgetPolicyState": "ACTIVE",
        "status": "HEALTHY",
        "onExhausted": "FREEZE",
    }
    plain_state = (await gql.data(STATE, {"id": plain["id"]}, key=key))["sloPolicy"]
    assert plain_state["budgetPolicyState"] == "ACTIVE"

    budget_events = [
        (kind, payload["policyId"])
        for kind, payload in await slo_events(services, workspace)
        if kind in ("slo.budget_exhausted", "slo.budget_restored")
    ]
    # Once on entering (not again while it stays exhausted); only the FREEZE policy.
    assert budget_events == [
        ("slo.budget_exhausted", frozen["id"]),
        ("slo.budget_restored", frozen["id"]),
    ]
    changes = [
        (payload["previousStatus"], payload["status"])
        for kind, payload in await slo_events(services, workspace)
        if kind == "slo.status_changed" and payload["policyId"] == frozen["id"]
    ]
    assert changes == [("WARNING", "EXHAUSTED"), ("EXHAUSTED", "HEALTHY")]


async def test_an_incident_that_spent_over_a_fifth_of_the_budget_needs_a_postmortem(
    gql: GraphQLClient, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    clock = paused_runner
    key = workspace.developer
    policy = await create_policy(
        gql, key, ratio_policy(good="ok", total="all", objective=99.0, window_days=1)
    )

    async def requests(ok: float, all_: float, at: Any) -> None:
        await ingest(gql, key, [sample(ok, at, name="ok"), sample(all_, at, name="all")])

    t0 = clock.now()
    await requests(9960, 9960, t0 - timedelta(hours=3))
    await requests(0, 10, t0 - timedelta(minutes=2))  # a fast burn: 1h/5m pages
    assert (await evaluate(gql, key, policy["id"]))["firingPairs"] == ["1h/5m"]

    # While it fires, 20 more bad events: of 10,000 in the window (a budget of
    # 100 bad events), exactly a fifth, which is not more than a fifth.
    clock.advance(timedelta(minutes=2))
    await requests(10, 30, t0 + timedelta(minutes=1))
    await evaluate(gql, key, policy["id"])
    assert not (await slo_alerts(gql, key))["1h/5m"]["needsPostmortem"]

    clock.advance(timedelta(minutes=2))
    await requests(0, 1, t0 + timedelta(minutes=3))  # 21 of 100.01
    await evaluate(gql, key, policy["id"])
    page = (await slo_alerts(gql, key))["1h/5m"]
    assert page["needsPostmortem"]
    timeline = (await gql.data(TIMELINE, {"id": page["id"]}, key=key))["alert"]
    assert timeline["events"][-1]["type"] == "alert.needs_postmortem"
