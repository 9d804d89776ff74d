"""GET /graphql without a query: the playground for a browser, a GraphQL error for the rest."""

import httpx
import pytest

from server.core.clock import FrozenClock
from tests.conftest import Backend, make_settings, running_app

GRAPHQL_RESPONSE = "application/graphql-response+json"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    "accept", [BROWSER_ACCEPT, "text/html", "TEXT/HTML; charset=utf-8", "*/*;q=0.1, text/html"]
)
async def test_a_browser_gets_the_playground(http: httpx.AsyncClient, accept: str) -> None:
    response = await http.get("/graphql", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


@pytest.mark.parametrize("accept", ["*/*", "application/json", "text/*", "text/html;q=0, */*"])
async def test_other_clients_are_told_a_query_is_required(
    http: httpx.AsyncClient, accept: str
) -> None:
    response = await http.get("/graphql", headers={"Accept": accept})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["message"].startswith("No GraphQL query found in the request")
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "requestId": response.headers["x-request-id"],
    }


async def test_a_client_without_an_accept_header_is_told_too(http: httpx.AsyncClient) -> None:
    request = http.build_request("GET", "/graphql")
    del request.headers["accept"]
    response = await http.send(request)
    assert response.status_code == 400
    assert "data" not in response.json()


async def test_the_graphql_response_media_type_is_kept_for_the_error(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get(
        "/graphql", params={"query": ""}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_post_without_a_query_gets_the_same_json_error(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"variables": {}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("No GraphQL query found")


async def test_curl_gets_json_over_real_http(live_server: str) -> None:
    url = live_server.replace("ws://", "http://")
    async with httpx.AsyncClient() as client:
        response = await client.get(url, headers={"Accept": "*/*", "User-Agent": "curl/8.5.0"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_without_the_playground_other_clients_still_get_the_json_error(
    backend: Backend, clock: FrozenClock
) -> None:
    async with running_app(make_settings(backend, playground=False), clock) as client:
        browser = await client.http.get("/graphql", headers={"Accept": BROWSER_ACCEPT})
        curl = await client.http.get("/graphql", headers={"Accept": "*/*"})
    assert browser.status_code == 404
    assert curl.status_code == 400
    assert curl.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
