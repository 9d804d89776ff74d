"""The overview's per-service figures, kept as samples arrive, equal the samples stored.

Each test compares ``observabilityOverview`` with what the ``signals`` list
holds (or the samples sent), across batches, rejections, rollbacks and
Prometheus remote-write.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from server.access.models import Workspace as WorkspaceRow
from server.core.clock import FrozenClock
from server.core.db import Database
from server.core.migrations import upgrade
from server.core.services import Services
from server.core.settings import Settings
from server.signals import service as signal_service
from server.signals.models import SeriesSummary, Signal
from server.signals.validation import SampleInput
from tests.conftest import Backend, Workspace, fresh_database_url, running_app
from tests.graphql_client import GraphQLClient
from tests.prometheus.wire_client import remote_write

T0 = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)

INGEST = """
mutation($signals: [SignalInput!]!) {
  ingestSignals(signals: $signals) { accepted rejected { index reason } }
}"""
OVERVIEW = "{ observabilityOverview { services { service signalCount seriesNames lastSeenAt } } }"
SIGNALS = """
query($filter: SignalFilter, $after: String) {
  signals(filter: $filter, first: 500, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { service name ts } }
  }
}"""


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sample(value: float, seconds: float, service: str, name: str) -> dict[str, Any]:
    return {"service": service, "name": name, "value": value, "ts": at(seconds).isoformat()}


async def overview(gql: GraphQLClient, workspace: Workspace) -> list[dict[str, Any]]:
    data = await gql.data(OVERVIEW, key=workspace.viewer)
    services: list[dict[str, Any]] = data["observabilityOverview"]["services"]
    return services


async def stored_samples(gql: GraphQLClient, workspace: Workspace) -> list[dict[str, Any]]:
    """Every sample of the workspace, read page by page through the signals list."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await gql.data(SIGNALS, {"after": after}, key=workspace.viewer))["signals"]
        found.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def summarise(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The overview's figures computed independently from the samples themselves."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for one in samples:
        by_service.setdefault(one["service"], []).append(one)
    return [
        {
            "service": service,
            "signalCount": len(rows),
            "seriesNames": len({row["name"] for row in rows}),
            "lastSeenAt": max(datetime.fromisoformat(row["ts"]) for row in rows).isoformat(),
        }
        for service, rows in sorted(by_service.items())
    ]


async def test_the_overview_counts_every_batch_and_keeps_the_newest_sample_time(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    batches = [
        [sample(1, 0, "api", "latency_ms"), sample(2, 60, "api", "latency_ms")],
        # Older samples of a series already seen: counted, last seen unchanged.
        [sample(3, -3600, "api", "latency_ms"), sample(4, -7200, "api", "errors_total")],
        # A newer sample after older ones, in one batch, and a second service.
        [
            sample(5, 30, "worker", "queue_depth"),
            sample(6, 900, "api", "latency_ms"),
            sample(7, -60, "worker", "queue_depth"),
        ],
        [sample(8, 120, "worker", "jobs_total")],
    ]
    for batch in batches:
        assert (await ingest(gql, workspace, batch))["rejected"] == []
    expected = [
        {"service": "api", "signalCount": 5, "seriesNames": 2, "lastSeenAt": at(900).isoformat()},
        {
            "service": "worker",
            "signalCount": 3,
            "seriesNames": 2,
            "lastSeenAt": at(120).isoformat(),
        },
    ]
    assert await overview(gql, workspace) == expected
    assert summarise(await stored_samples(gql, workspace)) == expected


async def ingest(gql: GraphQLClient, workspace: Workspace, items: list[Any]) -> dict[str, Any]:
    result: dict[str, Any] = (await gql.data(INGEST, {"signals": items}, key=workspace.developer))[
        "ingestSignals"
    ]
    return result


async def test_concurrent_batches_of_the_same_series_all_count(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    """Batches naming the same series in opposite orders, at once: the summary rows
    are taken in one order by every writer, so none waits on another for ever."""
    names = [f"metric_{n}" for n in range(12)]

    def batch(writer: int) -> list[dict[str, Any]]:
        order = names if writer % 2 else list(reversed(names))
        return [sample(writer, writer * 10 + i, "api", name) for i, name in enumerate(order)]

    results = await asyncio.gather(*(ingest(gql, workspace, batch(w)) for w in range(8)))
    assert [r["accepted"] for r in results] == [len(names)] * 8
    (api,) = await overview(gql, workspace)
    assert (api["signalCount"], api["seriesNames"]) == (8 * len(names), len(names))
    assert api["lastSeenAt"] == at(7 * 10 + len(names) - 1).isoformat()


async def test_rejected_items_are_not_counted(gql: GraphQLClient, workspace: Workspace) -> None:
    batch = [
        sample(1, 0, "api", "latency_ms"),
        sample(2, 10, "api", "bad name!"),
        {"service": "api", "name": "latency_ms", "value": 3, "ts": "not a time"},
        sample(4, 20, "", "latency_ms"),
        # In the future: refused, and must not move lastSeenAt either.
        {"service": "api", "name": "latency_ms", "value": 5, "ts": "2030-01-01T00:00:00Z"},
        sample(6, 5, "api", "latency_ms"),
    ]
    result = await ingest(gql, workspace, batch)
    assert result["accepted"] == 2
    assert [r["index"] for r in result["rejected"]] == [1, 2, 3, 4]
    assert await overview(gql, workspace) == [
        {"service": "api", "signalCount": 2, "seriesNames": 1, "lastSeenAt": at(5).isoformat()}
    ]


async def test_a_batch_rolled_back_with_its_transaction_is_not_counted(
    gql: GraphQLClient, workspace: Workspace, services: Services
) -> None:
    class Abort(Exception):
        pass

    await ingest(gql, workspace, [sample(1, 0, "api", "latency_ms")])
    items = [
        SampleInput(service="api", name="latency_ms", value=2.0, ts=at(600), labels={}),
        SampleInput(service="api", name="fresh_total", value=3.0, ts=at(700), labels={}),
        SampleInput(service="worker", name="queue_depth", value=4.0, ts=at(800), labels={}),
    ]
    accepted: list[int] = []

    async def ingest_then_fail() -> None:
        async with services.db.transaction() as session:
            outcome = await signal_service.ingest(
                session,
                workspace_id=int(workspace.id),
                items=items,
                clock=services.clock,
                max_batch=10,
            )
            accepted.append(outcome.accepted)
            raise Abort

    with pytest.raises(Abort):
        await ingest_then_fail()
    assert accepted == [3]
    assert await overview(gql, workspace) == [
        {"service": "api", "signalCount": 1, "seriesNames": 1, "lastSeenAt": at(0).isoformat()}
    ]


async def test_remote_write_samples_are_counted_across_chunks(
    settings: Settings, clock: FrozenClock, gql: GraphQLClient, workspace: Workspace
) -> None:
    """A request larger than a batch is stored in chunks of one transaction; the
    summaries take each chunk's samples once."""
    small_batches = settings.model_copy(update={"max_ingest_batch": 2, "run_jobs": False})
    now_ms = int(clock.now().timestamp() * 1000)
    series = [
        (
            {"__name__": "http_requests_total", "job": "api"},
            [(float(i), now_ms - i) for i in range(5)],
        ),
        ({"__name__": "up", "job": "api"}, [(1.0, now_ms - 60_000)]),
        ({"__name__": "queue_depth", "job": "worker"}, [(3.0, now_ms - 30_000), (4.0, now_ms)]),
    ]
    async with running_app(small_batches, clock) as client:
        response = await remote_write(client.http, workspace.developer, series)
    assert response.status_code == 204, response.text
    newest = datetime.fromtimestamp(now_ms / 1000, tz=UTC).isoformat()
    expected = [
        {"service": "api", "signalCount": 6, "seriesNames": 2, "lastSeenAt": newest},
        {"service": "worker", "signalCount": 2, "seriesNames": 1, "lastSeenAt": newest},
    ]
    assert await overview(gql, workspace) == expected
    assert summarise(await stored_samples(gql, workspace)) == expected


async def test_remote_write_and_graphql_batches_add_up(
    http: httpx.AsyncClient, clock: FrozenClock, gql: GraphQLClient, workspace: Workspace
) -> None:
    now_ms = int(clock.now().timestamp() * 1000)
    response = await remote_write(
        http, workspace.developer, [({"__name__": "latency_ms", "job": "api"}, [(1.0, now_ms)])]
    )
    assert response.status_code == 204, response.text
    await ingest(gql, workspace, [sample(2, -600, "api", "latency_ms")])
    (api,) = await overview(gql, workspace)
    assert (api["signalCount"], api["seriesNames"]) == (2, 1)
    assert api["lastSeenAt"] == datetime.fromtimestamp(now_ms / 1000, tz=UTC).isoformat()


# --- the migration that introduces the summaries ---------------------------------------


@pytest.fixture
async def fresh_database(backend: Backend, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database of the session's backend, for migrating step by step."""
    async with fresh_database_url(backend, tmp_path, "opsgraph_migrate") as url:
        db = Database(url)
        try:
            yield db
        finally:
            await db.dispose()


async def test_the_migration_summarises_the_samples_already_stored(
    fresh_database: Database,
) -> None:
    db = fresh_database
    await upgrade(db.engine, "0013")
    rows = [
        (1, "api", "latency_ms", at(0)),
        (1, "api", "latency_ms", at(-600)),
        (1, "api", "latency_ms", at(300)),
        (1, "api", "errors_total", at(10)),
        (1, "worker", "queue_depth", at(20)),
        (2, "api", "latency_ms", at(40)),
    ]
    async with db.engine.begin() as connection:
        await connection.execute(
            insert(WorkspaceRow),
            [{"id": w, "name": f"w{w}", "created_at": T0} for w in (1, 2)],
        )
        await connection.execute(
            insert(Signal),
            [
                {"workspace_id": w, "service": s, "name": n, "value": 1.0, "labels": {}, "ts": ts}
                for w, s, n, ts in rows
            ],
        )
    await upgrade(db.engine)
    columns = SeriesSummary.__table__.c
    async with db.engine.connect() as connection:
        summaries = await connection.execute(
            select(
                columns.workspace_id,
                columns.service,
                columns.name,
                columns.sample_count,
                columns.first_seen_at,
                columns.last_seen_at,
            ).order_by(columns.workspace_id, columns.service, columns.name)
        )
        found = [tuple(row) for row in summaries.all()]
    assert found == [
        (1, "api", "errors_total", 1, at(10), at(10)),
        (1, "api", "latency_ms", 3, at(-600), at(300)),
        (1, "worker", "queue_depth", 1, at(20), at(20)),
        (2, "api", "latency_ms", 1, at(40), at(40)),
    ]
