"""GraphQL over HTTP: media types, status codes, GET, CSRF refusals, request IDs."""

import logging

import httpx
import pytest

from server.core.clock import FrozenClock
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient

GRAPHQL_RESPONSE = "application/graphql-response+json"
ME = "{ me { role } }"


async def _post(
    http: httpx.AsyncClient, body: object, key: str, accept: str = GRAPHQL_RESPONSE
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "Accept": accept}
    return await http.post("/graphql", json=body, headers=headers)


async def test_graphql_response_media_type_is_used_when_accepted(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    response = await _post(http, {"query": ME}, workspace.viewer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json() == {"data": {"me": {"role": "VIEWER"}}}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ me { role ", "GRAPHQL_PARSE_FAILED"),
        ("{ me { noSuchField } }", "GRAPHQL_VALIDATION_FAILED"),
        ('{ signals(first: "ten") { totalCount } }', "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_request_errors_are_400_without_data(
    http: httpx.AsyncClient, workspace: Workspace, query: str, code: str
) -> None:
    response = await _post(http, {"query": query}, workspace.viewer)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == code
    assert body["errors"][0]["extensions"]["requestId"] == response.headers["x-request-id"]


async def test_legacy_json_clients_get_200_with_errors(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    response = await _post(http, {"query": "{ nope }"}, workspace.viewer, accept="application/json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_variable_of_the_wrong_type_is_bad_user_input(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    query = "query($first: Int) { signals(first: $first) { totalCount } }"
    response = await _post(http, {"query": query, "variables": {"first": "x"}}, workspace.viewer)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_field_errors_keep_200_and_data(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": ME}, headers={"Accept": GRAPHQL_RESPONSE})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["errors"][0]["path"] == ["me"]


async def test_queries_work_over_get(http: httpx.AsyncClient, workspace: Workspace) -> None:
    response = await http.get(
        "/graphql",
        params={"query": ME},
        headers={"Authorization": f"Bearer {workspace.developer}", "Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 200
    assert response.json()["data"]["me"]["role"] == "DEVELOPER"


async def test_mutations_are_refused_over_get(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    mutation = 'mutation { createApiKey(name: "x", role: VIEWER) { secret } }'
    response = await http.get(
        "/graphql",
        params={"query": mutation},
        headers={"Authorization": f"Bearer {workspace.admin}", "Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 405
    keys = await _post(http, {"query": "{ apiKeys { totalCount } }"}, workspace.admin)
    assert keys.json()["data"]["apiKeys"]["totalCount"] == 3


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_simple_cross_site_posts_are_refused(
    http: httpx.AsyncClient, workspace: Workspace, content_type: str
) -> None:
    response = await http.post(
        "/graphql",
        content=b'{"query": "{ me { role } }"}',
        headers={"Content-Type": content_type, "Authorization": f"Bearer {workspace.viewer}"},
    )
    assert response.status_code == 415


async def test_malformed_json_is_a_400_not_a_500(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/graphql", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


async def test_the_playground_is_served_to_browsers(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_request_id_is_echoed_or_generated(gql: GraphQLClient, workspace: Workspace) -> None:
    given = await gql.post(ME, key=workspace.viewer, headers={"X-Request-ID": "trace-abc.123"})
    assert given.headers["x-request-id"] == "trace-abc.123"
    made = await gql.post(ME, key=workspace.viewer)
    assert len(made.headers["x-request-id"]) == 32
    unsafe = await gql.post(ME, key=workspace.viewer, headers={"X-Request-ID": "a */ drop"})
    assert unsafe.headers["x-request-id"] != "a */ drop"


async def test_errors_carry_the_request_id(gql: GraphQLClient) -> None:
    response = await gql.post(ME, headers={"X-Request-ID": "req-42"})
    assert response.json()["errors"][0]["extensions"]["requestId"] == "req-42"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([{"query": ME}], "one JSON object"),
        ({"query": ME, "variables": [1]}, "`variables` must be an object"),
        ({"query": 42}, "`query` must be a string"),
        ({"query": ME, "operationName": 7}, "`operationName` must be a string"),
        ({"variables": {}}, "No GraphQL query"),
        ({"query": "query A { me { role } } query B { me { role } }"}, "Must provide operation"),
        ({"query": ME, "operationName": "Nope"}, 'Unknown operation named "Nope"'),
        ({"query": "subscription { alertEvents { cursor } }"}, "subscriptions are not allowed"),
    ],
)
async def test_requests_that_are_no_operation_are_400_with_the_reason(
    http: httpx.AsyncClient, workspace: Workspace, body: object, reason: str
) -> None:
    response = await _post(http, body, workspace.viewer)
    assert response.status_code == 400
    assert reason in response.text


async def test_get_reads_variables_and_refuses_malformed_ones(
    http: httpx.AsyncClient, workspace: Workspace
) -> None:
    headers = {"Authorization": f"Bearer {workspace.viewer}", "Accept": GRAPHQL_RESPONSE}
    query = "query($first: Int) { signals(first: $first) { totalCount } }"
    good = await http.get(
        "/graphql", params={"query": query, "variables": '{"first": 1}'}, headers=headers
    )
    assert good.json() == {"data": {"signals": {"totalCount": 0}}}
    bad = await http.get("/graphql", params={"query": query, "variables": "{"}, headers=headers)
    assert bad.status_code == 400


async def test_other_methods_are_405(http: httpx.AsyncClient) -> None:
    response = await http.put("/graphql", json={"query": ME})
    assert response.status_code == 405


async def test_without_the_playground_a_browser_gets_404(
    backend: Backend, clock: FrozenClock
) -> None:
    async with running_app(make_settings(backend, playground=False), clock) as client:
        response = await client.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404


async def test_a_failure_outside_execution_is_a_masked_500(
    http: httpx.AsyncClient,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("server.transport.graphql_http._graphql_response", broken)
    with caplog.at_level(logging.ERROR, logger="opsgraph.http"):
        response = await _post(http, {"query": ME}, workspace.viewer)
    assert response.status_code == 500
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert "secret" not in response.text
    assert any(record.exc_info for record in caplog.records)


@pytest.mark.parametrize(
    "body", [b'{"query": "{ me { role } }", "variables": {"x": NaN}}', b"\xff"]
)
async def test_bodies_that_are_not_strict_json_are_400(
    http: httpx.AsyncClient, workspace: Workspace, body: bytes
) -> None:
    response = await http.post(
        "/graphql",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {workspace.viewer}"},
    )
    assert response.status_code == 400
    assert "JSON" in response.text
