"""Limits answer with clear GraphQL errors, never a 500."""

import base64
import json
import logging
from collections.abc import AsyncIterator

import pytest

from server.core.clock import FrozenClock
from server.core.settings import Settings
from server.signals import service as signal_service
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient


async def test_too_deep_queries_are_refused(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    async with running_app(make_settings(backend, max_query_depth=1), clock) as client:
        shallow = await client.execute("{ me { role } }", key=workspace.viewer)
        assert shallow["data"]["me"]["role"] == "VIEWER"
        deep = await client.execute("{ me { workspace { name } } }", key=workspace.viewer)
        assert deep["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "depth" in deep["errors"][0]["message"]


async def test_too_many_aliases_are_refused(gql: GraphQLClient, workspace: Workspace) -> None:
    aliases = " ".join(f"a{i}: me {{ role }}" for i in range(31))
    body = await gql.execute(f"{{ {aliases} }}", key=workspace.viewer)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "alias" in body["errors"][0]["message"].lower()


async def test_too_many_tokens_are_refused(gql: GraphQLClient, workspace: Workspace) -> None:
    fields = " ".join("role" for _ in range(5_001))
    body = await gql.execute(f"{{ me {{ {fields} }} }}", key=workspace.viewer)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "token" in body["errors"][0]["message"].lower()


async def test_page_size_is_capped(gql: GraphQLClient, workspace: Workspace) -> None:
    body = await gql.execute("{ signals(first: 501) { totalCount } }", key=workspace.viewer)
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "first",
        "requestId": body["errors"][0]["extensions"]["requestId"],
    }


async def test_a_body_over_the_limit_is_413(gql: GraphQLClient, workspace: Workspace) -> None:
    response = await gql.http.post(
        "/graphql",
        content=b'{"query": "' + b" " * (4 * 1024 * 1024 + 1) + b'{ me { role } }"}',
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {workspace.viewer}"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_rate_limit_answers_429_with_headers(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    settings = make_settings(backend, rate_limit_per_minute=3)
    async with running_app(settings, clock) as client:
        statuses = []
        for _ in range(4):
            response = await client.post("{ me { role } }", key=workspace.viewer)
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 429]
        assert response.headers["x-ratelimit-limit"] == "3"
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        other = await client.post("{ me { role } }", key=workspace.developer)
        assert other.status_code == 200, "the limit is per key"
        assert other.headers["x-ratelimit-remaining"] == "2"


async def test_an_unexpected_exception_is_masked_and_logged(
    gql: GraphQLClient,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("connection string postgres://secret@db")

    monkeypatch.setattr(signal_service, "service_summaries", broken)
    with caplog.at_level(logging.ERROR, logger="opsgraph.graphql"):
        response = await gql.post(
            "{ observabilityOverview { generatedAt } }",
            key=workspace.viewer,
            headers={"X-Request-ID": "boom-1"},
        )
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "boom-1"}
    assert "secret" not in response.text
    assert any(
        record.exc_info and "RuntimeError" in repr(record.exc_info[1]) for record in caplog.records
    )


def test_settings_defaults_are_the_embedded_mode() -> None:
    settings = Settings()
    assert settings.database_url.startswith("sqlite+aiosqlite://")
    assert settings.redis_url == "memory://"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.allow_loopback_webhooks is False


async def test_a_chunked_body_over_the_limit_is_413_with_a_graphql_error(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "'
        for _ in range(5):
            yield b" " * (1024 * 1024)
        yield b'{ me { role } }"}'

    response = await gql.http.post(
        "/graphql",
        content=chunks(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {workspace.viewer}"},
    )
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "values",
    [["2026-03-02T12:00:00", 1], ["2026-03-02T12:00:00+00:00", True], ["x", 1], [1, 2**70]],
)
async def test_forged_cursors_are_bad_user_input(
    gql: GraphQLClient, workspace: Workspace, values: list[object]
) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    query = "query($after: String) { signals(after: $after) { totalCount } }"
    body = await gql.execute(query, {"after": cursor}, key=workspace.viewer)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
