"""Query cost: list fields cost their page size times their selection."""

from typing import Any

import pytest

from server.core.clock import FrozenClock
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient
from tests.servers import served
from tests.ws_client import subscription_client

#: 1 for the connection, plus first x (edges 1 + node 1).
SIGNALS = "query($n: Int) { signals(first: $n) { totalCount edges { node { service } } } }"


def _signals_cost(first: int) -> int:
    return 1 + first * 2


async def _post(client: GraphQLClient, key: str, first: int, **body: Any) -> dict[str, Any]:
    response = await client.http.post(
        "/graphql",
        json={"query": SIGNALS, "variables": {"n": first}, **body},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_query_at_the_cost_limit_runs_and_one_past_it_is_refused(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    settings = make_settings(backend, max_query_cost=_signals_cost(100))
    async with running_app(settings, clock) as client:
        at_limit = await _post(client, workspace.viewer, 100)
        past = await _post(client, workspace.viewer, 101)
    assert "errors" not in at_limit
    assert at_limit["data"]["signals"]["totalCount"] == 0
    assert "data" not in past
    error = past["errors"][0]
    assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert error["extensions"]["cost"] == {"requested": 203, "limit": 201}
    assert "203" in error["message"]
    assert "201" in error["message"]


async def test_the_cost_is_reported_when_asked(gql: GraphQLClient, workspace: Workspace) -> None:
    asked = await _post(gql, workspace.viewer, 10, extensions={"cost": True})
    unasked = await _post(gql, workspace.viewer, 10)
    assert asked["extensions"]["cost"]["requested"] == _signals_cost(10)
    assert asked["extensions"]["cost"]["limit"] == 10_000
    assert "extensions" not in unasked
    by_header = await gql.post(
        "{ signals { edges { node { service } } } }",
        key=workspace.viewer,
        headers={"X-OpsGraph-Cost": "1"},
    )
    assert by_header.json()["extensions"]["cost"]["requested"] == _signals_cost(50), (
        "without first, the default page size counts"
    )


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        ("{ me { role } }", 1),
        ("{ me { role workspace { name } } }", 2),
        ("{ __schema { types { name } } }", 0),
        (
            "{ ...F } fragment F on Query { alerts(first: 3) { edges { node { id } } } }",
            1 + 3 * 2,
        ),
        (
            "{ a: alerts(first: 2) { totalCount } b: sloPolicies(first: 4) { totalCount } }",
            2,
        ),
    ],
)
async def test_fragments_aliases_and_scalars_count_as_the_model_says(
    gql: GraphQLClient, workspace: Workspace, query: str, cost: int
) -> None:
    response = await gql.post(query, key=workspace.viewer, headers={"X-OpsGraph-Cost": "1"})
    assert response.json()["extensions"]["cost"]["requested"] == cost


async def test_an_operation_over_a_websocket_is_held_to_the_same_cost_limit(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    # graphql-transport-ws runs queries too (the legacy protocol only subscriptions).
    settings = make_settings(backend, max_query_cost=_signals_cost(100))
    async with (
        served(settings, clock) as address,
        subscription_client(f"ws://{address}/graphql", workspace.viewer) as client,
    ):
        await client.subscribe(SIGNALS, {"n": 100})
        at_limit = await client.next_data()
        assert at_limit["signals"]["totalCount"] == 0
        past_id = await client.subscribe(SIGNALS, {"n": 101})
        refused = await client.receive()
        while refused.get("id") != past_id:  # the first operation's completion
            refused = await client.receive()
    assert (refused["id"], refused["type"]) == (past_id, "error")
    (error,) = refused["payload"]
    assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert error["extensions"]["cost"] == {"requested": 203, "limit": 201}
