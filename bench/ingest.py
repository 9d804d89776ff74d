"""Benchmark: signals/s of the ``ingestSignals`` mutation and of Prometheus remote
write beside a raw asyncpg COPY.

Creates a throw-away PostgreSQL database, starts ``opsgraph serve`` on it (one
uvicorn worker, loopback) and sends batches of 1,000 and of 10,000 signals as a
GraphQL variable, JSON over HTTP, one request at a time, and the same numbers of
samples as remote-write requests (``POST /api/v1/write``, a snappy-compressed
protobuf ``WriteRequest`` as Prometheus sends it, one series per service, name
and host). Interleaved with those batches it COPYs the same rows with
``asyncpg.copy_records_to_table`` into a table shaped like ``signals`` (same
columns, indexes and foreign key), in the same database. Prints one JSON
document to stdout; progress goes to stderr.

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
from server.transport.prometheus.wire import encode_write_request

#: (batch size, measured batches); one more batch of each size warms up first.
BATCH_PLAN: tuple[tuple[int, int], ...] = ((1_000, 20), (10_000, 12))
TARGET_BATCH = 10_000
TARGET_RATIO = 0.40
REMOTE_WRITE_TARGET_RATIO = 0.60
REMOTE_WRITE_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
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
    """One batch in three encodings: a GraphQL request body, a remote-write body
    and COPY records."""

    size: int
    body: bytes
    records: list[tuple[object, ...]]
    remote_write: bytes


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
    return Batch(size=len(rows), body=body, records=records, remote_write=write_request(rows))


def write_request(rows: list[Row]) -> bytes:
    """The rows as Prometheus remote-writes them: one series per label set."""
    series: dict[tuple[str, ...], list[tuple[float, int]]] = {}
    labels_of: dict[tuple[str, ...], dict[str, str]] = {}
    for r in rows:
        labels = {"__name__": r.name, "service": r.service, **r.labels}
        key = tuple(sorted(labels.values()))
        labels_of.setdefault(key, labels)
        series.setdefault(key, []).append((r.value, int(r.ts.timestamp() * 1000)))
    return encode_write_request([(labels_of[key], samples) for key, samples in series.items()])


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


async def send_remote_write(client: httpx.AsyncClient, batch: Batch) -> float:
    started = time.perf_counter()
    response = await client.post(
        "/api/v1/write", content=batch.remote_write, headers=REMOTE_WRITE_HEADERS
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 204:
        raise BenchError(f"remote write answered {response.status_code}: {response.text[:500]}")
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
            await send_remote_write(client, maker.next(size))
            graphql_s: list[float] = []
            copy_s: list[float] = []
            remote_s: list[float] = []
            senders = [
                lambda batch: send_graphql(client, batch),
                lambda batch: send_copy(connection, batch),
                lambda batch: send_remote_write(client, batch),
            ]
            timings = [graphql_s, copy_s, remote_s]
            for number in range(count):
                # Rotate which goes first, so none always meets a warmer cache.
                for turn in range(3):
                    which = (number + turn) % 3
                    timings[which].append(await senders[which](maker.next(size)))
            # An extra, unmeasured pass under the profiler, if one was asked for.
            async with maybe_profile(server, f"ingest-{size}") as profile:
                for _ in range(count if profile else 0):
                    await send_graphql(client, maker.next(size))
                    maker.profiled += size
            if profile is not None:
                profiles[str(size)] = profile
            graphql, copy = rates(size, graphql_s), rates(size, copy_s)
            remote = rates(size, remote_s)
            ratio_median = graphql["median_rows_per_s"] / copy["median_rows_per_s"]
            ratio_total = graphql["total_rows_per_s"] / copy["total_rows_per_s"]
            remote_median = remote["median_rows_per_s"] / copy["median_rows_per_s"]
            remote_total = remote["total_rows_per_s"] / copy["total_rows_per_s"]
            results.append(
                {
                    "batch_size": size,
                    "batches": count,
                    "rows": size * count,
                    "request_bytes": len(warmup.body),
                    "remote_write_request_bytes": len(warmup.remote_write),
                    "ingest_signals": graphql,
                    "remote_write": remote,
                    "raw_copy": copy,
                    "ratio": {"median": round(ratio_median, 3), "total": round(ratio_total, 3)},
                    "remote_write_ratio": {
                        "median": round(remote_median, 3),
                        "total": round(remote_total, 3),
                    },
                }
            )
            print(
                f"batch {size}: ingestSignals {graphql['median_rows_per_s']} rows/s,"
                f" remote write {remote['median_rows_per_s']} rows/s,"
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
    # ingestSignals and remote write: measured batches and one warm-up each.
    expected = sum(2 * (r["rows"] + r["batch_size"]) for r in results) + maker.profiled
    if stored != expected:
        raise BenchError(f"signals holds {stored} rows, expected {expected}")
    target = next(r for r in results if r["batch_size"] == TARGET_BATCH)
    ratio = target["ratio"]["median"]
    remote_ratio = target["remote_write_ratio"]["median"]
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
        "remote_write_target": {
            "description": "remote-write requests of 10,000 samples >= 60 % of the raw COPY rate",
            "batch_size": TARGET_BATCH,
            "min_ratio": REMOTE_WRITE_TARGET_RATIO,
            "ratio": remote_ratio,
            "met": remote_ratio >= REMOTE_WRITE_TARGET_RATIO,
        },
        "results": results,
        "method": {
            "ingest_signals": "POST /graphql, batch as the $signals variable, one request at"
            " a time, keep-alive; time from send to parsed response; warm-up batch excluded",
            "remote_write": "POST /api/v1/write, the same number of samples as a snappy"
            " protobuf WriteRequest (prebuilt), one request at a time; time to the 204",
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
