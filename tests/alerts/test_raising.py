"""Raising alerts through GraphQL: fingerprints, deduplication, reopening, validation
(all or nothing) and concurrent raises of one fingerprint."""

import asyncio
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from server.core.clock import FrozenClock
from server.core.services import Services
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient

ALERT_FIELDS = """id fingerprint service summary severity status source labels occurrenceCount
  firstFiredAt lastFiredAt acknowledgedAt"""
RAISE = f"""mutation($input: AlertInput!) {{ raiseAlert(input: $input) {{ {ALERT_FIELDS} }} }}"""
RAISE_MANY = f"""mutation($inputs: [AlertInput!]!) {{
  raiseAlerts(inputs: $inputs) {{ {ALERT_FIELDS} }}
}}"""
ALERT = f"""query($id: ID!) {{ alert(id: $id) {{ {ALERT_FIELDS} events {{ type payload }} }} }}"""
COUNT = "{ alerts { totalCount } }"
ALL_ALERTS = """{ alerts(first: 500) { totalCount edges { node {
  id fingerprint status occurrenceCount } } } }"""
ACKNOWLEDGE = "mutation($id: ID!) { acknowledgeAlert(id: $id) { id status } }"
RESOLVE = "mutation($id: ID!) { resolveAlert(id: $id) { id status } }"
CLOSE = "mutation($id: ID!) { closeAlert(id: $id) { id status } }"


def item(
    service: str = "checkout",
    summary: str = "5xx rate above 5%",
    severity: str = "CRITICAL",
    **extra: Any,
) -> dict[str, Any]:
    return {"service": service, "summary": summary, "severity": severity, **extra}


async def raise_one(gql: GraphQLClient, key: str, alert: dict[str, Any]) -> dict[str, Any]:
    raised: dict[str, Any] = (await gql.data(RAISE, {"input": alert}, key=key))["raiseAlert"]
    return raised


async def raise_many(
    gql: GraphQLClient, key: str, alerts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    raised: list[dict[str, Any]] = (await gql.data(RAISE_MANY, {"inputs": alerts}, key=key))[
        "raiseAlerts"
    ]
    return raised


async def read_alert(gql: GraphQLClient, workspace: Workspace, alert_id: str) -> dict[str, Any]:
    alert: dict[str, Any] = (await gql.data(ALERT, {"id": alert_id}, key=workspace.viewer))["alert"]
    assert alert is not None
    return alert


async def count_alerts(gql: GraphQLClient, workspace: Workspace) -> int:
    total: int = (await gql.data(COUNT, key=workspace.viewer))["alerts"]["totalCount"]
    return total


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- fingerprints ---------------------------------------------------------------------


async def test_the_default_fingerprint_is_the_service_and_the_labels_in_any_order(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    first = await raise_one(
        gql, workspace.developer, item(labels={"pod": "a", "region": "eu", "env": "prod"})
    )
    same = await raise_one(
        gql, workspace.developer, item(labels={"env": "prod", "region": "eu", "pod": "a"})
    )
    other_labels = await raise_one(
        gql, workspace.developer, item(labels={"pod": "b", "region": "eu", "env": "prod"})
    )
    fewer_labels = await raise_one(gql, workspace.developer, item(labels={"pod": "a"}))
    other_service = await raise_one(
        gql,
        workspace.developer,
        item(service="payments", labels={"pod": "a", "region": "eu", "env": "prod"}),
    )

    assert same["id"] == first["id"]
    assert same["fingerprint"] == first["fingerprint"]
    assert same["occurrenceCount"] == 2
    ids = {first["id"], other_labels["id"], fewer_labels["id"], other_service["id"]}
    assert len(ids) == 4, "different labels or service make different alerts"
    fingerprints = {
        first["fingerprint"],
        other_labels["fingerprint"],
        fewer_labels["fingerprint"],
        other_service["fingerprint"],
    }
    assert len(fingerprints) == 4
    assert other_labels["occurrenceCount"] == other_service["occurrenceCount"] == 1
    assert await count_alerts(gql, workspace) == 4


async def test_an_alert_without_labels_gets_a_default_fingerprint_per_service(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    bare = await raise_one(gql, workspace.developer, item())
    empty = await raise_one(gql, workspace.developer, item(labels={}))
    elsewhere = await raise_one(gql, workspace.developer, item(service="search"))
    assert bare["id"] == empty["id"]
    assert empty["occurrenceCount"] == 2
    assert bare["labels"] == {}
    assert elsewhere["id"] != bare["id"]


async def test_an_explicit_fingerprint_wins_over_service_and_labels(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    implicit = await raise_one(gql, workspace.developer, item(labels={"pod": "a"}))
    explicit = await raise_one(
        gql, workspace.developer, item(labels={"pod": "a"}, fingerprint="checkout/http-5xx")
    )
    relabelled = await raise_one(
        gql,
        workspace.developer,
        item(labels={"pod": "b", "zone": "z1"}, fingerprint="checkout/http-5xx"),
    )
    assert explicit["fingerprint"] == "checkout/http-5xx"
    assert explicit["id"] != implicit["id"], "same labels, but the fingerprint is given"
    assert relabelled["id"] == explicit["id"], "other labels, same given fingerprint"
    assert relabelled["occurrenceCount"] == 2
    assert relabelled["labels"] == {"pod": "b", "zone": "z1"}, "the latest labels are kept"
    assert implicit["occurrenceCount"] == 1
    assert (await read_alert(gql, workspace, implicit["id"]))["occurrenceCount"] == 1


async def test_fingerprints_are_per_workspace(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    mine = await raise_one(gql, workspace.developer, item(fingerprint="shared-fp"))
    theirs = await raise_one(gql, other_workspace.developer, item(fingerprint="shared-fp"))
    assert mine["id"] != theirs["id"]
    assert mine["occurrenceCount"] == theirs["occurrenceCount"] == 1


# --- batches and repeats --------------------------------------------------------------


async def test_repeats_inside_one_batch_collapse_and_results_keep_the_input_order(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    a = item(summary="a first", labels={"pod": "a"})
    b = item(summary="b only", severity="INFO", labels={"pod": "b"})
    a_again = item(summary="a second", severity="PAGE", labels={"pod": "a"})
    c = item(service="payments", summary="c only", labels={"pod": "a"})
    results = await raise_many(gql, workspace.developer, [a, b, a_again, c, a])

    assert len(results) == 5
    assert results[0]["id"] == results[2]["id"] == results[4]["id"]
    assert len({results[0]["id"], results[1]["id"], results[3]["id"]}) == 3
    assert [r["service"] for r in results] == [
        "checkout",
        "checkout",
        "checkout",
        "payments",
        "checkout",
    ]
    assert results[1]["summary"] == "b only"
    assert results[1]["labels"] == {"pod": "b"}
    assert results[3]["summary"] == "c only"
    for repeated in (results[0], results[2], results[4]):
        assert repeated["occurrenceCount"] == 3
    assert results[1]["occurrenceCount"] == results[3]["occurrenceCount"] == 1
    assert await count_alerts(gql, workspace) == 3

    stored = await read_alert(gql, workspace, results[0]["id"])
    assert stored["occurrenceCount"] == 3
    assert [event["type"] for event in stored["events"]] == ["alert.fired"]
    assert stored["events"][0]["payload"]["occurrenceCount"] == 3


async def test_a_batch_repeating_an_open_alert_adds_to_its_count(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    a = item(labels={"pod": "a"})
    first = await raise_one(gql, workspace.developer, a)
    results = await raise_many(gql, workspace.developer, [a, item(labels={"pod": "b"}), a])
    assert results[0]["id"] == results[2]["id"] == first["id"]
    assert results[0]["occurrenceCount"] == 3
    stored = await read_alert(gql, workspace, first["id"])
    types = [event["type"] for event in stored["events"]]
    assert types == ["alert.fired", "alert.deduplicated"]
    assert stored["events"][1]["payload"]["occurrenceCount"] == 3


async def test_a_repeat_updates_summary_severity_and_last_fired_but_not_first_fired(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    started = restore_clock.now()
    first = await raise_one(
        gql, workspace.developer, item(summary="latency high", severity="WARNING")
    )
    restore_clock.advance(timedelta(minutes=10))
    again = await raise_one(
        gql, workspace.developer, item(summary="latency very high", severity="PAGE")
    )

    assert again["id"] == first["id"]
    assert again["occurrenceCount"] == 2
    assert again["summary"] == "latency very high"
    assert again["severity"] == "PAGE"
    assert moment(again["firstFiredAt"]) == started
    assert moment(again["lastFiredAt"]) == started + timedelta(minutes=10)
    assert moment(first["lastFiredAt"]) == started

    stored = await read_alert(gql, workspace, first["id"])
    assert (stored["summary"], stored["severity"], stored["occurrenceCount"]) == (
        "latency very high",
        "PAGE",
        2,
    )
    assert moment(stored["firstFiredAt"]) == started
    assert moment(stored["lastFiredAt"]) == started + timedelta(minutes=10)
    deduplicated = stored["events"][-1]
    assert deduplicated["type"] == "alert.deduplicated"
    assert deduplicated["payload"]["severity"] == "PAGE"
    assert deduplicated["payload"]["summary"] == "latency very high"


async def test_an_acknowledged_alert_that_fires_again_is_deduplicated(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    first = await raise_one(gql, workspace.developer, item(labels={"pod": "a"}))
    await gql.data(ACKNOWLEDGE, {"id": first["id"]}, key=workspace.developer)
    again = await raise_one(gql, workspace.developer, item(labels={"pod": "a"}))

    assert again["id"] == first["id"]
    assert again["status"] == "ACKNOWLEDGED"
    assert again["occurrenceCount"] == 2
    assert again["acknowledgedAt"] is not None
    stored = await read_alert(gql, workspace, first["id"])
    assert stored["status"] == "ACKNOWLEDGED"
    assert [event["type"] for event in stored["events"]] == [
        "alert.fired",
        "alert.acknowledged",
        "alert.deduplicated",
    ]
    assert stored["events"][-1]["payload"]["status"] == "ACKNOWLEDGED"
    assert stored["events"][-1]["payload"]["occurrenceCount"] == 2
    assert await count_alerts(gql, workspace) == 1


@pytest.mark.parametrize("ended", ["RESOLVED", "CLOSED"])
async def test_an_ended_alert_that_fires_again_opens_a_new_alert(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock, ended: str
) -> None:
    old = await raise_one(gql, workspace.developer, item(labels={"pod": "a"}))
    await raise_one(gql, workspace.developer, item(labels={"pod": "a"}))
    await gql.data(RESOLVE, {"id": old["id"]}, key=workspace.developer)
    if ended == "CLOSED":
        await gql.data(CLOSE, {"id": old["id"]}, key=workspace.developer)
    restore_clock.advance(timedelta(minutes=5))

    new = await raise_one(gql, workspace.developer, item(labels={"pod": "a"}))
    assert new["id"] != old["id"]
    assert new["fingerprint"] == old["fingerprint"]
    assert new["status"] == "FIRING"
    assert new["occurrenceCount"] == 1
    assert moment(new["firstFiredAt"]) == restore_clock.now()
    assert new["acknowledgedAt"] is None

    still_old = await read_alert(gql, workspace, old["id"])
    assert still_old["status"] == ended
    assert still_old["occurrenceCount"] == 2
    assert moment(still_old["lastFiredAt"]) < moment(new["firstFiredAt"])
    assert [event["type"] for event in (await read_alert(gql, workspace, new["id"]))["events"]] == [
        "alert.fired"
    ]

    # The next repeat goes to the new, open alert.
    third = await raise_one(gql, workspace.developer, item(labels={"pod": "a"}))
    assert third["id"] == new["id"]
    assert third["occurrenceCount"] == 2
    assert (await read_alert(gql, workspace, old["id"]))["occurrenceCount"] == 2
    assert await count_alerts(gql, workspace) == 2


async def test_a_batch_reopens_an_ended_fingerprint_once(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    old = await raise_one(gql, workspace.developer, item(fingerprint="fp-1"))
    await gql.data(RESOLVE, {"id": old["id"]}, key=workspace.developer)
    results = await raise_many(
        gql, workspace.developer, [item(fingerprint="fp-1"), item(fingerprint="fp-1")]
    )
    assert results[0]["id"] == results[1]["id"] != old["id"]
    assert results[0]["occurrenceCount"] == 2
    assert results[0]["status"] == "FIRING"
    assert (await read_alert(gql, workspace, old["id"]))["status"] == "RESOLVED"


# --- source -----------------------------------------------------------------------------


async def test_the_source_defaults_to_external_and_a_given_one_is_kept(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    results = await raise_many(
        gql,
        workspace.developer,
        [
            item(labels={"n": "1"}),
            item(labels={"n": "3"}, source="RULE"),
            item(labels={"n": "4"}, source="EXTERNAL"),
        ],
    )
    assert [r["source"] for r in results] == ["EXTERNAL", "RULE", "EXTERNAL"]
    for result, source in zip(results, ["EXTERNAL", "RULE", "EXTERNAL"], strict=True):
        assert (await read_alert(gql, workspace, result["id"]))["source"] == source


async def test_the_summary_is_trimmed_and_the_labels_are_kept(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    raised = await raise_one(
        gql,
        workspace.developer,
        item(summary="  disk 93% full on /var  ", labels={"mount": "/var", "host": "db-1"}),
    )
    stored = await read_alert(gql, workspace, raised["id"])
    assert stored["summary"] == "disk 93% full on /var"
    assert stored["labels"] == {"mount": "/var", "host": "db-1"}
    assert stored["service"] == "checkout"
    assert stored["severity"] == "CRITICAL"


TRICKY_LABELS = {
    "path": 'C:\\tmp\\"quoted", {braced}',
    "null_word": "NULL",
    "empty": "",
    "unicode": "Überlast 🔥 — ☃",
    "json": '{"a": [1, 2]}',
}


@pytest.mark.parametrize("batch_size", [1, 3])
async def test_awkward_text_survives_the_round_trip(
    gql: GraphQLClient, workspace: Workspace, batch_size: int
) -> None:
    summary = "disk \"93%\" full on C:\\var, {x} 'NULL' 🔥"
    items = [
        item(summary=summary, labels={**TRICKY_LABELS, "n": str(n)}) for n in range(batch_size)
    ]
    results = await raise_many(gql, workspace.developer, items)
    for n, result in enumerate(results):
        stored = await read_alert(gql, workspace, result["id"])
        assert stored["summary"] == summary
        assert stored["labels"] == {**TRICKY_LABELS, "n": str(n)}
        fired = stored["events"][0]["payload"]
        assert fired["summary"] == summary
        assert fired["labels"] == {**TRICKY_LABELS, "n": str(n)}
    again = await raise_many(gql, workspace.developer, items)
    assert [r["id"] for r in again] == [r["id"] for r in results], "same default fingerprint"


# --- validation: all or nothing -----------------------------------------------------------

BAD_ITEMS: list[tuple[str, dict[str, Any], str]] = [
    ("empty service", {"service": ""}, "service"),
    ("service with a space", {"service": "check out"}, "service"),
    ("service too long", {"service": "s" * 101}, "service"),
    ("empty summary", {"summary": ""}, "summary"),
    ("blank summary", {"summary": "   "}, "summary"),
    ("summary too long", {"summary": "x" * 1001}, "summary"),
    ("label name with a dash", {"labels": {"bad-name": "x"}}, "labels"),
    ("label name starting with a digit", {"labels": {"1pod": "x"}}, "labels"),
    ("empty label name", {"labels": {"": "x"}}, "labels"),
    ("object label value", {"labels": {"pod": {"name": "a"}}}, "labels"),
    ("list label value", {"labels": {"pod": ["a"]}}, "labels"),
    ("boolean label value", {"labels": {"pod": True}}, "labels"),
    ("null label value", {"labels": {"pod": None}}, "labels"),
    ("label value too long", {"labels": {"pod": "v" * 257}}, "labels"),
    ("too many labels", {"labels": {f"l{n}": "v" for n in range(33)}}, "labels"),
    ("labels as a list", {"labels": ["pod", "a"]}, "labels"),
    ("labels as a string", {"labels": "pod=a"}, "labels"),
    ("labels as a number", {"labels": 3}, "labels"),
    ("fingerprint too long", {"fingerprint": "f" * 129}, "fingerprint"),
    ("empty fingerprint", {"fingerprint": ""}, "fingerprint"),
    ("fingerprint with a space", {"fingerprint": "has space"}, "fingerprint"),
]


@pytest.mark.parametrize(
    ("bad", "field"),
    [pytest.param(bad, field, id=name) for name, bad, field in BAD_ITEMS],
)
async def test_one_bad_item_refuses_the_whole_batch(
    gql: GraphQLClient, workspace: Workspace, bad: dict[str, Any], field: str
) -> None:
    existing = await raise_one(gql, workspace.developer, item(labels={"pod": "seen"}))
    batch = [
        item(labels={"pod": "seen"}),
        item(labels={"pod": "new"}),
        item(**{"labels": {"pod": "third"}, **bad}),
        item(labels={"pod": "after"}),
    ]
    body = await gql.execute(RAISE_MANY, {"inputs": batch}, key=workspace.developer)

    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == f"inputs[2].{field}"
    assert await count_alerts(gql, workspace) == 1, "nothing of the batch is stored"
    stored = await read_alert(gql, workspace, existing["id"])
    assert stored["occurrenceCount"] == 1
    assert [event["type"] for event in stored["events"]] == ["alert.fired"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        pytest.param({"summary": "broken\x00summary"}, "summary", id="summary"),
        pytest.param({"labels": {"pod": "a\x00b"}}, "labels", id="label-value"),
    ],
)
async def test_a_nul_character_is_refused_as_bad_input_on_every_backend(
    gql: GraphQLClient, workspace: Workspace, bad: dict[str, Any], field: str
) -> None:
    """PostgreSQL cannot store U+0000 in text or jsonb: refused up front, never INTERNAL."""
    batch = [item(labels={"pod": "ok"}), item(**{"labels": {"pod": "second"}, **bad})]
    body = await gql.execute(RAISE_MANY, {"inputs": batch}, key=workspace.developer)
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == f"inputs[1].{field}"
    assert await count_alerts(gql, workspace) == 0


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        pytest.param({"labels": {"bad-name": "x"}}, "labels", id="labels"),
        pytest.param({"summary": ""}, "summary", id="summary"),
        pytest.param({"service": "-x"}, "service", id="service"),
        pytest.param({"fingerprint": "f" * 129}, "fingerprint", id="fingerprint"),
    ],
)
async def test_raise_alert_refuses_a_bad_input_naming_its_field(
    gql: GraphQLClient, workspace: Workspace, bad: dict[str, Any], field: str
) -> None:
    body = await gql.execute(RAISE, {"input": item(**bad)}, key=workspace.developer)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == f"input.{field}"
    assert await count_alerts(gql, workspace) == 0


async def test_a_fingerprint_of_128_printable_characters_is_accepted(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    fingerprint = "f" * 127 + "~"
    raised = await raise_one(gql, workspace.developer, item(fingerprint=fingerprint))
    assert raised["fingerprint"] == fingerprint


async def test_numeric_label_values_are_kept_as_text(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    """Labels are strings; numbers (as JSON gives them) are read as their text."""
    as_number = await raise_one(gql, workspace.developer, item(labels={"port": 8080}))
    as_text = await raise_one(gql, workspace.developer, item(labels={"port": "8080"}))
    assert as_number["labels"] == {"port": "8080"}
    assert as_text["id"] == as_number["id"]


async def test_an_empty_batch_is_refused(gql: GraphQLClient, workspace: Workspace) -> None:
    body = await gql.execute(RAISE_MANY, {"inputs": []}, key=workspace.developer)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "inputs"
    assert await count_alerts(gql, workspace) == 0


async def test_a_batch_over_the_limit_is_refused_and_a_full_one_is_stored(
    gql: GraphQLClient, workspace: Workspace, services: Services
) -> None:
    limit = services.settings.max_alert_batch
    too_many = [item(labels={"n": str(n)}) for n in range(limit + 1)]
    body = await gql.execute(RAISE_MANY, {"inputs": too_many}, key=workspace.developer)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "inputs"
    assert await count_alerts(gql, workspace) == 0

    results = await raise_many(gql, workspace.developer, too_many[:limit])
    assert len(results) == limit
    assert len({result["id"] for result in results}) == limit
    assert [result["labels"]["n"] for result in results] == [str(n) for n in range(limit)]
    assert await count_alerts(gql, workspace) == limit


async def test_a_viewer_cannot_raise_alerts(gql: GraphQLClient, workspace: Workspace) -> None:
    assert await gql.error_code(RAISE, {"input": item()}, key=workspace.viewer) == "FORBIDDEN"
    code = await gql.error_code(RAISE_MANY, {"inputs": [item()]}, key=workspace.viewer)
    assert code == "FORBIDDEN"
    assert await count_alerts(gql, workspace) == 0


# --- concurrency ------------------------------------------------------------------------


async def test_concurrent_raises_of_one_fingerprint_make_one_alert(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    alert = item(labels={"pod": "hot"})
    results = await asyncio.gather(
        *(gql.execute(RAISE, {"input": alert}, key=workspace.developer) for _ in range(50))
    )
    assert all(not body.get("errors") for body in results), [
        body["errors"] for body in results if body.get("errors")
    ]
    raised = [body["data"]["raiseAlert"] for body in results]
    assert len({r["id"] for r in raised}) == 1
    assert sorted(r["occurrenceCount"] for r in raised) == list(range(1, 51)), (
        "each raise saw its own increment"
    )
    assert {r["status"] for r in raised} == {"FIRING"}

    listed = (await gql.data(ALL_ALERTS, key=workspace.viewer))["alerts"]
    assert listed["totalCount"] == 1
    stored = await read_alert(gql, workspace, raised[0]["id"])
    assert stored["occurrenceCount"] == 50
    types = Counter(event["type"] for event in stored["events"])
    assert types == {"alert.fired": 1, "alert.deduplicated": 49}


async def test_concurrent_overlapping_batches_add_up_exactly(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    rng = random.Random(20260302)
    fingerprints = [f"fp-{n:02d}" for n in range(30)]
    batches: list[list[str]] = []
    for index in range(12):
        chosen = rng.sample(fingerprints, 20) + rng.sample(fingerprints, 5)
        if index % 2:
            chosen.sort(reverse=True)
        else:
            rng.shuffle(chosen)
        batches.append(chosen)
    expected = Counter(fp for batch in batches for fp in batch)

    bodies = await asyncio.gather(
        *(
            gql.execute(
                RAISE_MANY,
                {"inputs": [item(fingerprint=fp, labels={"fp": fp}) for fp in batch]},
                key=workspace.developer,
            )
            for batch in batches
        )
    )
    assert all(not body.get("errors") for body in bodies), [
        body["errors"] for body in bodies if body.get("errors")
    ]
    for batch, body in zip(batches, bodies, strict=True):
        results = body["data"]["raiseAlerts"]
        assert [result["fingerprint"] for result in results] == batch

    listed = (await gql.data(ALL_ALERTS, key=workspace.viewer))["alerts"]
    assert listed["totalCount"] == len(expected)
    counts = {
        edge["node"]["fingerprint"]: edge["node"]["occurrenceCount"] for edge in listed["edges"]
    }
    assert counts == dict(expected)
    assert {edge["node"]["status"] for edge in listed["edges"]} == {"FIRING"}


async def test_a_raise_racing_a_resolve_either_counts_or_reopens(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    """Whichever commits first, no raise is lost and at most one alert is open."""
    for round_ in range(8):
        alert = item(fingerprint=f"race-{round_}")
        first = await raise_one(gql, workspace.developer, alert)
        resolved, raised = await asyncio.gather(
            gql.execute(RESOLVE, {"id": first["id"]}, key=workspace.developer),
            gql.execute(RAISE, {"input": alert}, key=workspace.developer),
        )
        assert not resolved.get("errors"), resolved
        assert not raised.get("errors"), raised
        again = raised["data"]["raiseAlert"]
        old = await read_alert(gql, workspace, first["id"])
        assert old["status"] == "RESOLVED"
        if again["id"] == first["id"]:  # the raise came first: counted, then resolved
            assert old["occurrenceCount"] == 2
        else:  # the resolve came first: the raise opened a new alert
            assert old["occurrenceCount"] == 1
            assert again["occurrenceCount"] == 1
            assert again["status"] == "FIRING"
    listed = (await gql.data(ALL_ALERTS, key=workspace.viewer))["alerts"]
    nodes = [edge["node"] for edge in listed["edges"]]
    assert sum(node["occurrenceCount"] for node in nodes) == 16
    open_ = Counter(node["fingerprint"] for node in nodes if node["status"] == "FIRING")
    assert all(count == 1 for count in open_.values())


async def test_raised_events_carry_the_same_payload_as_every_other_alert_event(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    """On PostgreSQL the database writes the fired and deduplicated events itself:
    their payloads must read exactly like those written by the other changes."""
    labels = {"alertname": "Disk", "mount": "/var"}
    first = await raise_one(gql, workspace.developer, item(labels=labels))
    await raise_one(gql, workspace.developer, item(labels=labels, severity="PAGE"))
    await gql.data(ACKNOWLEDGE, {"id": first["id"]}, key=workspace.developer)
    events = (await read_alert(gql, workspace, first["id"]))["events"]
    assert [event["type"] for event in events] == [
        "alert.fired",
        "alert.deduplicated",
        "alert.acknowledged",
    ]
    fired, deduplicated, acknowledged = (event["payload"] for event in events)
    common = {
        "alertId": first["id"],
        "fingerprint": first["fingerprint"],
        "service": "checkout",
        "source": "EXTERNAL",
        "summary": "5xx rate above 5%",
        "labels": labels,
        "silenced": False,
        "noiseSuppressed": False,
        "inhibited": False,
        "needsPostmortem": False,
    }
    assert fired == {**common, "severity": "CRITICAL", "status": "FIRING", "occurrenceCount": 1}
    assert deduplicated == {
        **common,
        "severity": "PAGE",
        "status": "FIRING",
        "occurrenceCount": 2,
        "occurrences": 1,
    }
    assert acknowledged == {
        **common,
        "severity": "PAGE",
        "status": "ACKNOWLEDGED",
        "occurrenceCount": 2,
        "actor": "developer",
    }


@pytest.mark.parametrize(
    ("reserved", "field"),
    [
        pytest.param({"fingerprint": "slo:1:1h/5m"}, "input.fingerprint", id="fingerprint"),
        pytest.param({"source": "SLO"}, "input.source", id="source"),
        pytest.param({"fingerprint": "capacity:7"}, "input.fingerprint", id="capacity"),
    ],
)
async def test_fingerprints_and_the_source_of_opsgraphs_own_alerts_are_reserved(
    gql: GraphQLClient, workspace: Workspace, reserved: dict[str, Any], field: str
) -> None:
    """Else a client's raise would deduplicate into, and take over, an SLO's alert."""
    body = await gql.execute(RAISE, {"input": item(**reserved)}, key=workspace.developer)
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert await count_alerts(gql, workspace) == 0
