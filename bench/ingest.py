"""Benchmark: signals/s of the ``ingestSignals`` mutation beside a raw asyncpg COPY.

Creates a throw-away PostgreSQL database, starts ``opsgraph serve`` on it (one
uvicorn worker, loopback) and sends batches of 1,000 and of 10,000 signals as a
GraphQL variable, JSON over HTTP, one request at a time. Interleaved with those
batches it COPYs the same rows with ``asyncpg.copy_records_to_table`` into a
table shaped like ``signals`` (same columns, indexes and foreign key), in the same
database. Prints one JSON document to stdout; progress goes to stderr.

    .venv/bin/python -m bench.ingest          # or: make bench

Environment:
  OPSGRAPH_BENCH_DATABASE_URL   admin connection used to create and drop the
                                benchmark database (default
                                postgresql+asyncpg://postgres@127.0.0.1:5432/test)
  OPSGRAPH_BENCH_PROFILE_DIR    if set, record a py-spy profile of the server into
                                this directory during one extra, unmeasured pass
                                per batch size
"""

import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench._harness import (
    BenchDatabase,
    BenchError,
    PgConnection,
    ServerProcess,
    environment_summary,
    fresh_database,
    maybe_profile,
    opsgraph_server,
    pg_connect,
    run_main,
)

#: (batch size, measured batches); one more batch of each size warms up first.
BATCH_PLAN: tuple[tuple[int, int], ...] = ((1_000, 20), (10_000, 12))
TARGET_BATCH = 10_000
TARGET_RATIO = 0.40
TIME_LIMIT_S = 600.0
REQUEST_TIMEOUT_S = 120.0

BASELINE_TABLE = "signals_copy_baseline"
COPY_COLUMNS = ("workspace_id", "service", "name", "value", "labels", "ts")
MUTATION = """
mutation Ingest($signals: [SignalInput!]!) {
  ingestSignals(signals: $signals) { accepted rejected { index reason } }
}
"""
SERVICES = tuple(f"svc-{n}" for n in range(8))
NAMES = ("http_requests_total", "http_request_duration_seconds", "cpu_usage", "memory_bytes")


@dataclass(frozen=True)
class Row:
    service: str
    name: str
    value: float
    labels: dict[str, str]
    ts: datetime


@dataclass(frozen=True)
class Batch:
    """One batch in both encodings: a GraphQL request body and COPY records."""

    size: int
    body: bytes
    records: list[tuple[object, ...]]


def make_rows(count: int, *, first: int, base: datetime) -> list[Row]:
    return [
        Row(
            service=SERVICES[n % len(SERVICES)],
            name=NAMES[n % len(NAMES)],
            value=(n % 1_000) * 0.5,
            labels={"host": f"host-{n % 50}", "region": "eu-west-1"},
            ts=base + timedelta(milliseconds=n),
        )
        for n in range(first, first + count)
    ]


def make_batch(rows: list[Row], *, workspace_id: int) -> Batch:
    variables = {
        "signals": [
            {
                "service": r.service,
                "name": r.name,
                "value": r.value,
                "ts": r.ts.isoformat(),
                "labels": r.labels,
            }
            for r in rows
        ]
    }
    body = json.dumps({"query": MUTATION, "variables": variables}).encode()
    records: list[tuple[object, ...]] = [
        (workspace_id, r.service, r.name, r.value, json.dumps(r.labels), r.ts) for r in rows
    ]
    return Batch(size=len(rows), body=body, records=records)


class BatchMaker:
    """Distinct rows for every batch, timestamped within the last hour."""

    def __init__(self, workspace_id: int) -> None:
        self.workspace_id = workspace_id
        self.base = datetime.now(UTC) - timedelta(hours=1)
        self.made = 0
        self.profiled = 0  # rows sent outside the measured batches

    def next(self, size: int) -> Batch:
        rows = make_rows(size, first=self.made, base=self.base)
        self.made += size
        return make_batch(rows, workspace_id=self.workspace_id)


async def send_graphql(client: httpx.AsyncClient, batch: Batch) -> float:
    started = time.perf_counter()
    response = await client.post("/graphql", content=batch.body)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise BenchError(f"ingestSignals answered {response.status_code}: {response.text[:500]}")
    payload: dict[str, Any] = response.json()
    result = (payload.get("data") or {}).get("ingestSignals")
    if payload.get("errors") or result is None or result["accepted"] != batch.size:
        raise BenchError(f"ingestSignals did not accept the whole batch: {str(payload)[:500]}")
    return elapsed


async def send_copy(connection: PgConnection, batch: Batch) -> float:
    started = time.perf_counter()
    await connection.copy_records_to_table(
        BASELINE_TABLE, records=batch.records, columns=COPY_COLUMNS
    )
    return time.perf_counter() - started


def rates(size: int, seconds: list[float]) -> dict[str, float]:
    return {
        "median_rows_per_s": round(statistics.median(size / s for s in seconds)),
        "total_rows_per_s": round(size * len(seconds) / sum(seconds)),
        "median_batch_ms": round(statistics.median(seconds) * 1000, 1),
        "max_batch_ms": round(max(seconds) * 1000, 1),
    }


async def create_baseline_table(connection: PgConnection) -> None:
    """A table shaped like ``signals``: LIKE copies columns, defaults and indexes, not FKs."""
    await connection.execute(f"CREATE TABLE {BASELINE_TABLE} (LIKE signals INCLUDING ALL)")
    await connection.execute(
        f"ALTER TABLE {BASELINE_TABLE} ADD FOREIGN KEY (workspace_id)"
        " REFERENCES workspaces (id) ON DELETE CASCADE"
    )


async def measure(
    server: ServerProcess, connection: PgConnection, maker: BatchMaker
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    headers = {"Authorization": f"Bearer {server.admin_key}", "Content-Type": "application/json"}
    results: list[dict[str, Any]] = []
    profiles: dict[str, str] = {}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S
    ) as client:
        for size, count in BATCH_PLAN:
            warmup = maker.next(size)
            await send_graphql(client, warmup)
            await send_copy(connection, maker.next(size))
            graphql_s: list[float] = []
            copy_s: list[float] = []
            for number in range(count):
                # Alternate which goes first, so neither always meets a warmer cache.
                graphql_batch, copy_batch = maker.next(size), maker.next(size)
                if number % 2 == 0:
                    graphql_s.append(await send_graphql(client, graphql_batch))
                    copy_s.append(await send_copy(connection, copy_batch))
                else:
                    copy_s.append(await send_copy(connection, copy_batch))
                    graphql_s.append(await send_graphql(client, graphql_batch))
            # An extra, unmeasured pass under the profiler, if one was asked for.
            async with maybe_profile(server, f"ingest-{size}") as profile:
                for _ in range(count if profile else 0):
                    await send_graphql(client, maker.next(size))
                    maker.profiled += size
            if profile is not None:
                profiles[str(size)] = profile
            graphql, copy = rates(size, graphql_s), rates(size, copy_s)
            ratio_median = graphql["median_rows_per_s"] / copy["median_rows_per_s"]
            ratio_total = graphql["total_rows_per_s"] / copy["total_rows_per_s"]
            results.append(
                {
                    "batch_size": size,
                    "batches": count,
                    "rows": size * count,
                    "request_bytes": len(warmup.body),
                    "ingest_signals": graphql,
                    "raw_copy": copy,
                    "ratio": {"median": round(ratio_median, 3), "total": round(ratio_total, 3)},
                }
            )
            print(
                f"batch {size}: ingestSignals {graphql['median_rows_per_s']} rows/s,"
                f" COPY {copy['median_rows_per_s']} rows/s",
                file=sys.stderr,
            )
    return results, profiles


async def run(database: BenchDatabase) -> dict[str, Any]:
    async with opsgraph_server(database) as server:
        connection = await pg_connect(database.url)
        try:
            await create_baseline_table(connection)
            workspace_id = int(await connection.fetchval("SELECT min(id) FROM workspaces"))
            postgres = str(await connection.fetchval("SHOW server_version"))
            maker = BatchMaker(workspace_id)
            async with asyncio.timeout(TIME_LIMIT_S):
                results, profiles = await measure(server, connection, maker)
            stored = int(await connection.fetchval("SELECT count(*) FROM signals"))
        finally:
            await connection.close()
    expected = sum(r["rows"] + r["batch_size"] for r in results) + maker.profiled
    if stored != expected:
        raise BenchError(f"signals holds {stored} rows, expected {expected}")
    target = next(r for r in results if r["batch_size"] == TARGET_BATCH)
    ratio = target["ratio"]["median"]
    report: dict[str, Any] = {
        "benchmark": "ingest",
        "unit": "rows/s",
        "target": {
            "description": "ingestSignals with 10,000-item batches >= 40 % of the raw COPY rate",
            "batch_size": TARGET_BATCH,
            "min_ratio": TARGET_RATIO,
            "ratio": ratio,
            "met": ratio >= TARGET_RATIO,
        },
        "results": results,
        "method": {
            "ingest_signals": "POST /graphql, batch as the $signals variable, one request at"
            " a time, keep-alive; time from send to parsed response; warm-up batch excluded",
            "raw_copy": f"asyncpg copy_records_to_table into {BASELINE_TABLE} (LIKE signals"
            " INCLUDING ALL + the workspace foreign key), records prebuilt, autocommit",
            "median_rows_per_s": "median over batches of batch size / batch time",
            "total_rows_per_s": "all rows / sum of batch times",
        },
        "server": {"command": "opsgraph serve", "workers": 1, "postgresql": postgres},
        "environment": environment_summary(),
    }
    if profiles:
        report["profiles"] = profiles
    return report


async def main() -> None:
    async with fresh_database() as database:
        report = await run(database)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run_main(main)
