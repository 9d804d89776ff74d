"""Production mode: no suggestions, introspection, playground or traces; persisted operations."""

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from server.core.clock import FrozenClock
from server.signals import service as signal_service
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient
from tests.servers import served
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, subscription_client

TYPO = "{ me { rolee } }"
ME = "{ me { role } }"
INTROSPECTION = "{ __schema { types { name } } }"
OVERVIEW = "{ observabilityOverview { generatedAt } }"


async def test_development_suggests_and_production_does_not(
    backend: Backend, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    suggested = (await gql.execute(TYPO, key=workspace.viewer))["errors"][0]["message"]
    assert "Did you mean 'role'?" in suggested
    async with running_app(make_settings(backend, environment="production"), clock) as client:
        plain = (await client.execute(TYPO, key=workspace.viewer))["errors"][0]
    assert plain["message"] == "Cannot query field 'rolee' on type 'Principal'."
    assert plain["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_production_refuses_introspection_and_serves_no_playground(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    async with running_app(make_settings(backend, environment="production"), clock) as client:
        introspection = await client.execute(INTROSPECTION, key=workspace.viewer)
        playground = await client.http.get("/graphql", headers={"Accept": "text/html"})
        typename = await client.execute("{ __typename }", key=workspace.viewer)
    assert introspection["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection" in introspection["errors"][0]["message"].lower()
    assert playground.status_code == 404
    assert typename == {"data": {"__typename": "Query"}}


async def test_production_shows_no_stack_trace(
    backend: Backend,
    workspace: Workspace,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("password=hunter2 at /srv/opsgraph/server/signals/service.py")

    monkeypatch.setattr(signal_service, "service_summaries", broken)
    async with running_app(make_settings(backend, environment="production"), clock) as client:
        with caplog.at_level(logging.ERROR):
            response = await client.post(OVERVIEW, key=workspace.viewer)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL"
    assert set(error) == {"message", "locations", "path", "extensions"}
    for leak in ("hunter2", "Traceback", "service.py", "RuntimeError"):
        assert leak not in response.text


def _digest(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def _send(client: GraphQLClient, key: str, **body: Any) -> dict[str, Any]:
    response = await client.http.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _code(answer: dict[str, Any]) -> str:
    code: str = answer["errors"][0]["extensions"]["code"]
    return code


async def test_only_listed_operations_run_in_persisted_mode(
    backend: Backend, workspace: Workspace, clock: FrozenClock, tmp_path: Path
) -> None:
    allow_list = tmp_path / "operations.txt"
    allow_list.write_text(f"# the dashboard's operations\n{_digest(ME)}\n")
    settings = make_settings(
        backend, persisted_operations_only=True, persisted_operations_file=allow_list
    )
    async with running_app(settings, clock) as client:
        key = workspace.viewer
        unknown = await _send(client, key, extensions=_persisted(_digest(ME)))
        listed = await _send(client, key, query=ME, extensions=_persisted(_digest(ME)))
        by_hash = await _send(client, key, extensions=_persisted(_digest(ME)))
        other = await _send(client, key, query="{ me { keyId } }")
        forged = await _send(client, key, query=ME, extensions=_persisted(_digest("x")))
    assert _code(unknown) == "PERSISTED_QUERY_NOT_FOUND", "Apollo clients then send the text"
    assert listed == {"data": {"me": {"role": "VIEWER"}}}
    assert by_hash == listed
    assert _code(other) == "PERSISTED_QUERY_NOT_ALLOWED"
    assert _code(forged) == "BAD_USER_INPUT"


async def test_a_manifest_gives_the_text_of_a_hash(
    backend: Backend, workspace: Workspace, clock: FrozenClock, tmp_path: Path
) -> None:
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": _digest(ME), "name": "Me", "type": "query", "body": ME}],
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    settings = make_settings(
        backend, persisted_operations_only=True, persisted_operations_file=path
    )
    async with running_app(settings, clock) as client:
        answer = await _send(client, workspace.viewer, extensions=_persisted(_digest(ME)))
    assert answer == {"data": {"me": {"role": "VIEWER"}}}


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_production_suggests_nothing_over_a_websocket_either(
    backend: Backend, workspace: Workspace, clock: FrozenClock, protocol: str
) -> None:
    typo = "subscription { taskEvents { cursorr } }"
    answers = {}
    for environment in ("development", "production"):
        settings = make_settings(backend, environment=environment)
        async with (
            served(settings, clock) as address,
            subscription_client(f"ws://{address}/graphql", workspace.viewer, protocol) as client,
        ):
            await client.subscribe(typo)
            answer = await client.receive()
        assert answer["type"] == "error", answer
        payload = answer["payload"]
        answers[environment] = (payload[0] if isinstance(payload, list) else payload)["message"]
    assert "Did you mean 'cursor'?" in answers["development"]
    assert answers["production"] == "Cannot query field 'cursorr' on type 'EventEnvelope'."


async def test_only_listed_operations_run_over_a_websocket_in_persisted_mode(
    backend: Backend, workspace: Workspace, clock: FrozenClock, tmp_path: Path
) -> None:
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": _digest(ME), "name": "Me", "type": "query", "body": ME}],
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    settings = make_settings(
        backend, persisted_operations_only=True, persisted_operations_file=path
    )
    async with (
        served(settings, clock) as address,
        subscription_client(f"ws://{address}/graphql", workspace.viewer) as client,
    ):
        await client.send(
            {
                "id": "by-hash",
                "type": "subscribe",
                "payload": {"extensions": _persisted(_digest(ME))},
            }
        )
        answers = [await client.receive(), await client.receive()]
        await client.subscribe("{ me { keyId } }")
        refused = await client.receive()
    assert answers[0] == {
        "id": "by-hash",
        "type": "next",
        "payload": {"data": {"me": {"role": "VIEWER"}}},
    }
    assert answers[1]["type"] == "complete"
    assert refused["type"] == "error"
    assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
