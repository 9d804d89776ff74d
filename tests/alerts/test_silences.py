"""Silence rules over GraphQL: managing them, validating them, and what they do to alerts.

A silenced alert is stored and visible with ``silenced: true`` and an
``alert.suppressed`` event; the periodic sweep catches rules that start, end or
enter a recurrence window with time alone.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from server.alerts import silences
from server.core.clock import FrozenClock
from server.core.services import Services
from tests.conftest import START, Backend, Workspace
from tests.graphql_client import GraphQLClient

RULE_FIELDS = """
  id matchers { label op value } startsAt endsAt
  recurrence { weekdays startTime durationMinutes }
  author comment createdAt updatedAt state silencingNow
"""
CREATE = f"""
mutation($input: SilenceRuleInput!) {{ createSilenceRule(input: $input) {{ {RULE_FIELDS} }} }}"""
UPDATE = f"""
mutation($id: ID!, $input: SilenceRuleInput!) {{
  updateSilenceRule(id: $id, input: $input) {{ {RULE_FIELDS} }}
}}"""
EXPIRE = f"mutation($id: ID!) {{ expireSilence(id: $id) {{ {RULE_FIELDS} }} }}"
DELETE = f"mutation($id: ID!) {{ deleteSilenceRule(id: $id) {{ {RULE_FIELDS} }} }}"
GET = f"query($id: ID!) {{ silenceRule(id: $id) {{ {RULE_FIELDS} }} }}"
LIST = """
query($state: SilenceState) {
  silenceRules(state: $state) { totalCount edges { node { id state } } }
}"""
RAISE = """
mutation($input: AlertInput!) {
  raiseAlert(input: $input) { id silenced noiseSuppressed occurrenceCount }
}"""
ALERT = """
query($id: ID!) { alert(id: $id) { id status silenced events { type payload } } }"""
ACK = "mutation($id: ID!) { acknowledgeAlert(id: $id) { status } }"
RESOLVE = "mutation($id: ID!) { resolveAlert(id: $id) { status } }"

# 2026-03-02 (START) is a Monday; the Sunday after it is 2026-03-08.
SATURDAY = datetime(2026, 3, 7, tzinfo=UTC)
SUNDAY = datetime(2026, 3, 8, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def matcher(label: str, op: str, value: str) -> dict[str, str]:
    return {"label": label, "op": op, "value": value}


async def create_silence(gql: GraphQLClient, key: str, **fields: Any) -> dict[str, Any]:
    rule: dict[str, Any] = (await gql.data(CREATE, {"input": fields}, key=key))["createSilenceRule"]
    return rule


async def raise_alert(
    gql: GraphQLClient,
    key: str,
    labels: dict[str, str] | None = None,
    *,
    service: str = "checkout",
    fingerprint: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "service": service,
        "summary": "error rate above 5 %",
        "severity": "CRITICAL",
        "labels": labels or {},
    }
    if fingerprint is not None:
        item["fingerprint"] = fingerprint
    alert: dict[str, Any] = (await gql.data(RAISE, {"input": item}, key=key))["raiseAlert"]
    return alert


async def alert_now(gql: GraphQLClient, key: str, alert_id: str) -> tuple[bool, list[str]]:
    """Whether the alert is silenced now, and its event types, oldest first."""
    alert = (await gql.data(ALERT, {"id": alert_id}, key=key))["alert"]
    return alert["silenced"], [event["type"] for event in alert["events"]]


async def rule_now(gql: GraphQLClient, key: str, rule_id: str) -> dict[str, Any]:
    rule: dict[str, Any] = (await gql.data(GET, {"id": rule_id}, key=key))["silenceRule"]
    return rule


async def listed(gql: GraphQLClient, key: str, state: str | None = None) -> list[str]:
    found = (await gql.data(LIST, {"state": state}, key=key))["silenceRules"]
    ids = [edge["node"]["id"] for edge in found["edges"]]
    assert found["totalCount"] == len(ids)
    return ids


async def sweep(services: Services) -> int:
    return await silences.sweep(
        services.outbox,
        now=services.clock.now(),
        interval=services.settings.silence_sweep_interval,
    )


@pytest.fixture
def moving_clock(paused_runner: FrozenClock) -> FrozenClock:
    """The session clock, for a test to move; the runner's own silence sweep pauses."""
    return paused_runner


# --- managing rules ----------------------------------------------------------


async def test_create_silence_rule_with_every_operator_and_read_it_back(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace, clock: FrozenClock
) -> None:
    now = clock.now()
    matchers = [
        matcher("service", "EQ", "checkout"),
        matcher("env", "NEQ", "staging"),
        matcher("region", "RE", "eu-.*"),
        matcher("pod", "NRE", "canary-.*"),
    ]
    rule = await create_silence(
        gql,
        workspace.developer,
        matchers=matchers,
        endsAt=iso(now + timedelta(hours=2)),
        comment="deploying checkout",
    )
    assert rule["matchers"] == matchers
    assert moment(rule["startsAt"]) == now  # startsAt left out: now
    assert moment(rule["endsAt"]) == now + timedelta(hours=2)
    assert rule["author"] == "developer"  # the name of the key that made it
    assert rule["comment"] == "deploying checkout"
    assert rule["recurrence"] is None
    assert moment(rule["createdAt"]) == moment(rule["updatedAt"]) == now
    assert rule["state"] == "ACTIVE"
    assert rule["silencingNow"] is True

    assert await rule_now(gql, workspace.viewer, rule["id"]) == rule
    assert await listed(gql, workspace.viewer) == [rule["id"]]
    # Another workspace neither sees it nor can change it.
    assert await rule_now(gql, other_workspace.viewer, rule["id"]) is None
    assert await listed(gql, other_workspace.viewer) == []
    for query in (EXPIRE, DELETE):
        code = await gql.error_code(query, {"id": rule["id"]}, key=other_workspace.admin)
        assert code == "NOT_FOUND"
    assert (await rule_now(gql, workspace.viewer, rule["id"]))["state"] == "ACTIVE"


async def test_a_viewer_cannot_manage_silences(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    fields = {
        "matchers": [matcher("service", "EQ", "checkout")],
        "endsAt": iso(clock.now() + timedelta(hours=1)),
    }
    assert await gql.error_code(CREATE, {"input": fields}, key=workspace.viewer) == "FORBIDDEN"
    rule = await create_silence(gql, workspace.developer, **fields)
    for query, variables in (
        (UPDATE, {"id": rule["id"], "input": fields}),
        (EXPIRE, {"id": rule["id"]}),
        (DELETE, {"id": rule["id"]}),
    ):
        assert await gql.error_code(query, variables, key=workspace.viewer) == "FORBIDDEN"
    assert await listed(gql, workspace.viewer, "ACTIVE") == [rule["id"]]


async def test_silence_rules_are_listed_by_state_newest_first(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    now = clock.now()
    silence = {"matchers": [matcher("team", "EQ", "db")], "endsAt": iso(now + timedelta(hours=3))}
    expired = await create_silence(gql, workspace.developer, **silence)
    await gql.data(EXPIRE, {"id": expired["id"]}, key=workspace.developer)
    active = await create_silence(gql, workspace.developer, **silence)
    pending = await create_silence(
        gql, workspace.developer, **silence, startsAt=iso(now + timedelta(hours=1))
    )
    assert pending["state"] == "PENDING"
    assert pending["silencingNow"] is False

    assert await listed(gql, workspace.viewer) == [pending["id"], active["id"], expired["id"]]
    assert await listed(gql, workspace.viewer, "PENDING") == [pending["id"]]
    assert await listed(gql, workspace.viewer, "ACTIVE") == [active["id"]]
    assert await listed(gql, workspace.viewer, "EXPIRED") == [expired["id"]]


async def test_update_silence_rule_replaces_it_and_rechecks_open_alerts(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    key = workspace.developer
    now = clock.now()
    database = await raise_alert(gql, key, {"team": "db"})
    web = await raise_alert(gql, key, {"team": "web"})
    rule = await create_silence(
        gql,
        key,
        matchers=[matcher("team", "EQ", "db")],
        endsAt=iso(now + timedelta(hours=1)),
        comment="first",
    )
    assert (await alert_now(gql, key, database["id"]))[0] is True

    changes = {
        "matchers": [matcher("team", "RE", "web|frontend")],
        "startsAt": iso(now - timedelta(minutes=5)),
        "endsAt": iso(now + timedelta(hours=4)),
        "comment": "second",
    }
    updated = (await gql.data(UPDATE, {"id": rule["id"], "input": changes}, key=key))[
        "updateSilenceRule"
    ]
    assert updated["id"] == rule["id"]
    assert updated["matchers"] == changes["matchers"]
    assert moment(updated["startsAt"]) == now - timedelta(minutes=5)
    assert moment(updated["endsAt"]) == now + timedelta(hours=4)
    assert updated["comment"] == "second"
    assert updated["author"] == rule["author"]
    assert updated["createdAt"] == rule["createdAt"]
    assert await rule_now(gql, workspace.viewer, rule["id"]) == updated

    # The alert the rule no longer matches is let go, the one it now matches is silenced.
    assert await alert_now(gql, key, database["id"]) == (
        False,
        ["alert.fired", "alert.suppressed", "alert.unsuppressed"],
    )
    assert await alert_now(gql, key, web["id"]) == (True, ["alert.fired", "alert.suppressed"])

    # A refused change leaves the rule as it was.
    bad = {**changes, "matchers": [matcher("team", "RE", "a(")]}
    field = await gql.bad_input_field(UPDATE, {"id": rule["id"], "input": bad}, key=key)
    assert field == "input.matchers[0].value"
    assert await rule_now(gql, workspace.viewer, rule["id"]) == updated

    missing = {"id": "999999999", "input": changes}
    assert await gql.error_code(UPDATE, missing, key=key) == "NOT_FOUND"
    await gql.data(EXPIRE, {"id": rule["id"]}, key=key)
    assert await gql.error_code(UPDATE, {"id": rule["id"], "input": changes}, key=key) == (
        "CONFLICT"
    )


async def test_expire_silence_ends_it_now_and_lifts_it_at_once(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    key = workspace.developer
    now = clock.now()
    rule = await create_silence(
        gql, key, matchers=[matcher("team", "EQ", "db")], endsAt=iso(now + timedelta(hours=1))
    )
    silenced = await raise_alert(gql, key, {"team": "db"})
    assert silenced["silenced"] is True

    expired = (await gql.data(EXPIRE, {"id": rule["id"]}, key=key))["expireSilence"]
    assert expired["state"] == "EXPIRED"
    assert expired["silencingNow"] is False
    assert moment(expired["endsAt"]) == now
    assert moment(expired["startsAt"]) == now
    # The mutation itself reconciles: no sweep needed.
    assert await alert_now(gql, key, silenced["id"]) == (
        False,
        ["alert.fired", "alert.suppressed", "alert.unsuppressed"],
    )
    fresh = await raise_alert(gql, key, {"team": "db", "pod": "b"})
    assert fresh["silenced"] is False
    assert await alert_now(gql, key, fresh["id"]) == (False, ["alert.fired"])

    assert await gql.error_code(EXPIRE, {"id": rule["id"]}, key=key) == "CONFLICT"
    assert await gql.error_code(EXPIRE, {"id": "999999999"}, key=key) == "NOT_FOUND"
    assert await listed(gql, workspace.viewer, "EXPIRED") == [rule["id"]]


async def test_expire_a_pending_silence(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    now = clock.now()
    rule = await create_silence(
        gql,
        workspace.developer,
        matchers=[matcher("team", "EQ", "db")],
        startsAt=iso(now + timedelta(hours=1)),
        endsAt=iso(now + timedelta(hours=2)),
    )
    expired = (await gql.data(EXPIRE, {"id": rule["id"]}, key=workspace.developer))["expireSilence"]
    assert expired["state"] == "EXPIRED"
    assert moment(expired["startsAt"]) == moment(expired["endsAt"]) == now
    assert await listed(gql, workspace.viewer, "PENDING") == []


async def test_delete_silence_rule_lifts_its_silence(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    key = workspace.developer
    rule = await create_silence(
        gql,
        key,
        matchers=[matcher("team", "EQ", "db")],
        endsAt=iso(clock.now() + timedelta(hours=1)),
        comment="gone soon",
    )
    alert = await raise_alert(gql, key, {"team": "db"})
    assert alert["silenced"] is True

    deleted = (await gql.data(DELETE, {"id": rule["id"]}, key=key))["deleteSilenceRule"]
    assert deleted["id"] == rule["id"]
    assert deleted["comment"] == "gone soon"
    assert await rule_now(gql, workspace.viewer, rule["id"]) is None
    assert await listed(gql, workspace.viewer) == []
    assert await alert_now(gql, key, alert["id"]) == (
        False,
        ["alert.fired", "alert.suppressed", "alert.unsuppressed"],
    )
    assert (await raise_alert(gql, key, {"team": "db", "pod": "b"}))["silenced"] is False
    assert await gql.error_code(DELETE, {"id": rule["id"]}, key=key) == "NOT_FOUND"


async def test_an_alert_stays_silenced_while_any_rule_still_matches(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    key = workspace.developer
    now = clock.now()
    by_team = await create_silence(
        gql, key, matchers=[matcher("team", "EQ", "db")], endsAt=iso(now + timedelta(hours=1))
    )
    by_region = await create_silence(
        gql, key, matchers=[matcher("region", "EQ", "eu")], endsAt=iso(now + timedelta(hours=1))
    )
    both = await raise_alert(gql, key, {"team": "db", "region": "eu"})
    team_only = await raise_alert(gql, key, {"team": "db", "region": "us"})
    suppressed = ["alert.fired", "alert.suppressed"]

    await gql.data(DELETE, {"id": by_team["id"]}, key=key)
    assert await alert_now(gql, key, both["id"]) == (True, suppressed)
    assert await alert_now(gql, key, team_only["id"]) == (
        False,
        [*suppressed, "alert.unsuppressed"],
    )

    # Moved to start later, the other rule lets go of its alerts at once.
    later = {
        "matchers": [matcher("region", "EQ", "eu")],
        "startsAt": iso(now + timedelta(minutes=30)),
        "endsAt": iso(now + timedelta(hours=1)),
    }
    moved = (await gql.data(UPDATE, {"id": by_region["id"], "input": later}, key=key))[
        "updateSilenceRule"
    ]
    assert (moved["state"], moved["silencingNow"]) == ("PENDING", False)
    assert await alert_now(gql, key, both["id"]) == (False, [*suppressed, "alert.unsuppressed"])
    assert (await raise_alert(gql, key, {"region": "eu"}))["silenced"] is False


# --- validation ----------------------------------------------------------------

Overrides = Callable[[datetime], dict[str, Any]]

INVALID: dict[str, tuple[Overrides, str]] = {
    "no matchers": (lambda now: {"matchers": []}, "input.matchers"),
    "invalid regex": (
        lambda now: {"matchers": [matcher("pod", "RE", "a(")]},
        "input.matchers[0].value",
    ),
    "invalid negated regex": (
        lambda now: {"matchers": [matcher("team", "EQ", "db"), matcher("pod", "NRE", "[")]},
        "input.matchers[1].value",
    ),
    "flag inside the anchored pattern": (
        lambda now: {"matchers": [matcher("env", "RE", "(?i)prod")]},
        "input.matchers[0].value",
    ),
    "bad label name": (
        lambda now: {"matchers": [matcher("bad-label", "EQ", "x")]},
        "input.matchers[0].label",
    ),
    "matchers that all match the empty string": (
        lambda now: {"matchers": [matcher("env", "NEQ", "prod"), matcher("team", "RE", ".*")]},
        "input.matchers",
    ),
    "matcher for an empty value": (
        lambda now: {"matchers": [matcher("team", "EQ", "")]},
        "input.matchers",
    ),
    "endsAt before startsAt": (
        lambda now: {
            "startsAt": iso(now + timedelta(hours=2)),
            "endsAt": iso(now + timedelta(hours=1)),
        },
        "input.endsAt",
    ),
    "endsAt equal to startsAt": (
        lambda now: {
            "startsAt": iso(now + timedelta(hours=1)),
            "endsAt": iso(now + timedelta(hours=1)),
        },
        "input.endsAt",
    ),
    "endsAt in the past": (
        lambda now: {
            "startsAt": iso(now - timedelta(hours=2)),
            "endsAt": iso(now - timedelta(hours=1)),
        },
        "input.endsAt",
    ),
    "endsAt now": (lambda now: {"endsAt": iso(now)}, "input.endsAt"),
    "endsAt without offset": (
        lambda now: {"endsAt": (now + timedelta(hours=1)).replace(tzinfo=None).isoformat()},
        "input.endsAt",
    ),
    "comment too long": (lambda now: {"comment": "x" * 2001}, "input.comment"),
    "recurrence without weekdays": (
        lambda now: {"recurrence": {"weekdays": [], "startTime": "02:00", "durationMinutes": 60}},
        "input.recurrence.weekdays",
    ),
    "recurrence at 25:00": (
        lambda now: {
            "recurrence": {"weekdays": ["SUNDAY"], "startTime": "25:00", "durationMinutes": 60}
        },
        "input.recurrence.startTime",
    ),
    "recurrence at 02:60": (
        lambda now: {
            "recurrence": {"weekdays": ["SUNDAY"], "startTime": "02:60", "durationMinutes": 60}
        },
        "input.recurrence.startTime",
    ),
    "recurrence of 0 minutes": (
        lambda now: {
            "recurrence": {"weekdays": ["SUNDAY"], "startTime": "02:00", "durationMinutes": 0}
        },
        "input.recurrence.durationMinutes",
    ),
    "recurrence longer than a week": (
        lambda now: {
            "recurrence": {
                "weekdays": ["SUNDAY"],
                "startTime": "02:00",
                "durationMinutes": 7 * 24 * 60 + 1,
            }
        },
        "input.recurrence.durationMinutes",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
async def test_invalid_silence_is_refused_and_nothing_stored(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock, case: str
) -> None:
    overrides, expected_field = INVALID[case]
    now = clock.now()
    fields = {
        "matchers": [matcher("service", "EQ", "checkout")],
        "endsAt": iso(now + timedelta(hours=1)),
        **overrides(now),
    }
    assert await gql.bad_input_field(CREATE, {"input": fields}, key=workspace.developer) == (
        expected_field
    )
    assert await listed(gql, workspace.viewer) == []


async def test_a_regex_postgresql_cannot_compile_is_refused_there(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock, backend: Backend
) -> None:
    """Python (so SQLite) accepts named groups; PostgreSQL does not."""
    key = workspace.developer
    fields = {
        "matchers": [matcher("pod", "RE", "(?P<x>a)")],
        "endsAt": iso(clock.now() + timedelta(hours=1)),
    }
    if backend.name == "postgresql":
        field = await gql.bad_input_field(CREATE, {"input": fields}, key=key)
        assert field == "input.matchers[0].value"
        assert await listed(gql, workspace.viewer) == []
        return
    before = await raise_alert(gql, key, {"pod": "a"})
    rule = await create_silence(gql, key, **fields)
    assert rule["state"] == "ACTIVE"
    assert (await alert_now(gql, key, before["id"]))[0] is True
    assert (await raise_alert(gql, key, {"pod": "a", "n": "2"}))["silenced"] is True
    assert (await raise_alert(gql, key, {"pod": "b"}))["silenced"] is False


# --- what silences do to alerts -------------------------------------------------


async def test_an_alert_raised_under_an_active_silence_is_silenced(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    key = workspace.developer
    await create_silence(
        gql,
        key,
        matchers=[matcher("service", "EQ", "checkout"), matcher("env", "EQ", "prod")],
        endsAt=iso(clock.now() + timedelta(hours=1)),
    )
    silenced = await raise_alert(gql, key, {"env": "prod"})
    assert silenced["silenced"] is True
    assert await alert_now(gql, key, silenced["id"]) == (
        True,
        ["alert.fired", "alert.suppressed"],
    )
    # Raised again: deduplicated, still silenced, not suppressed a second time.
    again = await raise_alert(gql, key, {"env": "prod"})
    assert again["id"] == silenced["id"]
    assert again["occurrenceCount"] == 2
    assert await alert_now(gql, key, silenced["id"]) == (
        True,
        ["alert.fired", "alert.suppressed", "alert.deduplicated"],
    )

    other_env = await raise_alert(gql, key, {"env": "staging"})
    assert other_env["silenced"] is False
    assert await alert_now(gql, key, other_env["id"]) == (False, ["alert.fired"])
    # `service` in a matcher means the alert's service, not a label of that name.
    other_service = await raise_alert(
        gql, key, {"env": "prod", "service": "checkout"}, service="payments"
    )
    assert other_service["silenced"] is False

    # Silenced alerts stay stored and visible.
    shown = await gql.data(
        "{ alerts { totalCount edges { node { id silenced } } } }", key=workspace.viewer
    )
    by_id = {edge["node"]["id"]: edge["node"]["silenced"] for edge in shown["alerts"]["edges"]}
    assert by_id == {silenced["id"]: True, other_env["id"]: False, other_service["id"]: False}


async def test_a_silence_of_another_workspace_does_not_apply(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace, clock: FrozenClock
) -> None:
    mine = await raise_alert(gql, workspace.developer, {"team": "db"})
    await create_silence(
        gql,
        other_workspace.developer,
        matchers=[matcher("team", "EQ", "db")],
        endsAt=iso(clock.now() + timedelta(hours=1)),
    )
    assert await alert_now(gql, workspace.developer, mine["id"]) == (False, ["alert.fired"])
    assert (await raise_alert(gql, workspace.developer, {"team": "db", "n": "2"}))[
        "silenced"
    ] is False
    assert (await raise_alert(gql, other_workspace.developer, {"team": "db"}))["silenced"] is True


@dataclass(frozen=True)
class MatchCase:
    matchers: list[dict[str, str]]
    #: (service, labels) of alerts the rule must silence, and of alerts it must not.
    silenced: list[tuple[str, dict[str, str]]]
    not_silenced: list[tuple[str, dict[str, str]]]


MATCH_CASES = {
    "EQ": MatchCase(
        [matcher("env", "EQ", "prod")],
        [("checkout", {"env": "prod"})],
        [("checkout", {"env": "prod2"}), ("checkout", {})],
    ),
    "NEQ": MatchCase(
        [matcher("env", "EQ", "prod"), matcher("team", "NEQ", "db")],
        [("checkout", {"env": "prod", "team": "web"}), ("checkout", {"env": "prod"})],
        [("checkout", {"env": "prod", "team": "db"}), ("checkout", {"team": "web"})],
    ),
    "RE is anchored": MatchCase(
        [matcher("env", "RE", "prod|stag.*")],
        [("checkout", {"env": "prod"}), ("checkout", {"env": "staging-2"})],
        [("checkout", {"env": "production"}), ("checkout", {"env": "preprod"})],
    ),
    "RE dot matches a newline": MatchCase(
        [matcher("note", "RE", "a.b")],
        [("checkout", {"note": "a\nb"})],
        [("checkout", {"note": "a\nb\n"}), ("checkout", {"note": "ab"})],
    ),
    "NRE": MatchCase(
        [matcher("env", "EQ", "prod"), matcher("region", "NRE", "eu-.*")],
        [("checkout", {"env": "prod", "region": "us-east"}), ("checkout", {"env": "prod"})],
        [("checkout", {"env": "prod", "region": "eu-west"})],
    ),
    "service is the alert's service": MatchCase(
        [matcher("service", "RE", "check.*")],
        [("checkout", {}), ("checkout-api", {"service": "payments"})],
        [("payments", {"service": "checkout"}), ("api-checkout", {})],
    ),
}


@pytest.mark.parametrize("case", list(MATCH_CASES))
async def test_matchers_silence_the_same_alerts_when_raised_and_when_rechecked(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock, case: str
) -> None:
    """Open alerts are re-checked in SQL, new ones in Python: both must agree."""
    spec = MATCH_CASES[case]
    key = workspace.developer

    async def raise_all(batch: str) -> dict[str, list[str]]:
        results: dict[str, list[str]] = {"silenced": [], "not_silenced": []}
        for expectation, alerts in (
            ("silenced", spec.silenced),
            ("not_silenced", spec.not_silenced),
        ):
            for index, (service, labels) in enumerate(alerts):
                alert = await raise_alert(
                    gql, key, labels, service=service, fingerprint=f"{batch}-{expectation}-{index}"
                )
                results[expectation].append(alert["id"])
        return results

    before = await raise_all("before")
    await create_silence(
        gql, key, matchers=spec.matchers, endsAt=iso(clock.now() + timedelta(hours=1))
    )
    after = await raise_all("after")
    for when, ids in (("before", before), ("after", after)):
        seen = [(await alert_now(gql, key, alert_id))[0] for alert_id in ids["silenced"]]
        assert seen == [True] * len(ids["silenced"]), (when, "silenced")
        seen = [(await alert_now(gql, key, alert_id))[0] for alert_id in ids["not_silenced"]]
        assert seen == [False] * len(ids["not_silenced"]), (when, "not silenced")


#: Patterns whose escapes or classes regex engines read differently (Python's
#: re, so SQLite's REGEXP, vs PostgreSQL), with label values that tell them apart.
DIALECT_PATTERNS = {
    "word boundary": (r".*\bdisk\b.*", ["the disk is full", "diskette", "disk"]),
    "POSIX class": (r"[[:alpha:]]+", ["abc", "a]", "1"]),
    "non-boundary": (r"a\B.*", ["ab", "a b", "a\\"]),
}


@pytest.mark.parametrize("case", list(DIALECT_PATTERNS))
async def test_a_pattern_means_the_same_when_raised_and_when_rechecked(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    moving_clock: FrozenClock,
    case: str,
) -> None:
    """Raising checks a new alert in Python, the sweep re-checks open alerts in SQL.

    Whatever a pattern means, both must agree (or the pattern be refused);
    otherwise the sweep flips the alerts raising silenced, with events, while no
    rule changed.
    """
    pattern, values = DIALECT_PATTERNS[case]
    key = workspace.developer
    before = [
        await raise_alert(gql, key, {"note": v}, fingerprint=f"b{i}") for i, v in enumerate(values)
    ]
    fields = {
        "matchers": [matcher("note", "RE", pattern)],
        "endsAt": iso(moving_clock.now() + timedelta(hours=1)),
    }
    body = await gql.execute(CREATE, {"input": fields}, key=key)
    if body.get("errors"):
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
        assert await listed(gql, key) == []
        return
    after = [
        await raise_alert(gql, key, {"note": v}, fingerprint=f"a{i}") for i, v in enumerate(values)
    ]
    rechecked = [(await alert_now(gql, key, alert["id"]))[0] for alert in before]
    raised = [alert["silenced"] for alert in after]
    assert dict(zip(values, raised, strict=True)) == dict(zip(values, rechecked, strict=True))
    await sweep(services)
    swept = [(await alert_now(gql, key, alert["id"]))[0] for alert in after]
    assert dict(zip(values, swept, strict=True)) == dict(zip(values, raised, strict=True))


async def test_creating_a_silence_silences_open_alerts_at_once(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    key = workspace.developer
    firing = await raise_alert(gql, key, {"team": "db", "pod": "a"})
    acknowledged = await raise_alert(gql, key, {"team": "db", "pod": "b"})
    await gql.data(ACK, {"id": acknowledged["id"]}, key=key)
    resolved = await raise_alert(gql, key, {"team": "db", "pod": "c"})
    await gql.data(RESOLVE, {"id": resolved["id"]}, key=key)
    unmatched = await raise_alert(gql, key, {"team": "web"})

    await create_silence(
        gql,
        key,
        matchers=[matcher("team", "EQ", "db")],
        endsAt=iso(clock.now() + timedelta(hours=1)),
    )
    assert await alert_now(gql, key, firing["id"]) == (True, ["alert.fired", "alert.suppressed"])
    assert await alert_now(gql, key, acknowledged["id"]) == (
        True,
        ["alert.fired", "alert.acknowledged", "alert.suppressed"],
    )
    # A resolved alert is left alone.
    assert await alert_now(gql, key, resolved["id"]) == (
        False,
        ["alert.fired", "alert.resolved"],
    )
    assert await alert_now(gql, key, unmatched["id"]) == (False, ["alert.fired"])


async def test_a_silence_starting_later_applies_from_its_start(
    gql: GraphQLClient, workspace: Workspace, services: Services, moving_clock: FrozenClock
) -> None:
    key = workspace.developer
    start = moving_clock.now()
    rule = await create_silence(
        gql,
        key,
        matchers=[matcher("team", "EQ", "db")],
        startsAt=iso(start + timedelta(minutes=10)),
        endsAt=iso(start + timedelta(hours=1)),
    )
    assert (rule["state"], rule["silencingNow"]) == ("PENDING", False)
    early = await raise_alert(gql, key, {"team": "db", "pod": "a"})
    repeated = await raise_alert(gql, key, {"team": "db", "pod": "b"})
    assert early["silenced"] is repeated["silenced"] is False

    moving_clock.advance(timedelta(minutes=9, seconds=59))
    await sweep(services)
    assert await alert_now(gql, key, early["id"]) == (False, ["alert.fired"])
    assert (await rule_now(gql, key, rule["id"]))["state"] == "PENDING"

    moving_clock.advance(timedelta(seconds=1))  # exactly startsAt
    now_rule = await rule_now(gql, key, rule["id"])
    assert (now_rule["state"], now_rule["silencingNow"]) == ("ACTIVE", True)
    late = await raise_alert(gql, key, {"team": "db", "pod": "c"})
    assert late["silenced"] is True
    # Raising an open alert again under the silence silences it too.
    again = await raise_alert(gql, key, {"team": "db", "pod": "b"})
    assert again["silenced"] is True
    assert await alert_now(gql, key, repeated["id"]) == (
        True,
        ["alert.fired", "alert.deduplicated", "alert.suppressed"],
    )
    # An alert raised before the start waits for the sweep.
    assert await alert_now(gql, key, early["id"]) == (False, ["alert.fired"])

    assert await sweep(services) >= 1
    assert await alert_now(gql, key, early["id"]) == (True, ["alert.fired", "alert.suppressed"])
    assert await sweep(services) == 0  # nothing left to change at this moment
    assert await alert_now(gql, key, early["id"]) == (True, ["alert.fired", "alert.suppressed"])
    assert await alert_now(gql, key, repeated["id"]) == (
        True,
        ["alert.fired", "alert.deduplicated", "alert.suppressed"],
    )


async def test_a_silence_that_runs_out_is_lifted_by_the_sweep(
    gql: GraphQLClient, workspace: Workspace, services: Services, moving_clock: FrozenClock
) -> None:
    key = workspace.developer
    start = moving_clock.now()
    rule = await create_silence(
        gql, key, matchers=[matcher("team", "EQ", "db")], endsAt=iso(start + timedelta(minutes=30))
    )
    silenced = await raise_alert(gql, key, {"team": "db", "pod": "a"})
    assert silenced["silenced"] is True

    moving_clock.advance(timedelta(minutes=29, seconds=59))
    await sweep(services)
    assert (await alert_now(gql, key, silenced["id"]))[0] is True

    moving_clock.advance(timedelta(seconds=1))  # exactly endsAt: over
    now_rule = await rule_now(gql, key, rule["id"])
    assert (now_rule["state"], now_rule["silencingNow"]) == ("EXPIRED", False)
    assert await listed(gql, key, "EXPIRED") == [rule["id"]]
    fresh = await raise_alert(gql, key, {"team": "db", "pod": "b"})
    assert fresh["silenced"] is False

    # The sweep runs late, well after the end: it still lifts the silence.
    moving_clock.advance(timedelta(minutes=10))
    await sweep(services)
    assert await alert_now(gql, key, silenced["id"]) == (
        False,
        ["alert.fired", "alert.suppressed", "alert.unsuppressed"],
    )
    assert await alert_now(gql, key, fresh["id"]) == (False, ["alert.fired"])


async def test_the_periodic_job_sweeps_silences(
    gql: GraphQLClient, workspace: Workspace, services: Services, moving_clock: FrozenClock
) -> None:
    """The app registers the sweep as the periodic job ``silence_sweep``."""
    job = services.runner.periodic["silence_sweep"]
    assert job.interval == services.settings.silence_sweep_interval
    key = workspace.developer
    start = moving_clock.now()
    await create_silence(
        gql,
        key,
        matchers=[matcher("team", "EQ", "db")],
        startsAt=iso(start + timedelta(minutes=2)),
        endsAt=iso(start + timedelta(minutes=5)),
    )
    alert = await raise_alert(gql, key, {"team": "db"})
    moving_clock.advance(timedelta(minutes=2))
    await job.run()
    assert await alert_now(gql, key, alert["id"]) == (True, ["alert.fired", "alert.suppressed"])
    moving_clock.advance(timedelta(minutes=3))
    await job.run()
    assert await alert_now(gql, key, alert["id"]) == (
        False,
        ["alert.fired", "alert.suppressed", "alert.unsuppressed"],
    )


async def test_a_recurring_silence_silences_inside_its_weekly_window(
    gql: GraphQLClient, workspace: Workspace, services: Services, moving_clock: FrozenClock
) -> None:
    key = workspace.developer
    moving_clock.set(START)  # a Monday
    rule = await create_silence(
        gql,
        key,
        matchers=[matcher("team", "EQ", "db")],
        endsAt=iso(START + timedelta(days=6)),
        recurrence={"weekdays": ["SUNDAY"], "startTime": "02:00", "durationMinutes": 120},
    )
    assert rule["recurrence"] == {
        "weekdays": ["SUNDAY"],
        "startTime": "02:00",
        "durationMinutes": 120,
    }
    assert (rule["state"], rule["silencingNow"]) == ("ACTIVE", False)
    monday = await raise_alert(gql, key, {"team": "db", "pod": "a"})
    assert monday["silenced"] is False

    moving_clock.set(SUNDAY + timedelta(hours=1, minutes=59, seconds=59))
    await sweep(services)
    assert (await rule_now(gql, key, rule["id"]))["silencingNow"] is False
    assert await alert_now(gql, key, monday["id"]) == (False, ["alert.fired"])

    moving_clock.set(SUNDAY + timedelta(hours=2))  # the window opens (inclusive)
    assert (await rule_now(gql, key, rule["id"]))["silencingNow"] is True

    moving_clock.set(SUNDAY + timedelta(hours=2, minutes=30))
    inside = await rule_now(gql, key, rule["id"])
    assert (inside["state"], inside["silencingNow"]) == ("ACTIVE", True)
    sunday = await raise_alert(gql, key, {"team": "db", "pod": "b"})
    assert sunday["silenced"] is True
    assert (await raise_alert(gql, key, {"team": "web"}))["silenced"] is False
    await sweep(services)
    assert await alert_now(gql, key, monday["id"]) == (True, ["alert.fired", "alert.suppressed"])

    moving_clock.set(SUNDAY + timedelta(hours=4))  # the window's end is exclusive
    after = await rule_now(gql, key, rule["id"])
    assert (after["state"], after["silencingNow"]) == ("ACTIVE", False)
    assert (await raise_alert(gql, key, {"team": "db", "pod": "c"}))["silenced"] is False
    await sweep(services)
    for alert in (monday, sunday):
        assert await alert_now(gql, key, alert["id"]) == (
            False,
            ["alert.fired", "alert.suppressed", "alert.unsuppressed"],
        )


async def test_a_recurring_window_may_cross_midnight(
    gql: GraphQLClient, workspace: Workspace, moving_clock: FrozenClock
) -> None:
    key = workspace.developer
    moving_clock.set(START)
    rule = await create_silence(
        gql,
        key,
        matchers=[matcher("team", "EQ", "db")],
        endsAt=iso(START + timedelta(days=6)),
        recurrence={"weekdays": ["SATURDAY"], "startTime": "23:00", "durationMinutes": 180},
    )
    expectations = [
        (SATURDAY + timedelta(hours=22, minutes=59), False),
        (SATURDAY + timedelta(hours=23), True),
        (SUNDAY + timedelta(hours=1), True),
        (SUNDAY + timedelta(hours=1, minutes=59, seconds=59), True),
        (SUNDAY + timedelta(hours=2), False),
        # Friday night, the same hours: not a Saturday window.
        (SATURDAY - timedelta(hours=1), False),
    ]
    for index, (at, silencing) in enumerate(expectations):
        moving_clock.set(at)
        assert (await rule_now(gql, key, rule["id"]))["silencingNow"] is silencing, at
        alert = await raise_alert(gql, key, {"team": "db", "n": str(index)})
        assert alert["silenced"] is silencing, at


async def test_a_recurring_silence_on_several_days(
    gql: GraphQLClient, workspace: Workspace, moving_clock: FrozenClock
) -> None:
    key = workspace.developer
    moving_clock.set(START)
    rule = await create_silence(
        gql,
        key,
        matchers=[matcher("team", "EQ", "db")],
        endsAt=iso(START + timedelta(days=6)),
        recurrence={
            "weekdays": ["WEDNESDAY", "MONDAY"],
            "startTime": "12:00",
            "durationMinutes": 30,
        },
    )
    assert rule["recurrence"]["weekdays"] == ["MONDAY", "WEDNESDAY"]
    assert rule["silencingNow"] is True  # Monday 12:00
    for at, silencing in (
        (START + timedelta(days=1, minutes=10), False),  # Tuesday
        (START + timedelta(days=2, minutes=10), True),  # Wednesday
        (START + timedelta(days=2, minutes=30), False),
    ):
        moving_clock.set(at)
        assert (await rule_now(gql, key, rule["id"]))["silencingNow"] is silencing, at


async def test_times_given_with_another_offset_come_back_in_utc(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    """Every timestamp is UTC: the create/update answers as much as later reads."""
    key = workspace.developer
    plus_two = timezone(timedelta(hours=2))
    now = clock.now()
    fields = {
        "matchers": [matcher("team", "EQ", "db")],
        "startsAt": iso((now - timedelta(minutes=1)).astimezone(plus_two)),
        "endsAt": iso((now + timedelta(hours=1)).astimezone(plus_two)),
    }
    created = await create_silence(gql, key, **fields)
    stored = await rule_now(gql, key, created["id"])
    assert stored["startsAt"] == iso(now - timedelta(minutes=1))
    assert stored["endsAt"] == iso(now + timedelta(hours=1))
    assert (created["startsAt"], created["endsAt"]) == (stored["startsAt"], stored["endsAt"])
    updated = (await gql.data(UPDATE, {"id": created["id"], "input": fields}, key=key))[
        "updateSilenceRule"
    ]
    assert (updated["startsAt"], updated["endsAt"]) == (stored["startsAt"], stored["endsAt"])


OUT_OF_RANGE_ID = str(2**64)


async def test_an_id_beyond_64_bits_is_not_an_internal_error(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    key = workspace.developer
    body = await gql.execute(GET, {"id": OUT_OF_RANGE_ID}, key=key)
    errors = body.get("errors") or []
    assert errors == [] or errors[0]["extensions"]["code"] == "BAD_USER_INPUT", body
    fields = {
        "matchers": [matcher("team", "EQ", "db")],
        "endsAt": iso(clock.now() + timedelta(hours=1)),
    }
    for query, variables in (
        (UPDATE, {"id": OUT_OF_RANGE_ID, "input": fields}),
        (EXPIRE, {"id": OUT_OF_RANGE_ID}),
        (DELETE, {"id": OUT_OF_RANGE_ID}),
    ):
        code = await gql.error_code(query, variables, key=key)
        assert code in ("NOT_FOUND", "BAD_USER_INPUT"), (query, code)


async def test_an_update_without_starts_at_keeps_the_rule_s_start(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    starts = clock.now() + timedelta(days=2)
    ends = clock.now() + timedelta(days=3)
    matchers = [{"label": "service", "op": "EQ", "value": "batch"}]
    created = (
        await gql.data(
            CREATE,
            {"input": {"matchers": matchers, "startsAt": iso(starts), "endsAt": iso(ends)}},
            key=workspace.developer,
        )
    )["createSilenceRule"]
    assert created["state"] == "PENDING"
    updated = (
        await gql.data(
            UPDATE,
            {
                "id": created["id"],
                "input": {"matchers": matchers, "endsAt": iso(ends), "comment": "x"},
            },
            key=workspace.developer,
        )
    )["updateSilenceRule"]
    assert moment(updated["startsAt"]) == starts
    assert (updated["state"], updated["silencingNow"], updated["comment"]) == (
        "PENDING",
        False,
        "x",
    )


async def test_the_id_of_a_deleted_rule_is_never_given_again(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    rule = {
        "matchers": [{"label": "service", "op": "EQ", "value": "batch"}],
        "endsAt": iso(clock.now() + timedelta(hours=1)),
    }
    first = (await gql.data(CREATE, {"input": rule}, key=workspace.developer))["createSilenceRule"]
    await gql.data(DELETE, {"id": first["id"]}, key=workspace.developer)
    second = (await gql.data(CREATE, {"input": rule}, key=workspace.developer))["createSilenceRule"]
    assert int(second["id"]) > int(first["id"])
