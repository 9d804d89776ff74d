"""Listing alerts through GraphQL: every filter alone and combined, pagination,
bad filters, workspace isolation, and the open alerts of observabilityOverview."""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from server.core.clock import FrozenClock
from tests.conftest import Workspace, make_workspace
from tests.graphql_client import GraphQLClient

RAISE = """mutation($input: AlertInput!) {
  raiseAlert(input: $input) { id status firstFiredAt lastFiredAt }
}"""
LIST = """query($filter: AlertFilter, $first: Int, $after: String) {
  alerts(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id service summary severity status labels } }
  }
}"""
ALERT = "query($id: ID!) { alert(id: $id) { id } }"
ACKNOWLEDGE = "mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }"
RESOLVE = "mutation($id: ID!) { resolveAlert(id: $id) { id } }"
CLOSE = "mutation($id: ID!) { closeAlert(id: $id) { id } }"
INGEST = """mutation($signals: [SignalInput!]!) {
  ingestSignals(signals: $signals) { accepted rejected { index reason } }
}"""
CEST = timezone(timedelta(hours=2))
OVERVIEW = """{ observabilityOverview { services {
  service openAlerts openAlertsBySeverity { severity count } signalCount } } }"""


@dataclass(frozen=True)
class Seeded:
    workspace: Workspace
    t0: datetime
    ids: dict[str, str]

    def names(self, alert_ids: list[str]) -> list[str]:
        by_id = {alert_id: name for name, alert_id in self.ids.items()}
        return [by_id[alert_id] for alert_id in alert_ids]


# name, minutes after t0, service, severity, summary, labels, status to walk to
ALERTS: list[tuple[str, int, str, str, str, dict[str, str], str]] = [
    ("A", 0, "checkout", "PAGE", "Checkout 5xx rate at 50%", {"env": "prod", "pod": "a"}, "FIRING"),
    ("B", 10, "checkout", "WARNING", "checkout_latency high", {"env": "staging"}, "ACKNOWLEDGED"),
    ("C", 20, "payments", "CRITICAL", "Payments DOWN", {"env": "prod", "region": "eu"}, "RESOLVED"),
    ("D", 30, "search", "INFO", "Search reindex slow", {}, "CLOSED"),
    ("E", 40, "payments", "PAGE", "Payments 100% errors", {"env": "prod"}, "FIRING"),
]


async def _raise(gql: GraphQLClient, key: str, alert: dict[str, Any]) -> dict[str, Any]:
    raised: dict[str, Any] = (await gql.data(RAISE, {"input": alert}, key=key))["raiseAlert"]
    return raised


async def seed(gql: GraphQLClient, workspace: Workspace, clock: FrozenClock) -> Seeded:
    """Five alerts, one every ten minutes; E fires again at t0 + 60 min."""
    t0 = clock.now()
    key = workspace.developer
    ids: dict[str, str] = {}
    for name, minutes, service, severity, summary, labels, status in ALERTS:
        clock.set(t0 + timedelta(minutes=minutes))
        alert = {"service": service, "summary": summary, "severity": severity, "labels": labels}
        alert_id = (await _raise(gql, key, alert))["id"]
        ids[name] = alert_id
        steps = {
            "FIRING": [],
            "ACKNOWLEDGED": [ACKNOWLEDGE],
            "RESOLVED": [RESOLVE],
            "CLOSED": [RESOLVE, CLOSE],
        }[status]
        for step in steps:
            await gql.data(step, {"id": alert_id}, key=key)
    clock.set(t0 + timedelta(minutes=60))
    repeat = {"service": "payments", "summary": "Payments 100% errors", "severity": "PAGE"}
    again = await _raise(gql, key, {**repeat, "labels": {"env": "prod"}})
    assert again["id"] == ids["E"]
    return Seeded(workspace=workspace, t0=t0, ids=ids)


@pytest.fixture(scope="module")
async def seeded(gql: GraphQLClient, root_key: str, clock: FrozenClock) -> Seeded:
    """One seeded workspace that the read-only tests of this module share."""
    saved = clock.now()
    try:
        seeded = await seed(gql, await make_workspace(gql, root_key), clock)
    finally:
        clock.set(saved)
    return seeded


async def list_alerts(
    gql: GraphQLClient,
    key: str,
    filter_: dict[str, Any] | None = None,
    *,
    first: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    variables: dict[str, Any] = {"filter": filter_, "first": first, "after": after}
    listed: dict[str, Any] = (await gql.data(LIST, variables, key=key))["alerts"]
    return listed


def at(seeded: Seeded, minutes: int) -> str:
    return (seeded.t0 + timedelta(minutes=minutes)).isoformat()


def matcher(label: str, op: str, value: str) -> dict[str, Any]:
    return {"labels": [{"label": label, "op": op, "value": value}]}


# Each filter alone: what it keeps of A..E (listed newest first).
SINGLE_FILTERS: list[tuple[str, dict[str, Any], str]] = [
    ("no filter", {}, "EDCBA"),
    ("service", {"service": "checkout"}, "BA"),
    ("service unknown", {"service": "nothing"}, ""),
    ("status firing", {"status": ["FIRING"]}, "EA"),
    ("status open", {"status": ["FIRING", "ACKNOWLEDGED"]}, "EBA"),
    ("status ended", {"status": ["RESOLVED", "CLOSED"]}, "DC"),
    ("status empty list", {"status": []}, "EDCBA"),
    ("severity page", {"severity": ["PAGE"]}, "EA"),
    ("severity info or critical", {"severity": ["INFO", "CRITICAL"]}, "DC"),
    ("label EQ", matcher("env", "EQ", "prod"), "ECA"),
    ("label NEQ (a missing label is empty)", matcher("env", "NEQ", "prod"), "DB"),
    ("label RE", matcher("env", "RE", "prod|staging"), "ECBA"),
    ("label RE is anchored", matcher("env", "RE", "pro"), ""),
    ("label RE prefix", matcher("env", "RE", "pro.*"), "ECA"),
    ("label NRE", matcher("env", "NRE", "prod"), "DB"),
    ("label EQ empty = missing", matcher("region", "EQ", ""), "EDBA"),
    ("label matcher service", matcher("service", "EQ", "payments"), "EC"),
    ("label matcher service NEQ", matcher("service", "NEQ", "payments"), "DBA"),
    ("label matcher service RE", matcher("service", "RE", "check.*|search"), "DBA"),
    ("text", {"text": "payments"}, "EC"),
    ("text is case-insensitive", {"text": "down"}, "C"),
    ("text upper case", {"text": "CHECKOUT"}, "BA"),
    ("text percent is literal", {"text": "%"}, "EA"),
    ("text 0% is literal", {"text": "0%"}, "EA"),
    ("text underscore is literal", {"text": "_"}, "B"),
    ("text without a match", {"text": "nothing like it"}, ""),
]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [pytest.param(f, e, id=name) for name, f, e in SINGLE_FILTERS],
)
async def test_each_filter_alone(
    gql: GraphQLClient,
    seeded: Seeded,
    filter_: dict[str, Any],
    expected: str,
) -> None:
    listed = await list_alerts(gql, seeded.workspace.viewer, filter_)
    names = seeded.names([edge["node"]["id"] for edge in listed["edges"]])
    assert "".join(names) == expected
    assert listed["totalCount"] == len(expected)
    assert listed["pageInfo"]["hasNextPage"] is False


async def test_the_time_range_keeps_alerts_that_fired_in_it(
    gql: GraphQLClient, seeded: Seeded
) -> None:
    """``from`` keeps alerts last fired at or after it, ``to`` those first fired before it."""
    cases: list[tuple[dict[str, Any], str]] = [
        ({"from": at(seeded, 25)}, "ED"),
        ({"from": at(seeded, 30)}, "ED"),  # at or after
        ({"from": at(seeded, 45)}, "E"),  # E fired again at 60
        ({"from": at(seeded, 61)}, ""),
        ({"to": at(seeded, 15)}, "BA"),
        ({"to": at(seeded, 10)}, "A"),  # before, not at
        ({"to": at(seeded, 45)}, "EDCBA"),
        ({"from": at(seeded, 5), "to": at(seeded, 35)}, "DCB"),
        ({"from": at(seeded, 5), "to": at(seeded, 45)}, "EDCB"),
        ({"from": at(seeded, 50), "to": at(seeded, 55)}, "E"),  # open across the range
        ({"from": (seeded.t0 + timedelta(minutes=25)).astimezone(CEST).isoformat()}, "ED"),
    ]
    for filter_, expected in cases:
        listed = await list_alerts(gql, seeded.workspace.viewer, filter_)
        names = seeded.names([edge["node"]["id"] for edge in listed["edges"]])
        assert "".join(names) == expected, filter_
        assert listed["totalCount"] == len(expected), filter_


async def test_filters_combine(gql: GraphQLClient, seeded: Seeded) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {
                "service": "payments",
                "status": ["FIRING", "RESOLVED"],
                "severity": ["PAGE"],
                "labels": [{"label": "env", "op": "EQ", "value": "prod"}],
                "text": "ERRORS",
                "from": at(seeded, 50),
            },
            "E",
        ),
        ({"service": "payments", "status": ["RESOLVED"]}, "C"),
        ({"service": "payments", "severity": ["WARNING"]}, ""),
        ({"severity": ["PAGE"], "to": at(seeded, 30)}, "A"),
        (
            {
                "labels": [
                    {"label": "env", "op": "RE", "value": "prod|staging"},
                    {"label": "service", "op": "NEQ", "value": "payments"},
                ]
            },
            "BA",
        ),
        (
            {
                "labels": [
                    {"label": "env", "op": "EQ", "value": "prod"},
                    {"label": "region", "op": "NRE", "value": "eu|us"},
                ]
            },
            "EA",
        ),
        ({"status": ["FIRING", "ACKNOWLEDGED"], "text": "checkout"}, "BA"),
        ({"status": ["CLOSED"], "severity": ["INFO"], "service": "search"}, "D"),
        ({"status": ["CLOSED"], "severity": ["PAGE"]}, ""),
    ]
    for filter_, expected in cases:
        listed = await list_alerts(gql, seeded.workspace.viewer, filter_)
        names = seeded.names([edge["node"]["id"] for edge in listed["edges"]])
        assert "".join(names) == expected, filter_
        assert listed["totalCount"] == len(expected), filter_


async def test_pages_run_newest_first_with_cursors(gql: GraphQLClient, seeded: Seeded) -> None:
    seen: list[str] = []
    after: str | None = None
    pages = []
    while True:
        page = await list_alerts(gql, seeded.workspace.viewer, first=2, after=after)
        pages.append(page)
        assert page["totalCount"] == 5
        edges = page["edges"]
        seen += [edge["node"]["id"] for edge in edges]
        assert page["pageInfo"]["endCursor"] == edges[-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [len(page["edges"]) for page in pages] == [2, 2, 1]
    assert "".join(seeded.names(seen)) == "EDCBA"
    assert [int(alert_id) for alert_id in seen] == sorted(map(int, seen), reverse=True)

    # An empty page past the end.
    last = await list_alerts(
        gql, seeded.workspace.viewer, first=2, after=pages[-1]["pageInfo"]["endCursor"]
    )
    assert last["edges"] == []
    assert last["pageInfo"]["hasNextPage"] is False
    assert last["pageInfo"]["endCursor"] is None


async def test_pages_of_a_filtered_list(gql: GraphQLClient, seeded: Seeded) -> None:
    filter_ = {"status": ["FIRING", "ACKNOWLEDGED"]}
    first = await list_alerts(gql, seeded.workspace.viewer, filter_, first=2)
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    second = await list_alerts(
        gql, seeded.workspace.viewer, filter_, first=2, after=first["pageInfo"]["endCursor"]
    )
    assert second["totalCount"] == 3
    assert second["pageInfo"]["hasNextPage"] is False
    ids = [edge["node"]["id"] for edge in first["edges"] + second["edges"]]
    assert "".join(seeded.names(ids)) == "EBA"


async def test_the_default_page_is_fifty_and_first_zero_counts_only(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    inputs = [
        {"service": "bulk", "summary": "bulk alert", "severity": "INFO", "labels": {"n": str(n)}}
        for n in range(55)
    ]
    await gql.data(
        "mutation($inputs: [AlertInput!]!) { raiseAlerts(inputs: $inputs) { id } }",
        {"inputs": inputs},
        key=workspace.developer,
    )
    default = await list_alerts(gql, workspace.viewer)
    assert len(default["edges"]) == 50
    assert default["totalCount"] == 55
    assert default["pageInfo"]["hasNextPage"] is True
    counted = await list_alerts(gql, workspace.viewer, first=0)
    assert counted["edges"] == []
    assert counted["totalCount"] == 55


async def test_the_service_matcher_means_the_alert_service_even_with_a_service_label(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    alert = {
        "service": "checkout",
        "summary": "labelled with another service",
        "severity": "INFO",
        "labels": {"service": "frontend"},
    }
    raised = await _raise(gql, workspace.developer, alert)
    for op, value, expected in [
        ("EQ", "checkout", [raised["id"]]),
        ("EQ", "frontend", []),
        ("RE", "check.*", [raised["id"]]),
        ("NEQ", "checkout", []),
        ("NRE", "front.*", [raised["id"]]),
    ]:
        listed = await list_alerts(gql, workspace.viewer, matcher("service", op, value))
        assert [edge["node"]["id"] for edge in listed["edges"]] == expected, (op, value)
    stored = await list_alerts(gql, workspace.viewer)
    assert stored["edges"][0]["node"]["labels"] == {"service": "frontend"}


async def test_the_text_filter_ignores_case_beyond_ascii(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    alert = {"service": "dc", "summary": "Überlast im Rechenzentrum É1", "severity": "INFO"}
    raised = await _raise(gql, workspace.developer, alert)
    for text in ("überlast", "ÜBERLAST", "Überlast", "rechenzentrum é1"):
        listed = await list_alerts(gql, workspace.viewer, {"text": text})
        assert [edge["node"]["id"] for edge in listed["edges"]] == [raised["id"]], text


BAD_FILTERS: list[tuple[str, dict[str, Any], str]] = [
    ("unbalanced parenthesis", matcher("env", "RE", "(prod"), "filter.labels[0].value"),
    ("nothing to repeat", matcher("env", "NRE", "*prod"), "filter.labels[0].value"),
    ("bad label name", matcher("bad-name", "EQ", "x"), "filter.labels[0].label"),
    ("empty label name", matcher("", "EQ", "x"), "filter.labels[0].label"),
    ("text too long", {"text": "x" * 201}, "filter.text"),
    ("from without offset", {"from": "2026-03-02T12:00:00"}, "filter.from"),
    ("to without offset", {"to": "2026-03-02T12:00:00"}, "filter.to"),
]


@pytest.mark.parametrize(
    ("filter_", "field"),
    [pytest.param(f, field, id=name) for name, f, field in BAD_FILTERS],
)
async def test_a_bad_filter_is_refused(
    gql: GraphQLClient, workspace: Workspace, filter_: dict[str, Any], field: str
) -> None:
    body = await gql.execute(LIST, {"filter": filter_}, key=workspace.viewer)
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param({"first": 501}, id="page too large"),
        pytest.param({"first": -1}, id="negative page"),
        pytest.param({"after": "not-a-cursor"}, id="bad cursor"),
        pytest.param({"filter": {"status": ["BURNING"]}}, id="unknown status"),
        pytest.param({"filter": {"severity": ["LOUD"]}}, id="unknown severity"),
        pytest.param({"filter": {"labels": [{"label": "a", "op": "LIKE", "value": "x"}]}}, id="op"),
    ],
)
async def test_bad_listing_arguments_are_refused(
    gql: GraphQLClient, workspace: Workspace, variables: dict[str, Any]
) -> None:
    assert await gql.error_code(LIST, variables, key=workspace.viewer) == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "filter_",
    [
        pytest.param({"text": "a\x00b"}, id="text"),
        pytest.param(matcher("env", "EQ", "a\x00b"), id="label value"),
        pytest.param({"service": "a\x00b"}, id="service"),
    ],
)
async def test_a_nul_character_in_a_filter_is_never_an_internal_error(
    gql: GraphQLClient, seeded: Seeded, filter_: dict[str, Any]
) -> None:
    """No alert can hold U+0000: such a filter matches nothing or is refused as bad input."""
    body = await gql.execute(LIST, {"filter": filter_}, key=seeded.workspace.viewer)
    if body.get("errors"):
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    else:
        assert body["data"]["alerts"]["totalCount"] == 0


async def test_another_workspace_sees_none_of_the_alerts(
    gql: GraphQLClient, other_workspace: Workspace, seeded: Seeded
) -> None:
    theirs = await list_alerts(gql, other_workspace.admin)
    assert theirs["totalCount"] == 0
    assert theirs["edges"] == []
    filtered = await list_alerts(gql, other_workspace.viewer, {"service": "checkout"})
    assert filtered["totalCount"] == 0
    for alert_id in seeded.ids.values():
        data = await gql.data(ALERT, {"id": alert_id}, key=other_workspace.admin)
        assert data["alert"] is None
        mine = await gql.data(ALERT, {"id": alert_id}, key=seeded.workspace.viewer)
        assert mine["alert"] == {"id": alert_id}
    # Their own alert with the same service and labels is theirs alone.
    await _raise(
        gql,
        other_workspace.developer,
        {"service": "checkout", "summary": "x", "severity": "PAGE", "labels": {"env": "prod"}},
    )
    assert (await list_alerts(gql, other_workspace.viewer))["totalCount"] == 1
    assert (await list_alerts(gql, seeded.workspace.viewer))["totalCount"] == 5


async def test_listing_needs_a_key(gql: GraphQLClient) -> None:
    assert await gql.error_code(LIST) == "UNAUTHENTICATED"


# --- observabilityOverview ----------------------------------------------------------------


def by_severity(service: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in service["openAlertsBySeverity"]:
        assert entry["severity"] not in counts, "one entry per severity"
        counts[entry["severity"]] = entry["count"]
    return counts


async def test_the_overview_counts_open_alerts_per_service_and_severity(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    now = restore_clock.now()
    signals = [
        {"service": "checkout", "name": "requests", "value": 1.0, "ts": now.isoformat()},
        {"service": "checkout", "name": "requests", "value": 2.0, "ts": now.isoformat()},
        {"service": "checkout", "name": "errors", "value": 0.0, "ts": now.isoformat()},
        {"service": "quiet", "name": "requests", "value": 1.0, "ts": now.isoformat()},
    ]
    ingested = await gql.data(INGEST, {"signals": signals}, key=workspace.developer)
    assert ingested["ingestSignals"]["accepted"] == 4
    await seed(gql, workspace, restore_clock)
    # More open alerts of checkout: two more PAGE (one acknowledged), one INFO.
    extra = [
        ("checkout", "PAGE", {"pod": "x"}, None),
        ("checkout", "PAGE", {"pod": "y"}, ACKNOWLEDGE),
        ("checkout", "INFO", {"pod": "z"}, None),
        ("checkout", "CRITICAL", {"pod": "gone"}, RESOLVE),
    ]
    for service, severity, labels, step in extra:
        alert = {"service": service, "summary": "s", "severity": severity, "labels": labels}
        raised = await _raise(gql, workspace.developer, alert)
        if step is not None:
            await gql.data(step, {"id": raised["id"]}, key=workspace.developer)

    overview = (await gql.data(OVERVIEW, key=workspace.viewer))["observabilityOverview"]
    services = {entry["service"]: entry for entry in overview["services"]}
    assert [entry["service"] for entry in overview["services"]] == sorted(services)
    assert set(services) == {"checkout", "payments", "quiet"}, "search has only closed alerts"

    checkout = services["checkout"]
    assert checkout["signalCount"] == 3
    assert checkout["openAlerts"] == 5
    assert by_severity(checkout) == {"PAGE": 3, "WARNING": 1, "INFO": 1}

    payments = services["payments"]  # open alerts, no signals
    assert payments["signalCount"] == 0
    assert payments["openAlerts"] == 1
    assert by_severity(payments) == {"PAGE": 1}

    quiet = services["quiet"]  # signals, no alerts
    assert quiet["signalCount"] == 1
    assert quiet["openAlerts"] == 0
    assert quiet["openAlertsBySeverity"] == []


async def test_the_overview_follows_the_lifecycle_and_the_workspace(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    alert = {"service": "billing", "summary": "s", "severity": "CRITICAL", "labels": {}}
    raised = await _raise(gql, workspace.developer, alert)

    async def billing(key: str) -> dict[str, Any] | None:
        overview = (await gql.data(OVERVIEW, key=key))["observabilityOverview"]
        found = [entry for entry in overview["services"] if entry["service"] == "billing"]
        return found[0] if found else None

    listed = await billing(workspace.viewer)
    assert listed is not None
    assert listed["openAlerts"] == 1
    assert by_severity(listed) == {"CRITICAL": 1}
    assert await billing(other_workspace.viewer) is None

    await gql.data(ACKNOWLEDGE, {"id": raised["id"]}, key=workspace.developer)
    acknowledged = await billing(workspace.viewer)
    assert acknowledged is not None
    assert acknowledged["openAlerts"] == 1

    await gql.data(RESOLVE, {"id": raised["id"]}, key=workspace.developer)
    assert await billing(workspace.viewer) is None, "no open alerts and no signals"
