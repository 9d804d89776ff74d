"""Signals through HTTP GraphQL: ingestion, listing, series and the overview."""

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from server.core import pagination
from server.core.clock import FrozenClock
from server.core.pagination import PageRequest
from server.core.services import Services
from server.signals import service as signal_service
from server.signals.service import SignalFilter
from server.signals.validation import SampleInput
from tests.conftest import START, Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient
from tests.signals.reference import Point, expected_series

T0 = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)

INGEST = """
mutation($signals: [SignalInput!]!) {
  ingestSignals(signals: $signals) { accepted rejected { index reason } }
}"""
SIGNALS = """
query($filter: SignalFilter, $first: Int, $after: String) {
  signals(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id service name value labels ts } }
  }
}"""
SERIES = """
query($service: String!, $name: String!, $from: DateTime!, $to: DateTime!, $step: Int!,
      $aggregate: Aggregate!, $labels: [MatcherInput!]) {
  signalSeries(service: $service, name: $name, from: $from, to: $to, step: $step,
               aggregate: $aggregate, labels: $labels) { ts value count }
}"""
OVERVIEW = """
{ observabilityOverview { generatedAt services { service signalCount seriesNames lastSeenAt } } }
"""
AGGREGATES = ["AVG", "SUM", "MIN", "MAX", "COUNT", "P50", "P95", "P99"]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sample(
    value: float,
    *,
    ts: datetime | str | None = None,
    service: str = "api",
    name: str = "latency_ms",
    labels: Any = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"service": service, "name": name, "value": value}
    if ts is not None:
        item["ts"] = ts.isoformat() if isinstance(ts, datetime) else ts
    if labels is not None:
        item["labels"] = labels
    return item


async def ingest(gql: GraphQLClient, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = (await gql.data(INGEST, {"signals": items}, key=key))["ingestSignals"]
    return result


async def list_signals(
    gql: GraphQLClient, key: str, filter_: dict[str, Any] | None = None, **args: Any
) -> dict[str, Any]:
    variables = {"filter": filter_, "first": 500, **args}
    result: dict[str, Any] = (await gql.data(SIGNALS, variables, key=key))["signals"]
    return result


def values_of(connection: dict[str, Any]) -> list[float]:
    return [edge["node"]["value"] for edge in connection["edges"]]


def single_error(body: dict[str, Any]) -> dict[str, Any]:
    errors = body.get("errors") or []
    assert len(errors) == 1, body
    error: dict[str, Any] = errors[0]
    return error


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# --- ingestSignals ----------------------------------------------------------------------


async def test_a_batch_stores_the_valid_items_and_names_each_bad_one(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    batch = [
        sample(1.5, ts=at(0), labels={"pod": "a"}),
        sample(2, ts=at(1), service="bad service"),
        sample(3, ts=at(2)),
        sample(4, ts="2026-03-02T11:00:03"),
        sample(5, ts=at(4), name="requests_total"),
    ]
    result = await ingest(gql, workspace.developer, batch)
    assert result["accepted"] == 3
    assert [r["index"] for r in result["rejected"]] == [1, 3]
    assert "service" in result["rejected"][0]["reason"]
    assert "timezone" in result["rejected"][1]["reason"]
    stored = await list_signals(gql, workspace.viewer)
    assert stored["totalCount"] == 3
    assert sorted(values_of(stored)) == [1.5, 3, 5]
    by_value = {edge["node"]["value"]: edge["node"] for edge in stored["edges"]}
    assert by_value[1.5]["labels"] == {"pod": "a"}
    assert by_value[1.5]["service"] == "api"
    assert by_value[5]["name"] == "requests_total"
    assert datetime.fromisoformat(by_value[3]["ts"]) == at(2)


async def test_a_sample_keeps_its_instant_in_utc_and_defaults_to_now(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    plus_two = timezone(timedelta(hours=2))
    batch = [
        sample(1, ts=at(30).astimezone(plus_two)),
        sample(2),  # no ts: the server's clock
    ]
    assert (await ingest(gql, workspace.developer, batch))["accepted"] == 2
    nodes = {
        e["node"]["value"]: e["node"] for e in (await list_signals(gql, workspace.viewer))["edges"]
    }
    assert nodes[1]["ts"] == "2026-03-02T11:00:30+00:00"
    assert datetime.fromisoformat(nodes[2]["ts"]) == START
    assert nodes[2]["labels"] == {}


LIMIT_FUTURE = START + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        pytest.param({"service": ""}, "service", id="empty-service"),
        pytest.param({"service": "api gateway"}, "service", id="space-in-service"),
        pytest.param({"service": "-api"}, "service", id="service-starts-with-dash"),
        pytest.param({"service": "a" * 101}, "service", id="service-too-long"),
        pytest.param({"service": "api\n"}, "service", id="service-trailing-newline"),
        pytest.param({"name": "5xx_total"}, "name", id="name-starts-with-digit"),
        pytest.param({"name": "http-requests"}, "name", id="dash-in-name"),
        pytest.param({"name": "n" * 201}, "name", id="name-too-long"),
        pytest.param({"name": "requests_total\n"}, "name", id="name-trailing-newline"),
        pytest.param({"ts": "2026-03-02T11:00:00"}, "timezone", id="naive-ts"),
        pytest.param(
            {"ts": (LIMIT_FUTURE + timedelta(seconds=1)).isoformat()}, "future", id="ts-in-future"
        ),
        pytest.param({"labels": ["pod", "a"]}, "labels must be an object", id="labels-list"),
        pytest.param({"labels": "pod=a"}, "labels must be an object", id="labels-string"),
        pytest.param({"labels": 7}, "labels must be an object", id="labels-number"),
        pytest.param(
            {"labels": {f"l{i}": "x" for i in range(33)}}, "at most 32 labels", id="33-labels"
        ),
        pytest.param({"labels": {"1pod": "a"}}, "label name '1pod'", id="label-starts-digit"),
        pytest.param({"labels": {"pod-name": "a"}}, "label name 'pod-name'", id="dash-in-label"),
        pytest.param({"labels": {"": "a"}}, "label name ''", id="empty-label-name"),
        pytest.param({"labels": {"l" * 65: "a"}}, "is invalid", id="label-name-too-long"),
        pytest.param({"labels": {"pod\n": "a"}}, "is invalid", id="label-name-newline"),
        pytest.param({"labels": {"pod": {"name": "a"}}}, "'pod' must have a string", id="nested"),
        pytest.param({"labels": {"pod": ["a"]}}, "'pod' must have a string", id="list-value"),
        pytest.param({"labels": {"pod": None}}, "'pod' must have a string", id="null-value"),
        pytest.param({"labels": {"canary": True}}, "'canary' must have a string", id="bool-value"),
        pytest.param({"labels": {"pod": "x" * 257}}, "longer than 256", id="value-too-long"),
    ],
)
async def test_each_validation_rule_rejects_only_its_item(
    gql: GraphQLClient, workspace: Workspace, override: dict[str, Any], reason: str
) -> None:
    good = sample(1, ts=at(0))
    bad = {**sample(2, ts=at(1)), **override}
    result = await ingest(gql, workspace.developer, [good, bad, sample(3, ts=at(2))])
    assert result["accepted"] == 2
    assert len(result["rejected"]) == 1
    assert result["rejected"][0]["index"] == 1
    assert reason in result["rejected"][0]["reason"]
    stored = await list_signals(gql, workspace.viewer)
    assert stored["totalCount"] == 2
    assert sorted(values_of(stored)) == [1, 3]


async def test_values_at_each_limit_are_accepted(gql: GraphQLClient, workspace: Workspace) -> None:
    batch = [
        sample(1, ts=at(0), service="s" * 100),
        sample(2, ts=at(0), service="team.payments/api:v2-eu_1"),
        sample(3, ts=at(0), name="n" * 200),
        sample(4, ts=at(0), name=":http.server:requests_total"),
        sample(5, ts=LIMIT_FUTURE),
        sample(6, ts=at(0), labels={f"l{i}": "x" for i in range(32)}),
        sample(7, ts=at(0), labels={"_" + "l" * 63: "v" * 256}),
        sample(8, ts=at(0), labels={"shard": 7, "ratio": 0.5}),
        sample(9, ts=at(0), labels={}),
        sample(-1e300, ts=at(0)),
    ]
    result = await ingest(gql, workspace.developer, batch)
    assert result == {"accepted": len(batch), "rejected": []}
    nodes = {
        e["node"]["value"]: e["node"] for e in (await list_signals(gql, workspace.viewer))["edges"]
    }
    assert datetime.fromisoformat(nodes[5]["ts"]) == LIMIT_FUTURE
    assert len(nodes[6]["labels"]) == 32
    assert nodes[8]["labels"] == {"shard": "7", "ratio": "0.5"}
    assert nodes[-1e300]["value"] == -1e300


UNREADABLE_TS = [
    pytest.param("yesterday", "RFC 3339", id="word"),
    pytest.param("2026-13-01T00:00:00Z", "RFC 3339", id="month-13"),
    pytest.param(12345, "RFC 3339", id="number"),
    pytest.param({"at": "noon"}, "RFC 3339", id="object"),
    pytest.param("2026-01-01T00:00:00", "timezone offset", id="no-offset"),
]


@pytest.mark.parametrize(("ts", "reason"), UNREADABLE_TS)
async def test_an_unreadable_ts_rejects_only_its_item(
    gql: GraphQLClient, workspace: Workspace, ts: Any, reason: str
) -> None:
    batch = [sample(1, ts=at(0)), {**sample(2), "ts": ts}, sample(3, ts=at(2))]
    result = await ingest(gql, workspace.developer, batch)
    assert result["accepted"] == 2
    assert [r["index"] for r in result["rejected"]] == [1]
    assert reason in result["rejected"][0]["reason"]
    stored = await list_signals(gql, workspace.viewer)
    assert sorted(values_of(stored)) == [1, 3]


async def test_an_unreadable_ts_written_in_the_document_rejects_only_its_item(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    document = """mutation {
      ingestSignals(signals: [
        {service: "api", name: "latency_ms", value: 1, ts: "2026-03-02T11:00:00Z"},
        {service: "api", name: "latency_ms", value: 2, ts: "yesterday"},
        {service: "api", name: "latency_ms", value: 3, ts: 12345}
      ]) { accepted rejected { index reason } }
    }"""
    result = (await gql.data(document, key=workspace.developer))["ingestSignals"]
    assert result["accepted"] == 1
    assert [r["index"] for r in result["rejected"]] == [1, 2]
    assert (await list_signals(gql, workspace.viewer))["totalCount"] == 1


async def test_the_audit_log_keeps_an_unreadable_ts_as_sent(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await ingest(gql, workspace.developer, [{**sample(1), "ts": "yesterday"}])
    log = await gql.data(
        "{ auditLog(first: 1) { edges { node { operation variables } } } }", key=workspace.admin
    )
    entry = log["auditLog"]["edges"][0]["node"]
    assert entry["operation"] == "ingestSignals"
    assert entry["variables"]["signals"][0]["ts"] == "yesterday"


async def test_other_datetime_arguments_stay_strict(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    code = await gql.error_code(SIGNALS, {"filter": {"from": "yesterday"}}, key=workspace.viewer)
    assert code == "BAD_USER_INPUT"


async def test_an_empty_batch_accepts_nothing(gql: GraphQLClient, workspace: Workspace) -> None:
    assert await ingest(gql, workspace.developer, []) == {"accepted": 0, "rejected": []}


async def test_a_batch_over_the_limit_is_refused_whole(
    gql: GraphQLClient, workspace: Workspace, backend: Backend, clock: FrozenClock
) -> None:
    too_many = [sample(i, ts=at(i)) for i in range(4)]
    async with running_app(make_settings(backend, max_ingest_batch=3), clock) as small:
        body = await small.execute(INGEST, {"signals": too_many}, key=workspace.developer)
        error = single_error(body)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == "signals"
        assert "at most 3" in error["message"]
        assert body["data"] is None
        assert (await list_signals(gql, workspace.viewer))["totalCount"] == 0
        at_limit = await small.data(INGEST, {"signals": too_many[:3]}, key=workspace.developer)
        assert at_limit["ingestSignals"] == {"accepted": 3, "rejected": []}
    assert (await list_signals(gql, workspace.viewer))["totalCount"] == 3


async def test_a_viewer_cannot_ingest(gql: GraphQLClient, workspace: Workspace) -> None:
    body = await gql.execute(INGEST, {"signals": [sample(1, ts=at(0))]}, key=workspace.viewer)
    assert single_error(body)["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] is None
    assert (await list_signals(gql, workspace.viewer))["totalCount"] == 0
    assert await gql.error_code(INGEST, {"signals": [sample(1)]}) == "UNAUTHENTICATED"
    assert (await ingest(gql, workspace.admin, [sample(1, ts=at(0))]))["accepted"] == 1


async def test_an_ingest_rolled_back_with_its_transaction_stores_nothing(
    gql: GraphQLClient, workspace: Workspace, services: Services
) -> None:
    """The batch is written in the caller's transaction (on PostgreSQL, by COPY)."""

    class Abort(Exception):
        pass

    items = [
        SampleInput(service="api", name="latency_ms", value=v, ts=at(v), labels={"pod": "a"})
        for v in (1.0, 2.0)
    ]
    outcomes: list[signal_service.IngestOutcome] = []

    async def ingest_then_fail() -> None:
        async with services.db.transaction() as session:
            outcomes.append(
                await signal_service.ingest(
                    session,
                    workspace_id=int(workspace.id),
                    items=items,
                    clock=services.clock,
                    max_batch=10,
                )
            )
            raise Abort

    with pytest.raises(Abort):
        await ingest_then_fail()
    assert [outcome.accepted for outcome in outcomes] == [2]
    assert (await list_signals(gql, workspace.viewer))["totalCount"] == 0
    async with services.db.transaction() as session:
        await signal_service.ingest(
            session, workspace_id=int(workspace.id), items=items, clock=services.clock, max_batch=10
        )
    assert (await list_signals(gql, workspace.viewer))["totalCount"] == 2


# --- signals ----------------------------------------------------------------------------


async def test_signals_filter_by_service_and_name(gql: GraphQLClient, workspace: Workspace) -> None:
    await ingest(
        gql,
        workspace.developer,
        [
            sample(1, ts=at(0), service="api", name="latency_ms"),
            sample(2, ts=at(1), service="api", name="requests_total"),
            sample(3, ts=at(2), service="worker", name="latency_ms"),
            sample(4, ts=at(3), service="api", name="latency_ms"),
        ],
    )
    cases: list[tuple[dict[str, Any] | None, list[float]]] = [
        (None, [4, 3, 2, 1]),
        ({"service": "api"}, [4, 2, 1]),
        ({"name": "latency_ms"}, [4, 3, 1]),
        ({"service": "api", "name": "latency_ms"}, [4, 1]),
        ({"service": "worker", "name": "requests_total"}, []),
        ({"service": "ap"}, []),
    ]
    for filter_, expected in cases:
        found = await list_signals(gql, workspace.viewer, filter_)
        assert values_of(found) == expected, filter_
        assert found["totalCount"] == len(expected), filter_


MATCHER_SAMPLES = [
    (1, {"pod": "a-1", "env": "prod"}),
    (2, {"pod": "a-2", "env": "staging"}),
    (3, {"pod": "b-1", "env": "prod"}),
    (4, {"pod": "b-2"}),
    (5, {}),
]


def matcher(label: str, op: str, value: str) -> dict[str, str]:
    return {"label": label, "op": op, "value": value}


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        pytest.param([matcher("env", "EQ", "prod")], {1, 3}, id="eq"),
        pytest.param([matcher("env", "NEQ", "prod")], {2, 4, 5}, id="neq-includes-missing"),
        pytest.param([matcher("env", "EQ", "")], {4, 5}, id="eq-empty-is-missing"),
        pytest.param([matcher("env", "NEQ", "")], {1, 2, 3}, id="neq-empty-is-present"),
        pytest.param([matcher("pod", "EQ", "a")], set(), id="eq-is-exact"),
        pytest.param([matcher("pod", "RE", "a-.*")], {1, 2}, id="re"),
        pytest.param([matcher("pod", "RE", "a")], set(), id="re-anchored-at-end"),
        pytest.param([matcher("pod", "RE", "1")], set(), id="re-anchored-at-start"),
        pytest.param([matcher("pod", "RE", ".*1")], {1, 3}, id="re-suffix"),
        pytest.param([matcher("env", "RE", "prod|staging")], {1, 2, 3}, id="re-alternation"),
        pytest.param([matcher("env", "RE", "pro|stag")], set(), id="alternation-anchored"),
        pytest.param([matcher("env", "RE", ".*")], {1, 2, 3, 4, 5}, id="re-empty-matches-missing"),
        pytest.param([matcher("env", "RE", ".+")], {1, 2, 3}, id="re-nonempty"),
        pytest.param([matcher("env", "NRE", "prod")], {2, 4, 5}, id="nre-includes-missing"),
        pytest.param([matcher("pod", "NRE", "a-.*")], {3, 4, 5}, id="nre"),
        pytest.param([matcher("pod", "NRE", ".*")], set(), id="nre-everything"),
        pytest.param(
            [matcher("pod", "RE", "b-.*"), matcher("env", "NEQ", "prod")], {4}, id="all-must-match"
        ),
        pytest.param([matcher("zone", "EQ", "")], {1, 2, 3, 4, 5}, id="unknown-label-is-empty"),
    ],
)
async def test_label_matchers_follow_prometheus_semantics(
    gql: GraphQLClient, workspace: Workspace, matchers: list[dict[str, str]], expected: set[int]
) -> None:
    items = [sample(v, ts=at(v), labels=labels) for v, labels in MATCHER_SAMPLES]
    await ingest(gql, workspace.developer, items)
    found = await list_signals(gql, workspace.viewer, {"labels": matchers})
    assert set(values_of(found)) == expected
    assert found["totalCount"] == len(expected)


async def test_regex_dot_and_anchors_treat_newlines_alike_on_every_backend(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    items = [
        sample(1, ts=at(1), labels={"msg": "a\nb"}),
        sample(2, ts=at(2), labels={"msg": "prod\n"}),
        sample(3, ts=at(3), labels={"msg": "prod"}),
    ]
    await ingest(gql, workspace.developer, items)
    cases = [("a.b", {1}), ("prod", {3}), ("prod\n", {2}), ("prod.", {2}), ("prod.*", {2, 3})]
    for pattern, expected in cases:
        found = await list_signals(
            gql, workspace.viewer, {"labels": [matcher("msg", "RE", pattern)]}
        )
        assert set(values_of(found)) == expected, pattern


async def test_the_time_range_includes_from_and_excludes_to(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await ingest(gql, workspace.developer, [sample(s, ts=at(s)) for s in (0, 29.999, 30, 60, 61)])
    plus_one = timezone(timedelta(hours=1))
    cases: list[tuple[dict[str, Any], list[float]]] = [
        ({"from": at(30).isoformat(), "to": at(60).isoformat()}, [30]),
        ({"from": at(0).isoformat(), "to": at(60).isoformat()}, [30, 29.999, 0]),
        ({"from": at(60).isoformat()}, [61, 60]),
        ({"to": at(30).isoformat()}, [29.999, 0]),
        ({"from": at(29.999).astimezone(plus_one).isoformat()}, [61, 60, 30, 29.999]),
        ({"from": at(60).isoformat(), "to": at(60).isoformat()}, []),
    ]
    for filter_, expected in cases:
        found = await list_signals(gql, workspace.viewer, filter_)
        assert values_of(found) == expected, filter_
        assert found["totalCount"] == len(expected), filter_


@pytest.mark.parametrize("bound", ["from", "to"])
async def test_a_filter_time_without_offset_is_bad_user_input(
    gql: GraphQLClient, workspace: Workspace, bound: str
) -> None:
    variables = {"filter": {bound: "2026-03-02T11:00:00"}}
    error = single_error(await gql.execute(SIGNALS, variables, key=workspace.viewer))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == f"filter.{bound}"


@pytest.mark.parametrize(
    ("matchers", "field"),
    [
        pytest.param(
            [matcher("env", "EQ", "prod"), matcher("pod", "RE", "(")],
            "filter.labels[1].value",
            id="unbalanced",
        ),
        pytest.param(
            [matcher("pod", "NRE", "*a")], "filter.labels[0].value", id="nothing-to-repeat"
        ),
        pytest.param(
            [matcher("pod", "RE", "a)|(b")], "filter.labels[0].value", id="escapes-anchors"
        ),
        pytest.param([matcher("pod", "RE", "a(?i)b")], "filter.labels[0].value", id="inline-flag"),
        pytest.param([matcher("pod", "RE", "x" * 501)], "filter.labels[0].value", id="too-long"),
        pytest.param([matcher("pod-name", "EQ", "a")], "filter.labels[0].label", id="bad-label"),
        pytest.param([matcher("", "EQ", "a")], "filter.labels[0].label", id="empty-label"),
        pytest.param([matcher("pod", "EQ", "a")] * 21, "filter.labels", id="too-many"),
    ],
)
async def test_an_invalid_matcher_is_bad_user_input_with_its_field(
    gql: GraphQLClient, workspace: Workspace, matchers: list[dict[str, str]], field: str
) -> None:
    body = await gql.execute(SIGNALS, {"filter": {"labels": matchers}}, key=workspace.viewer)
    error = single_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert body["data"] is None


async def test_a_pattern_postgresql_cannot_run_is_bad_user_input_there(
    gql: GraphQLClient, workspace: Workspace, backend: Backend
) -> None:
    """Python's re (SQLite) knows named groups; PostgreSQL's regex engine does not."""
    await ingest(gql, workspace.developer, [sample(1, ts=at(1), labels={"pod": "a-1"})])
    variables = {"filter": {"labels": [matcher("pod", "RE", "(?P<kind>a)-1")]}}
    body = await gql.execute(SIGNALS, variables, key=workspace.viewer)
    if backend.name == "postgresql":
        error = single_error(body)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == "filter.labels[0].value"
    else:
        assert body.get("errors") is None, body
        assert values_of(body["data"]["signals"]) == [1]
    # A valid pattern still works afterwards in the same workspace.
    found = await list_signals(gql, workspace.viewer, {"labels": [matcher("pod", "RE", "a-1")]})
    assert values_of(found) == [1]


async def test_pagination_walks_every_page_newest_first(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    # Groups of three samples share a timestamp, so the id breaks ties.
    items = [sample(i, ts=at(i // 3)) for i in range(23)]
    items += [sample(100 + i, ts=at(i), service="worker") for i in range(4)]
    await ingest(gql, workspace.developer, items)
    whole = await list_signals(gql, workspace.viewer, {"service": "api"})
    assert whole["totalCount"] == 23
    assert whole["pageInfo"]["hasNextPage"] is False
    keys = [
        (datetime.fromisoformat(edge["node"]["ts"]), int(edge["node"]["id"]))
        for edge in whole["edges"]
    ]
    assert keys == sorted(keys, reverse=True)
    assert len(set(keys)) == 23

    walked: list[dict[str, Any]] = []
    sizes: list[int] = []
    after: str | None = None
    while True:
        page = await list_signals(gql, workspace.viewer, {"service": "api"}, first=5, after=after)
        assert page["totalCount"] == 23
        walked += page["edges"]
        sizes.append(len(page["edges"]))
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert len(sizes) < 10, "pagination does not end"
    assert sizes == [5, 5, 5, 5, 3]
    assert [e["node"]["id"] for e in walked] == [e["node"]["id"] for e in whole["edges"]]
    assert sorted(e["node"]["value"] for e in walked) == list(range(23))


async def test_pagination_across_a_time_range_and_matchers(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    items = [sample(i, ts=at(i), labels={"pod": "a" if i % 2 else "b"}) for i in range(20)]
    await ingest(gql, workspace.developer, items)
    filter_ = {
        "from": at(3).isoformat(),
        "to": at(17).isoformat(),
        "labels": [matcher("pod", "EQ", "a")],
    }
    seen: list[float] = []
    after: str | None = None
    for _ in range(10):
        page = await list_signals(gql, workspace.viewer, filter_, first=3, after=after)
        assert page["totalCount"] == 7
        seen += values_of(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [15, 13, 11, 9, 7, 5, 3]


async def test_page_size_limits(gql: GraphQLClient, workspace: Workspace) -> None:
    await ingest(gql, workspace.developer, [sample(i, ts=at(i)) for i in range(3)])
    for first in (501, -1):
        body = await gql.execute(SIGNALS, {"first": first}, key=workspace.viewer)
        error = single_error(body)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", first
        assert error["extensions"]["field"] == "first"
    at_max = (await gql.data(SIGNALS, {"first": 500}, key=workspace.viewer))["signals"]
    assert values_of(at_max) == [2, 1, 0]
    default = (await gql.data(SIGNALS, key=workspace.viewer))["signals"]
    assert default["totalCount"] == 3
    assert len(default["edges"]) == 3


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage", id="word"),
        pytest.param("", id="empty"),
        pytest.param("%%%", id="not-base64"),
        pytest.param(cursor_of({"ts": "2026-03-02T11:00:00+00:00"}), id="object"),
        pytest.param(cursor_of(["2026-03-02T11:00:00+00:00"]), id="too-short"),
        pytest.param(cursor_of(["2026-03-02T11:00:00+00:00", 1, 2]), id="too-long"),
        pytest.param(cursor_of(["yesterday", 1]), id="bad-time"),
        pytest.param(cursor_of([5, 1]), id="number-for-time"),
        pytest.param(cursor_of(["2026-03-02T11:00:00+00:00", "7"]), id="string-id"),
    ],
)
async def test_a_garbage_cursor_is_bad_user_input(
    gql: GraphQLClient, workspace: Workspace, cursor: str
) -> None:
    await ingest(gql, workspace.developer, [sample(i, ts=at(i)) for i in range(3)])
    body = await gql.execute(SIGNALS, {"first": 1, "after": cursor}, key=workspace.viewer)
    error = single_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "after"


# --- signalSeries -----------------------------------------------------------------------

# (seconds after T0, value); see the windows below for where the buckets fall.
SERIES_SAMPLES: list[tuple[float, float]] = [
    (6.999, 1000.0),
    (7.0, 3.5),
    (7.25, 8.0),
    (67.0, -2.0),
    (80.25, 10.0),
    (100.0, 10.0),
    (126.999999, 7.75),
    (187.0, 0.5),
    (190.0, 1.25),
    (200.0, 99.0),
    (210.0, -50.0),
    (220.0, 3.0),
    (230.0, 3.0),
    (246.5, 12.0),
    (247.0, 5.0),
    (300.0, 6.0),
    (336.9, 42.0),
    (337.0, 2000.0),
    (401.0, 17.0),
]
SERIES_WINDOWS = [
    # from 11:00:07, not a multiple of the step; buckets [7, 67) [67, 127) ...;
    # samples sit exactly on 7, 67, 187 and 247; bucket [127, 187) is empty;
    # to (337) cuts the last bucket short and excludes the sample on it.
    pytest.param(7.0, 337.0, 60, id="unaligned-from"),
    # from with a fraction: buckets start at 11:00:07, the sample at 7.0 is before from.
    pytest.param(7.25, 401.0, 45, id="fractional-from"),
    pytest.param(0.0, 3600.0, 3600, id="one-bucket"),
    pytest.param(0.0, 600.0, 1, id="one-second-steps"),
]


@pytest.mark.parametrize("aggregate", AGGREGATES)
@pytest.mark.parametrize(("start", "end", "step"), SERIES_WINDOWS)
async def test_each_aggregate_equals_an_independent_computation(
    gql: GraphQLClient,
    workspace: Workspace,
    other_workspace: Workspace,
    aggregate: str,
    start: float,
    end: float,
    step: int,
) -> None:
    mine = [
        sample(v, ts=at(s), labels={"pod": "a"} if i % 3 else None)
        for i, (s, v) in enumerate(SERIES_SAMPLES)
    ]
    noise = [
        sample(5000, ts=at(100), name="latency_seconds"),
        sample(6000, ts=at(100), service="worker"),
    ]
    await ingest(gql, workspace.developer, mine + noise)
    await ingest(gql, other_workspace.developer, [sample(7000, ts=at(100))])

    plus_one = timezone(timedelta(hours=1))
    variables = {
        "service": "api",
        "name": "latency_ms",
        "from": at(start).astimezone(plus_one).isoformat(),
        "to": at(end).isoformat(),
        "step": step,
        "aggregate": aggregate,
    }
    points = (await gql.data(SERIES, variables, key=workspace.viewer))["signalSeries"]
    expected = expected_series(
        [(at(s), v) for s, v in SERIES_SAMPLES],
        start=at(start),
        end=at(end),
        step=step,
        name=aggregate,
    )
    assert len(expected) >= 1
    got = [
        Point(ts=datetime.fromisoformat(p["ts"]), value=p["value"], count=p["count"])
        for p in points
    ]
    assert [(p.ts, p.count) for p in got] == [(p.ts, p.count) for p in expected]
    assert [p.value for p in got] == pytest.approx([p.value for p in expected], rel=1e-9, abs=1e-9)


async def test_the_series_buckets_of_the_unaligned_window(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    """A hand-checked instance of the window above, independent of the reference code."""
    await ingest(gql, workspace.developer, [sample(v, ts=at(s)) for s, v in SERIES_SAMPLES])
    variables = {
        "service": "api",
        "name": "latency_ms",
        "from": at(7).isoformat(),
        "to": at(337).isoformat(),
        "step": 60,
    }
    count = await gql.data(SERIES, {**variables, "aggregate": "COUNT"}, key=workspace.viewer)
    summary = [(p["ts"][11:19], p["count"]) for p in count["signalSeries"]]
    assert summary == [("11:00:07", 2), ("11:01:07", 4), ("11:03:07", 7), ("11:04:07", 2)] + [
        ("11:05:07", 1)
    ]
    p95 = await gql.data(SERIES, {**variables, "aggregate": "P95"}, key=workspace.viewer)
    # bucket 11:03:07 sorted: -50 .5 1.25 3 3 12 99; rank 0.95*6 = 5.7 -> 12 + 0.7*87
    assert p95["signalSeries"][2]["value"] == pytest.approx(72.9)
    p50 = await gql.data(SERIES, {**variables, "aggregate": "P50"}, key=workspace.viewer)
    # bucket 11:01:07 sorted: -2 7.75 10 10; rank 1.5 -> 8.875
    assert p50["signalSeries"][1]["value"] == pytest.approx(8.875)


async def test_series_label_matchers_apply(gql: GraphQLClient, workspace: Workspace) -> None:
    items = [
        sample(1, ts=at(0), labels={"pod": "a-1"}),
        sample(10, ts=at(1), labels={"pod": "a-2"}),
        sample(100, ts=at(2), labels={"pod": "b-1"}),
        sample(1000, ts=at(3)),
    ]
    await ingest(gql, workspace.developer, items)
    base = {
        "service": "api",
        "name": "latency_ms",
        "from": at(0).isoformat(),
        "to": at(60).isoformat(),
        "step": 60,
        "aggregate": "SUM",
    }
    cases: list[tuple[list[dict[str, str]] | None, float, int]] = [
        (None, 1111, 4),
        ([matcher("pod", "RE", "a-.*")], 11, 2),
        ([matcher("pod", "NEQ", "a-1")], 1110, 3),
        ([matcher("pod", "EQ", "")], 1000, 1),
        ([matcher("pod", "NRE", "a-.*"), matcher("pod", "NEQ", "")], 100, 1),
    ]
    for matchers, total, count in cases:
        points = (await gql.data(SERIES, {**base, "labels": matchers}, key=workspace.viewer))[
            "signalSeries"
        ]
        assert [(p["value"], p["count"]) for p in points] == [(total, count)], matchers
    nothing = {**base, "labels": [matcher("pod", "EQ", "c")]}
    assert (await gql.data(SERIES, nothing, key=workspace.viewer))["signalSeries"] == []


async def test_series_of_an_empty_or_far_range_is_empty(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await ingest(gql, workspace.developer, [sample(1, ts=at(0))])
    for start, end in [
        (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
        # epoch seconds past 2038 do not fit a 32-bit integer
        (datetime(2040, 1, 1, tzinfo=UTC), datetime(2040, 1, 2, tzinfo=UTC)),
        (datetime(1969, 12, 31, tzinfo=UTC), datetime(1970, 1, 2, tzinfo=UTC)),
    ]:
        variables = {
            "service": "api",
            "name": "latency_ms",
            "from": start.isoformat(),
            "to": end.isoformat(),
            "step": 3600,
            "aggregate": "P99",
        }
        assert (await gql.data(SERIES, variables, key=workspace.viewer))["signalSeries"] == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"step": 0}, "step", id="zero-step"),
        pytest.param({"step": -60}, "step", id="negative-step"),
        pytest.param({"to": "2026-03-02T11:00:00+00:00"}, "to", id="to-equals-from"),
        pytest.param({"to": "2026-03-02T10:59:59+00:00"}, "to", id="to-before-from"),
        pytest.param({"to": "2026-03-02T14:03:21+00:00", "step": 1}, "step", id="11001-buckets"),
        pytest.param({"from": "2026-03-02T11:00:00"}, "from", id="naive-from"),
        pytest.param({"to": "2026-03-02T12:00:00"}, "to", id="naive-to"),
        pytest.param({"labels": [matcher("pod", "RE", "[a-")]}, "labels[0].value", id="bad-regex"),
        pytest.param({"labels": [matcher("9pod", "EQ", "a")]}, "labels[0].label", id="bad-label"),
    ],
)
async def test_a_bad_series_request_is_bad_user_input(
    gql: GraphQLClient, workspace: Workspace, changes: dict[str, Any], field: str
) -> None:
    variables = {
        "service": "api",
        "name": "latency_ms",
        "from": "2026-03-02T11:00:00+00:00",
        "to": "2026-03-02T12:00:00+00:00",
        "step": 60,
        "aggregate": "AVG",
        **changes,
    }
    body = await gql.execute(SERIES, variables, key=workspace.viewer)
    error = single_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert body["data"] is None


async def test_the_bucket_limit_is_inclusive(gql: GraphQLClient, workspace: Workspace) -> None:
    await ingest(gql, workspace.developer, [sample(1, ts=at(-10_999)), sample(2, ts=at(0))])
    variables = {
        "service": "api",
        "name": "latency_ms",
        "from": at(-10_999).isoformat(),
        "to": at(1).isoformat(),
        "step": 1,
        "aggregate": "MAX",
    }
    points = (await gql.data(SERIES, variables, key=workspace.viewer))["signalSeries"]
    assert [(p["ts"], p["value"]) for p in points] == [
        (at(-10_999).isoformat(), 1.0),
        (at(0).isoformat(), 2.0),
    ]


async def test_series_need_read_permission(gql: GraphQLClient) -> None:
    variables = {
        "service": "api",
        "name": "latency_ms",
        "from": at(0).isoformat(),
        "to": at(60).isoformat(),
        "step": 60,
        "aggregate": "AVG",
    }
    assert await gql.error_code(SERIES, variables) == "UNAUTHENTICATED"
    assert await gql.error_code(SIGNALS) == "UNAUTHENTICATED"


# --- observabilityOverview --------------------------------------------------------------


async def test_the_overview_summarises_each_service(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    await ingest(
        gql,
        workspace.developer,
        [
            sample(1, ts=at(0), name="requests_total"),
            sample(2, ts=at(600), name="requests_total"),
            sample(3, ts=at(1200), name="requests_total"),
            sample(4, ts=at(300), name="latency_ms"),
            sample(5, ts=at(-3600), name="errors_total"),
            sample(6, ts=at(1800), service="worker", name="queue_depth"),
        ],
    )
    # Ingested later but older: lastSeenAt is the newest sample time, not the ingest time.
    await ingest(
        gql, workspace.developer, [sample(7, ts=at(-7200), service="worker", name="queue_depth")]
    )
    await ingest(gql, workspace.developer, [sample(8, service="cron", name="runs_total")])
    await ingest(gql, other_workspace.developer, [sample(9, ts=at(0), service="zeta")])

    overview = (await gql.data(OVERVIEW, key=workspace.viewer))["observabilityOverview"]
    assert datetime.fromisoformat(overview["generatedAt"]) == START
    assert overview["services"] == [
        {
            "service": "api",
            "signalCount": 5,
            "seriesNames": 3,
            "lastSeenAt": at(1200).isoformat(),
        },
        {"service": "cron", "signalCount": 1, "seriesNames": 1, "lastSeenAt": START.isoformat()},
        {
            "service": "worker",
            "signalCount": 2,
            "seriesNames": 1,
            "lastSeenAt": at(1800).isoformat(),
        },
    ]
    theirs = (await gql.data(OVERVIEW, key=other_workspace.viewer))["observabilityOverview"]
    assert [s["service"] for s in theirs["services"]] == ["zeta"]


async def test_the_overview_of_an_empty_workspace(gql: GraphQLClient, workspace: Workspace) -> None:
    overview = (await gql.data(OVERVIEW, key=workspace.viewer))["observabilityOverview"]
    assert overview["services"] == []
    assert await gql.error_code(OVERVIEW) == "UNAUTHENTICATED"


async def test_kept_list_queries_take_each_requests_values_alone(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    """A filter shape's query, and its pages, are built once and kept: requests
    of one shape that alternate between workspaces, services, time ranges, page
    sizes and cursors each see their own rows only."""
    await ingest(gql, workspace.developer, [sample(i, ts=at(i)) for i in range(6)])
    await ingest(
        gql, workspace.developer, [sample(10 + i, ts=at(i), service="db") for i in range(3)]
    )
    await ingest(gql, other_workspace.developer, [sample(20 + i, ts=at(i)) for i in range(4)])
    api, db = {"service": "api"}, {"service": "db"}
    window = {"service": "api", "from": at(1).isoformat(), "to": at(4).isoformat()}
    for _ in range(2):
        assert values_of(await list_signals(gql, workspace.viewer, api)) == [5, 4, 3, 2, 1, 0]
        assert values_of(await list_signals(gql, workspace.viewer, db)) == [12, 11, 10]
        assert values_of(await list_signals(gql, other_workspace.viewer, api)) == [23, 22, 21, 20]
        assert values_of(await list_signals(gql, workspace.viewer, window)) == [3, 2, 1]
        first = await list_signals(gql, workspace.viewer, api, first=2)
        after = first["pageInfo"]["endCursor"]
        rest = await list_signals(gql, workspace.viewer, api, first=3, after=after)
        assert values_of(first) + values_of(rest) == [5, 4, 3, 2, 1]
        other = await list_signals(gql, other_workspace.viewer, api, first=1)
        after = other["pageInfo"]["endCursor"]
        other_rest = await list_signals(gql, other_workspace.viewer, api, first=5, after=after)
        assert values_of(other_rest) == [22, 21, 20]


def test_one_filter_shape_is_one_kept_query_and_one_kept_page_statement() -> None:
    api = signal_service._signals_listing(workspace_id=1, filter_=SignalFilter(service="api"))
    db = signal_service._signals_listing(workspace_id=2, filter_=SignalFilter(service="db"))
    assert api.query is db.query
    assert (api.params, db.params) == (
        {"service": "api", "workspace_id": 1},
        {"service": "db", "workspace_id": 2},
    )
    named = signal_service._signals_listing(
        workspace_id=1, filter_=SignalFilter(service="api", name="x")
    )
    assert named.query is not api.query
    first, first_params = pagination._keyset(api, PageRequest(10, None))
    again, again_params = pagination._keyset(db, PageRequest(50, None))
    assert first is again
    assert (first_params["page_limit"], again_params["page_limit"]) == (11, 51)
