"""The SLA overview over alerts first fired in [from, to), against figures worked out by hand.

Alerts are raised, acknowledged, resolved and closed at chosen moments of the
session clock; escalation policies escalate them, by sweeps run at chosen moments
with the job runner paused.
"""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from server.core.clock import FrozenClock
from server.core.services import Services
from tests.conftest import START, Workspace
from tests.escalation.helpers import create_policy, step, sweep_at
from tests.graphql_client import GraphQLClient

SLA_FIELDS = """
  from to service total acknowledged resolved closed timeoutEscalated
  mttaSeconds mttrSeconds timeoutEscalationRate
"""
SLA = f"""
query($from: DateTime!, $to: DateTime!, $service: String) {{
  slaOverview(from: $from, to: $to, service: $service) {{ {SLA_FIELDS} }}
}}"""
RAISE = "mutation($input: AlertInput!) { raiseAlert(input: $input) { id firstFiredAt } }"
ACK = "mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }"
RESOLVE = "mutation($id: ID!) { resolveAlert(id: $id) { id } }"
CLOSE = "mutation($id: ID!) { closeAlert(id: $id) { id } }"
ALERT = """
query($id: ID!) {
  alert(id: $id) { status timeoutEscalatedAt events { type occurredAt payload } }
}"""

#: A Tuesday afternoon inside the session clock's week.
T0 = START + timedelta(days=1, hours=2)


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def raise_alert(gql: GraphQLClient, key: str, name: str, *, service: str = "api") -> str:
    item = {
        "service": service,
        "summary": f"{name} is failing",
        "severity": "PAGE",
        "fingerprint": name,
    }
    alert_id: str = (await gql.data(RAISE, {"input": item}, key=key))["raiseAlert"]["id"]
    return alert_id


async def sla(
    gql: GraphQLClient,
    key: str,
    from_: datetime,
    to: datetime,
    service: str | None = None,
) -> dict[str, Any]:
    variables = {"from": iso(from_), "to": iso(to), "service": service}
    overview: dict[str, Any] = (await gql.data(SLA, variables, key=key))["slaOverview"]
    return overview


def figures(overview: dict[str, Any]) -> dict[str, Any]:
    """The figures, with the times rounded to the millisecond."""
    shown = {name: value for name, value in overview.items() if name not in ("from", "to")}
    for name in ("mttaSeconds", "mttrSeconds"):
        if shown[name] is not None:
            shown[name] = round(shown[name], 3)
    return shown


def service_is(service: str) -> list[dict[str, str]]:
    return [{"label": "service", "op": "EQ", "value": service}]


async def test_sla_overview_figures(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    """Four alerts: api-1 and api-2 acknowledged after 120 s and 300 s (MTTA 210 s);
    api-1, api-2 and web-2 resolved after 600 s, 1,800 s and 1,200 s (MTTR 1,200 s);
    web-1 escalated for want of an acknowledgement (web's policy: after 900 s)."""
    key = workspace.developer
    clock = paused_runner
    await create_policy(gql, key, step(900, "oncall://web"), matchers=service_is("web"))
    at = {"seconds": 0}

    def at_second(second: int) -> None:
        assert second >= at["seconds"]
        at["seconds"] = second
        clock.set(T0 + timedelta(seconds=second))

    at_second(0)
    api_1 = await raise_alert(gql, key, "api-1")
    api_2 = await raise_alert(gql, key, "api-2")
    web_1 = await raise_alert(gql, key, "web-1", service="web")
    at_second(60)
    web_2 = await raise_alert(gql, key, "web-2", service="web")
    at_second(120)
    await gql.data(ACK, {"id": api_1}, key=key)
    at_second(300)
    await gql.data(ACK, {"id": api_2}, key=key)
    # A repeat of an open alert changes nothing: times run from the first firing.
    assert await raise_alert(gql, key, "api-2") == api_2
    at_second(600)
    await gql.data(RESOLVE, {"id": api_1}, key=key)
    at_second(900)
    await gql.data(CLOSE, {"id": api_1}, key=key)
    await sweep_at(services, clock, clock.now())  # web-1 is due, web-2 only at 960 s
    escalated = (await gql.data(ALERT, {"id": web_1}, key=key))["alert"]["timeoutEscalatedAt"]
    assert datetime.fromisoformat(escalated) == T0 + timedelta(seconds=900)
    at_second(1260)
    await gql.data(RESOLVE, {"id": web_2}, key=key)  # resolved without an acknowledgement
    at_second(1800)
    await gql.data(RESOLVE, {"id": api_2}, key=key)

    hour = (T0, T0 + timedelta(hours=1))
    overview = await sla(gql, workspace.viewer, *hour)
    assert overview["from"] == iso(T0)
    assert overview["to"] == iso(T0 + timedelta(hours=1))
    assert figures(overview) == {
        "service": None,
        "total": 4,
        "acknowledged": 2,
        "resolved": 3,
        "closed": 1,
        "timeoutEscalated": 1,
        "mttaSeconds": 210.0,
        "mttrSeconds": 1200.0,
        "timeoutEscalationRate": 0.25,
    }
    assert figures(await sla(gql, workspace.viewer, *hour, service="api")) == {
        "service": "api",
        "total": 2,
        "acknowledged": 2,
        "resolved": 2,
        "closed": 1,
        "timeoutEscalated": 0,
        "mttaSeconds": 210.0,
        "mttrSeconds": 1200.0,
        "timeoutEscalationRate": 0.0,
    }
    assert figures(await sla(gql, workspace.viewer, *hour, service="web")) == {
        "service": "web",
        "total": 2,
        "acknowledged": 0,
        "resolved": 1,
        "closed": 0,
        "timeoutEscalated": 1,
        "mttaSeconds": None,
        "mttrSeconds": 1200.0,
        "timeoutEscalationRate": 0.5,
    }
    unknown = await sla(gql, workspace.viewer, *hour, service="search")
    assert (unknown["total"], unknown["timeoutEscalationRate"]) == (0, None)


async def test_fractions_of_a_second_count(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    key = workspace.developer
    restore_clock.set(T0)
    first = await raise_alert(gql, key, "first")
    second = await raise_alert(gql, key, "second")
    restore_clock.set(T0 + timedelta(seconds=90, milliseconds=250))
    await gql.data(ACK, {"id": first}, key=key)
    restore_clock.set(T0 + timedelta(seconds=90, milliseconds=750))
    await gql.data(RESOLVE, {"id": second}, key=key)
    overview = await sla(gql, workspace.viewer, T0, T0 + timedelta(minutes=5))
    assert overview["mttaSeconds"] == pytest.approx(90.25, abs=0.001)
    assert overview["mttrSeconds"] == pytest.approx(90.75, abs=0.001)


async def test_the_range_includes_from_and_excludes_to(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    key = workspace.developer
    restore_clock.set(T0)
    await raise_alert(gql, key, "at-t0")
    restore_clock.set(T0 + timedelta(minutes=1))
    await raise_alert(gql, key, "at-t0-plus-1m")
    restore_clock.set(T0 + timedelta(minutes=2))

    async def total(from_: datetime, to: datetime) -> int:
        count: int = (await sla(gql, workspace.viewer, from_, to))["total"]
        return count

    one_minute = T0 + timedelta(minutes=1)
    microsecond = timedelta(microseconds=1)
    assert await total(T0, one_minute) == 1  # the alert fired exactly at `to` is out
    assert await total(T0, one_minute + microsecond) == 2
    assert await total(T0 + microsecond, one_minute + microsecond) == 1
    assert await total(one_minute, one_minute + timedelta(hours=1)) == 1  # at `from`: in
    assert await total(T0 - timedelta(hours=1), T0) == 0
    assert await total(T0 - timedelta(hours=1), T0 + microsecond) == 1
    # The same moments written with another offset mean the same range.
    plus_two = timezone(timedelta(hours=2))
    assert await total(T0.astimezone(plus_two), one_minute.astimezone(plus_two)) == 1
    # Counted by when an alert first fired, not when it last fired.
    restore_clock.set(T0 + timedelta(minutes=3))
    await raise_alert(gql, key, "at-t0")
    assert await total(T0 + timedelta(minutes=2), T0 + timedelta(minutes=4)) == 0


async def test_the_range_is_shown_in_utc(gql: GraphQLClient, workspace: Workspace) -> None:
    """Every timestamp is UTC, also a range given with another offset."""
    plus_two = timezone(timedelta(hours=2))
    to = T0 + timedelta(hours=1)
    overview = await sla(gql, workspace.viewer, T0.astimezone(plus_two), to.astimezone(plus_two))
    assert (overview["from"], overview["to"]) == (iso(T0), iso(to))


async def test_an_empty_range_gives_zeros_and_nulls(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    restore_clock.set(T0)
    await raise_alert(gql, workspace.developer, "outside")
    overview = await sla(gql, workspace.viewer, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert figures(overview) == {
        "service": None,
        "total": 0,
        "acknowledged": 0,
        "resolved": 0,
        "closed": 0,
        "timeoutEscalated": 0,
        "mttaSeconds": None,
        "mttrSeconds": None,
        "timeoutEscalationRate": None,
    }


@pytest.mark.parametrize("to_after_from", [timedelta(0), timedelta(seconds=-1)])
async def test_to_must_be_after_from(
    gql: GraphQLClient, workspace: Workspace, to_after_from: timedelta
) -> None:
    variables = {"from": iso(T0), "to": iso(T0 + to_after_from)}
    body = await gql.execute(SLA, variables, key=workspace.viewer)
    errors = body.get("errors") or []
    assert len(errors) == 1, body
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[0]["extensions"]["field"] == "to"


async def test_a_time_without_offset_is_refused(gql: GraphQLClient, workspace: Workspace) -> None:
    variables = {"from": T0.replace(tzinfo=None).isoformat(), "to": iso(T0 + timedelta(hours=1))}
    code = await gql.error_code(SLA, variables, key=workspace.viewer)
    assert code == "BAD_USER_INPUT"


async def test_the_overview_counts_only_the_workspace_s_alerts(
    gql: GraphQLClient,
    workspace: Workspace,
    other_workspace: Workspace,
    restore_clock: FrozenClock,
) -> None:
    restore_clock.set(T0)
    await raise_alert(gql, workspace.developer, "mine")
    await raise_alert(gql, other_workspace.developer, "theirs-1")
    await raise_alert(gql, other_workspace.developer, "theirs-2")
    hour = (T0, T0 + timedelta(hours=1))
    assert (await sla(gql, workspace.viewer, *hour))["total"] == 1
    assert (await sla(gql, other_workspace.viewer, *hour))["total"] == 2


async def test_escalations_show_in_the_timeline_and_only_ack_timeouts_count(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    key = workspace.developer
    clock = paused_runner
    two_steps = (step(300, "oncall://api"), step(600, "oncall://api"))
    await create_policy(gql, key, *two_steps, name="api", matchers=service_is("api"))
    await create_policy(
        gql,
        key,
        step(3600, "oncall://search"),
        name="search",
        matchers=service_is("search"),
        refireThreshold=1,
    )
    clock.set(T0)
    timed_out = await raise_alert(gql, key, "timed-out")
    repeated = await raise_alert(gql, key, "repeated", service="search")
    clock.set(T0 + timedelta(minutes=4))
    await raise_alert(gql, key, "repeated", service="search")  # fires again: escalates
    await sweep_at(services, clock, T0 + timedelta(minutes=5))
    # The second step for the same alert: still one timeout-escalated alert.
    await sweep_at(services, clock, T0 + timedelta(minutes=15))

    alert = (await gql.data(ALERT, {"id": timed_out}, key=workspace.viewer))["alert"]
    assert datetime.fromisoformat(alert["timeoutEscalatedAt"]) == T0 + timedelta(minutes=5)
    assert alert["status"] == "FIRING"
    escalations = [event for event in alert["events"] if event["type"] == "alert.escalated"]
    assert [event["type"] for event in alert["events"]] == ["alert.fired"] + ["alert.escalated"] * 2
    assert [(e["payload"]["reason"], e["payload"]["step"]) for e in escalations] == [
        ("ACK_TIMEOUT", 0),
        ("ACK_TIMEOUT", 1),
    ]
    assert [datetime.fromisoformat(e["occurredAt"]) for e in escalations] == [
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=15),
    ]
    assert escalations[0]["payload"]["alertId"] == timed_out

    other = (await gql.data(ALERT, {"id": repeated}, key=workspace.viewer))["alert"]
    assert other["timeoutEscalatedAt"] is None
    assert [event["type"] for event in other["events"]] == [
        "alert.fired",
        "alert.deduplicated",
        "alert.escalated",
    ]
    assert other["events"][2]["payload"]["reason"] == "REPEAT_TRIGGER"

    overview = await sla(gql, workspace.viewer, T0, T0 + timedelta(hours=1))
    assert (overview["total"], overview["timeoutEscalated"]) == (2, 1)
    assert overview["timeoutEscalationRate"] == 0.5


async def test_sla_figures_span_several_days(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    """Times between alerts on different days, across midnight."""
    key = workspace.developer
    late = datetime(2026, 3, 3, 23, 50, tzinfo=UTC)
    restore_clock.set(late)
    alert = await raise_alert(gql, key, "late")
    restore_clock.set(late + timedelta(minutes=20))
    await gql.data(ACK, {"id": alert}, key=key)
    restore_clock.set(late + timedelta(days=1, minutes=10))
    await gql.data(RESOLVE, {"id": alert}, key=key)
    overview = await sla(gql, workspace.viewer, late - timedelta(days=1), late + timedelta(days=2))
    assert overview["mttaSeconds"] == pytest.approx(1200.0, abs=0.001)
    assert overview["mttrSeconds"] == pytest.approx(86400.0 + 600.0, abs=0.001)
