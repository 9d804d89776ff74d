"""A page rendered from its columns answers exactly what the general way answers.

The general way is forced with ``@include(if: true)`` on one field: a directive
leaves a page to the executor. Answers are compared as text, so key order and
scalar formats count too. Which way was taken is seen in the SQL: a rendered
page reads only the columns its selection asks for.
"""

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.conftest import START, Workspace
from tests.graphql_client import GraphQLClient

INGEST = "mutation($s: [SignalInput!]!) { ingestSignals(signals: $s) { accepted } }"


def _samples() -> list[dict[str, Any]]:
    """Values whose formats differ between serializers: whole floats, timestamps
    with and without microseconds or with another offset, and unusual labels."""
    samples = []
    for n in range(12):
        moment = START - timedelta(minutes=n, microseconds=0 if n % 3 else 123456 * n)
        samples.append(
            {
                "service": "api" if n % 4 else "db",
                "name": "latency" if n % 2 else "errors:total",
                "value": [1.0, 0.1, -2.5e-7, 1e20, 42.0, 3.14159][n % 6],
                "ts": moment.isoformat() if n != 5 else "2026-03-02T13:58:00+02:00",
                "labels": {"host": f"h{n}", "quote": 'a"b\\c', "text": "ü ✓"} if n % 2 else {},
            }
        )
    return samples


CASES = {
    "every field": (
        "{ signals(first: 5) { edges { cursor node { id service name value labels ts"
        " __typename } } pageInfo { hasNextPage endCursor } } }",
        "labels",
    ),
    "aliases and order": (
        "{ list: signals(first: 4) { edges { n: node { t: ts v: value i: id } c: cursor"
        " __typename } } }",
        "value",
    ),
    "fragments": (
        '{ signals(first: 3, filter: {service: "api"}) { ...Page } }'
        " fragment Page on SignalConnection { edges { ... on SignalEdge { node { ...Row } } } }"
        " fragment Row on Signal { id name }",
        "name",
    ),
    "repeated fields": (
        "{ signals(first: 6) { edges { node { id } node { name id } cursor cursor } } }",
        "name",
    ),
    "edges without nodes": ("{ signals(first: 2) { edges { __typename cursor } } }", None),
}


def _forced_general(query: str, field: str | None) -> str:
    if field is None:
        return query.replace("__typename", "__typename @include(if: true)", 1)
    return query.replace(f" {field}", f" {field} @include(if: true)", 1)


async def _ingest(gql: GraphQLClient, workspace: Workspace) -> None:
    data = await gql.data(INGEST, {"s": _samples()}, key=workspace.developer)
    assert data["ingestSignals"]["accepted"] == len(_samples())


async def _answer(gql: GraphQLClient, key: str, query: str, table: str) -> tuple[str, list[str]]:
    statements: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "after_cursor_execute", capture)
    try:
        response = await gql.post(query, key=key)
    finally:
        event.remove(Engine, "after_cursor_execute", capture)
    assert response.status_code == 200
    assert "errors" not in response.json(), response.text
    return response.text, [s for s in statements if f"FROM {table}" in s]


async def _assert_rendered_as_executed(
    gql: GraphQLClient, key: str, query: str, field: str | None, *, table: str, unread: str
) -> None:
    """The same answer both ways; only the general way reads column ``unread``."""
    rendered, rendered_sql = await _answer(gql, key, query, table)
    general, general_sql = await _answer(gql, key, _forced_general(query, field), table)
    assert rendered == general
    assert any(f"{table}.{unread}" in s for s in general_sql), general_sql
    assert not any(f"{table}.{unread}" in s for s in rendered_sql), rendered_sql


@pytest.mark.parametrize("case", list(CASES))
async def test_a_rendered_page_answers_what_the_executor_answers(
    gql: GraphQLClient, workspace: Workspace, case: str
) -> None:
    await _ingest(gql, workspace)
    query, field = CASES[case]
    if "labels" in query:
        rendered, _ = await _answer(gql, workspace.viewer, query, "signals")
        general, _ = await _answer(gql, workspace.viewer, _forced_general(query, field), "signals")
        assert rendered == general
        return
    await _assert_rendered_as_executed(
        gql, workspace.viewer, query, field, table="signals", unread="labels"
    )


TASKS = (
    "{ tasks(first: 10) { edges { cursor node { __typename id kind status progress result"
    " error attempts cancelRequested createdAt startedAt finishedAt } } } }"
)
AUDIT_LOG = (
    "{ auditLog(first: 10) { edges { node { id actorKeyId actorName operation target"
    " outcome errorCode requestId createdAt } } pageInfo { endCursor } } }"
)


async def test_tasks_and_the_audit_log_render_as_executed(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await _ingest(gql, workspace)
    for _ in range(3):
        await gql.data("mutation { startSloSweep { id } }", key=workspace.developer)
    await _until_tasks_finish(gql, workspace.viewer)
    await _assert_rendered_as_executed(
        gql, workspace.viewer, TASKS, "kind", table="tasks", unread="params"
    )
    await _assert_rendered_as_executed(
        gql, workspace.admin, AUDIT_LOG, "target", table="audit_entries", unread="variables"
    )


async def _until_tasks_finish(gql: GraphQLClient, key: str) -> None:
    async with asyncio.timeout(20):
        while True:
            data = await gql.data("{ tasks { edges { node { status } } } }", key=key)
            statuses = {edge["node"]["status"] for edge in data["tasks"]["edges"]}
            if len(data["tasks"]["edges"]) == 3 and statuses <= {"SUCCEEDED", "FAILED"}:
                return
            await asyncio.sleep(0.05)


async def test_the_next_page_follows_a_rendered_cursor(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await _ingest(gql, workspace)
    page = (
        "query($after: String) { signals(first: 5, after: $after)"
        " { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    )
    seen: list[str] = []
    after = None
    while True:
        data = await gql.data(page, {"after": after}, key=workspace.viewer)
        connection = data["signals"]
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    everything = await gql.data(
        "{ signals(first: 100) { edges { node { id } } } }", key=workspace.viewer
    )
    assert seen == [edge["node"]["id"] for edge in everything["signals"]["edges"]]
    assert len(seen) == len(_samples())


ALERTS = (
    "{ alerts(first: 10) { edges { cursor node { id fingerprint service summary severity"
    " status source occurrenceCount silenced noiseSuppressed firstFiredAt lastFiredAt"
    " acknowledgedAt acknowledgedBy resolvedAt resolvedBy closedAt closedBy"
    " timeoutEscalatedAt inhibited needsPostmortem annotations generatorUrl endsAt } } } }"
)
RAISE = "mutation($a: [AlertInput!]!) { raiseAlerts(inputs: $a) { id } }"


async def test_alerts_render_as_executed(gql: GraphQLClient, workspace: Workspace) -> None:
    inputs: list[dict[str, Any]] = [
        {"service": "api", "summary": "disk ✓ full", "severity": "PAGE", "labels": {"n": "1"}},
        {
            "service": "db",
            "summary": "slow",
            "severity": "WARNING",
            "fingerprint": "db-slow",
            "annotations": {"runbook_url": "https://runbooks.example/db"},
            "generatorUrl": "https://prometheus.example/graph",
            "endsAt": (START + timedelta(hours=1)).isoformat(),
        },
        {"service": "web", "summary": "5xx", "severity": "INFO", "source": "RULE"},
    ]
    raised = await gql.data(RAISE, {"a": inputs}, key=workspace.developer)
    await gql.data(RAISE, {"a": inputs[1:2]}, key=workspace.developer)
    first = raised["raiseAlerts"][0]["id"]
    await gql.data(
        "mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }",
        {"id": first},
        key=workspace.developer,
    )
    await _assert_rendered_as_executed(
        gql, workspace.viewer, ALERTS, "summary", table="alerts", unread="labels"
    )
