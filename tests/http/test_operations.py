"""Health, readiness, metrics and request IDs in SQL."""

import json
import logging
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

from server.core.clock import FrozenClock
from server.core.logging import JsonFormatter
from server.core.request_context import set_request_id
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": True, "bus": True}}


async def test_readyz_is_503_when_the_database_is_unreachable(
    backend: Backend, clock: FrozenClock
) -> None:
    unreachable = "postgresql+asyncpg://postgres@127.0.0.1:9/opsgraph"
    settings = make_settings(backend, database_url=unreachable, redis_url="memory://")
    async with running_app(settings, clock) as client:
        response = await client.http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": False, "bus": True}
        assert (await client.http.get("/healthz")).status_code == 200


async def test_metrics_expose_durations_and_errors_by_code(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await gql.data("{ me { role } }", key=workspace.viewer)
    await gql.execute("{ me { role } }", key="og_wrong")
    text = (await gql.http.get("/metrics")).text
    assert 'opsgraph_http_request_duration_seconds_count{method="POST",route="/graphql"' in text
    assert (
        'opsgraph_graphql_operation_duration_seconds_count{operation_type="query",root_fields="me"}'
        in text
    )
    assert 'opsgraph_graphql_errors_total{code="UNAUTHENTICATED"}' in text


async def _statements_of(client: GraphQLClient, key: str) -> list[str]:
    """The SQL statements run while ``client`` answers a list query tagged sql-tag-7."""
    statements: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "after_cursor_execute", capture)
    try:
        answer = await client.post(
            "{ signals { totalCount } }", key=key, headers={"X-Request-ID": "sql-tag-7"}
        )
    finally:
        event.remove(Engine, "after_cursor_execute", capture)
    assert answer.json() == {"data": {"signals": {"totalCount": 0}}}
    return statements


async def test_sql_statements_carry_the_request_id_when_asked_to(
    backend: Backend, clock: FrozenClock, workspace: Workspace
) -> None:
    settings = make_settings(backend, sql_request_comments=True)
    async with running_app(settings, clock) as client:
        statements = await _statements_of(client, workspace.viewer)
    tagged = [s for s in statements if s.startswith("/* request_id=sql-tag-7 */")]
    assert any("signals" in s for s in tagged), statements


async def test_sql_statements_are_untagged_by_default_so_they_stay_prepared(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    statements = await _statements_of(gql, workspace.viewer)
    assert any("signals" in s for s in statements), statements
    assert not any("request_id" in s for s in statements), statements


def test_logs_are_json_lines_with_the_request_id() -> None:
    formatter = JsonFormatter()
    set_request_id("log-req-9")
    try:
        record = logging.makeLogRecord(
            {"name": "opsgraph.http", "levelname": "INFO", "msg": "GET %s", "args": ("/x",)}
        )
        record.__dict__["status"] = 200
        line = json.loads(formatter.format(record))
    finally:
        set_request_id(None)
    assert line["message"] == "GET /x"
    assert line["request_id"] == "log-req-9"
    assert line["status"] == 200
    assert line["level"] == "INFO"
