"""Security headers on every response; CORS only for allowed origins."""

import httpx
import pytest

from server.core.clock import FrozenClock
from server.transport.headers import content_security_policy
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient

EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def _assert_secured(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/nowhere"), ("GET", "/graphql")],
)
async def test_every_response_carries_the_security_headers(
    gql: GraphQLClient, method: str, path: str
) -> None:
    response = await gql.http.request(method, path, headers={"Accept": "text/html"})
    _assert_secured(response)


async def test_graphql_answers_and_refusals_carry_them_too(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    answered = await gql.post("{ me { role } }", key=workspace.viewer)
    refused = await gql.http.post("/graphql", content=b"x", headers={"Content-Type": "text/plain"})
    assert (answered.status_code, refused.status_code) == (200, 415)
    _assert_secured(answered)
    _assert_secured(refused)


def test_the_policy_allows_this_origin_and_its_websockets_only() -> None:
    directives = content_security_policy("ops.example:8000").split("; ")
    policy = dict(directive.split(" ", 1) for directive in directives)
    assert policy["connect-src"] == "'self' ws://ops.example:8000 wss://ops.example:8000"
    assert policy["script-src"] == "'self'", "no inline script, no CDN"
    assert policy["style-src"] == "'self'"
    assert "unsafe-inline" not in str(policy)
    forged = content_security_policy("evil; script-src *")
    assert forged.endswith("connect-src 'self'"), "a strange Host header adds nothing"


async def test_hsts_only_over_tls_or_from_a_trusted_proxy(
    backend: Backend, gql: GraphQLClient, clock: FrozenClock
) -> None:
    plain = await gql.http.get("/healthz")
    forwarded = await gql.http.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in plain.headers
    assert "strict-transport-security" not in forwarded.headers, "the proxy is not trusted"
    trusting = make_settings(backend, trust_forwarded_proto=True)
    async with running_app(trusting, clock) as client:
        behind_proxy = await client.http.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        plain_behind = await client.http.get("/healthz", headers={"X-Forwarded-Proto": "http"})
    assert behind_proxy.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "strict-transport-security" not in plain_behind.headers


async def test_no_origin_is_allowed_cross_origin_by_default(gql: GraphQLClient) -> None:
    preflight = await gql.http.options(
        "/graphql",
        headers={"Origin": "https://dash.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_an_allowed_origin_gets_cors_and_another_does_not(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    settings = make_settings(backend, cors_allow_origins=["https://dash.example"])
    async with running_app(settings, clock) as client:
        allowed = await client.http.options(
            "/graphql",
            headers={
                "Origin": "https://dash.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        other = await client.http.options(
            "/graphql",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        answer = await client.post(
            "{ me { role } }", key=workspace.viewer, headers={"Origin": "https://dash.example"}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert answer.headers["access-control-allow-origin"] == "https://dash.example"
    assert "x-ratelimit-remaining" in answer.headers["access-control-expose-headers"].lower()
    _assert_secured(answer)
