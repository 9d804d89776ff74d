"""Benchmark: the list a dashboard asks for, beside PostGraphile 4 on the same rows.

The list is the newest 100 signals of one service with 4 fields. opsgraph serves it
as ``signals(filter: {service}, first: 100) { edges { node { id name value ts } } }``
and PostGraphile 4 (npm ``postgraphile``, pinned in bench/postgraphile/) as
``allSignals(condition: {workspaceId, service}, orderBy: [TS_DESC, ID_DESC],
first: 100) { nodes { id name value ts } }`` on the same database (the condition
names the workspace, as opsgraph's query does), so both read the same rows through
the same indexes. Both answers are checked to hold the same 100 rows.

1. The samples (``OPSGRAPH_BENCH_LIST_SMALL``, default 100,000) go in through
   ``ingestSignals`` in batches of 10,000, as monitored series produce them: 200
   series (20 services of 10 names, each with labels of its own), one sample a
   minute each, going back from now. Then VACUUM ANALYZE.
2. ``wrk`` loads each server in turn with the list, in alternating rounds, at 8 and
   at 32 connections (``ratio_list_<n>``: opsgraph's requests/s over
   PostGraphile's).
3. Single requests, one at a time (median of 30 after a warm-up), of
   ``observabilityOverview``, the list and ``signalSeries`` (one series over the
   last 6 hours in 5-minute buckets).
4. The table grows to ``OPSGRAPH_BENCH_LIST_LARGE`` samples (default 10,000,000;
   same path, 4 concurrent writers): the same series with a longer history (35
   days instead of 8 hours), as a table grows while it is used. Then VACUUM
   ANALYZE, and step 3 runs again (``growth_<query>``: its time at the large size
   over its time at the small). Each query reads as much at either size (the
   newest 100 rows, 360 samples of a series, the 200 series' summaries), so a
   growth means a cost that grows with the table.

opsgraph runs as ``opsgraph serve`` (one uvicorn worker) and PostGraphile as one
Node process, both on loopback. Prints one JSON document to stdout; progress goes
to stderr.

    (cd bench/postgraphile && npm ci) && .venv/bin/python -m bench.list

Needs PostgreSQL on loopback, ``wrk`` and Node.js with npm.

Environment:
  OPSGRAPH_BENCH_DATABASE_URL    admin connection used to create and drop the
                                 benchmark database (default
                                 postgresql+asyncpg://postgres@127.0.0.1:5432/test)
  OPSGRAPH_BENCH_LIST_SMALL      samples of the first measurement (default 100000)
  OPSGRAPH_BENCH_LIST_LARGE      samples of the second (default 10000000; 0 skips it)
  OPSGRAPH_BENCH_DURATION        seconds per wrk round (default 5)
  OPSGRAPH_BENCH_PROFILE_DIR     if set, record a py-spy profile of the opsgraph
                                 server during one extra, unmeasured run
  OPSGRAPH_BENCH_PROFILE_CONNECTIONS  connections of that run (default 32)
"""

import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._harness import (
    REPO,
    BenchDatabase,
    BenchError,
    ServerProcess,
    cpu_seconds,
    env_int,
    environment_summary,
    free_port,
    fresh_database,
    maybe_profile,
    opsgraph_server,
    pg_connect,
    run_main,
    running_server,
)
from bench.graphql_http import (
    DONE_LUA,
    Round,
    Target,
    find_wrk,
    lua_string,
    run_wrk,
    summarize,
)

SERVICES = [f"svc-{n:02d}" for n in range(20)]
NAMES = [f"metric_{n}" for n in range(10)]
SERIES = [
    (service, name, {"host": f"host-{n % 4}", "region": "ab"[n % 2]})
    for n, (service, name) in enumerate((s, m) for s in SERVICES for m in NAMES)
]
INTERVAL = timedelta(minutes=1)
#: signalSeries reads this much of one series: 360 samples at either size.
SERIES_WINDOW = timedelta(hours=6)
BATCH = 10_000
WRITERS = 4
PAGE = 100
LISTED_SERVICE = "svc-07"
CONNECTIONS = (8, 32)
ROUNDS = 3
WARMUP_S = 2
SINGLE_REQUESTS = 30
TARGET_RATIO = 1.0
TARGET_GROWTH = 2.0
POSTGRAPHILE_DIR = REPO / "bench" / "postgraphile"

OPSGRAPH_LIST = (
    "query List($service: String!) { signals(filter: {service: $service}, first: 100)"
    " { edges { node { id name value ts } } } }"
)
POSTGRAPHILE_LIST = (
    "query List($workspace: BigInt!, $service: String!) { allSignals("
    "condition: {workspaceId: $workspace, service: $service},"
    " orderBy: [TS_DESC, ID_DESC], first: 100) { nodes { id name value ts } } }"
)
OVERVIEW = (
    "{ observabilityOverview { services { service signalCount seriesNames lastSeenAt"
    " openAlerts } } }"
)
SERIES_QUERY = (
    "query Series($service: String!, $name: String!, $from: DateTime!, $to: DateTime!)"
    " { signalSeries(service: $service, name: $name, from: $from, to: $to, step: 300,"
    " aggregate: AVG) { ts value count } }"
)
INGEST = (
    "mutation Ingest($signals: [SignalInput!]!) { ingestSignals(signals: $signals) { accepted } }"
)


# --- loading -----------------------------------------------------------------------


class History:
    """Samples as monitored series produce them: each of the ``SERIES`` series (a
    service's name, with labels of its own) once every ``INTERVAL``, newest first,
    so that a larger table holds a longer history at the same density."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.produced = 0

    def batch(self, rng: random.Random, size: int) -> list[dict[str, Any]]:
        first, self.produced = self.produced, self.produced + size
        return [self._sample(rng, n) for n in range(first, first + size)]

    def _sample(self, rng: random.Random, sequence: int) -> dict[str, Any]:
        step, series = divmod(sequence, len(SERIES))
        service, name, labels = SERIES[series]
        return {
            "service": service,
            "name": name,
            "value": round(rng.uniform(0, 1000), 3),
            "ts": (self.now - INTERVAL * step).isoformat(),
            "labels": labels,
        }


async def ingest(server: ServerProcess, history: History, count: int, *, seed: int) -> None:
    """``count`` more (older) samples through ``ingestSignals``, by ``WRITERS`` clients."""
    batches = asyncio.Queue[int]()
    for start in range(0, count, BATCH):
        batches.put_nowait(min(BATCH, count - start))
    started = time.monotonic()

    async def writer(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        async with _client(server) as client:
            while not batches.empty():
                size = batches.get_nowait()
                data = await _graphql(client, INGEST, {"signals": history.batch(rng, size)})
                if data["ingestSignals"]["accepted"] != size:
                    raise BenchError(f"ingestSignals accepted {data} of {size}")

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    rate = count / (time.monotonic() - started)
    print(f"ingested {count} samples ({rate:.0f}/s)", file=sys.stderr)


async def workspace_of_admin(database: BenchDatabase) -> int:
    connection = await pg_connect(database.url)
    try:
        return int(await connection.fetchval("SELECT min(id) FROM workspaces"))
    finally:
        await connection.close()


async def vacuum_analyze(database: BenchDatabase) -> None:
    connection = await pg_connect(database.url)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


# --- servers -------------------------------------------------------------------------


def postgraphile_server(database: BenchDatabase) -> Any:
    binary = POSTGRAPHILE_DIR / "node_modules" / ".bin" / "postgraphile"
    if not binary.exists():
        raise BenchError(
            f"PostGraphile is not installed: run `npm ci` in {POSTGRAPHILE_DIR} (needs Node.js)"
        )
    port = free_port()
    dsn = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
    argv = [
        str(binary),
        "--connection",
        dsn,
        "--schema",
        "public",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--disable-query-log",
        "--disable-graphiql",
    ]
    return running_server(
        "postgraphile",
        argv,
        port=port,
        env={"NODE_ENV": "production"},
        health_path="/graphql",
        expect_admin_key=False,
        healthy_statuses=(200, 405),
    )


def _client(server: ServerProcess) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {server.admin_key}"} if server.admin_key else {}
    return httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=120)


async def _graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    answer = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    body = answer.json()
    if answer.status_code != 200 or body.get("errors") or not body.get("data"):
        raise BenchError(f"{query[:60]}... answered {answer.status_code}: {answer.text[:500]}")
    return dict(body["data"])


# --- the list under load ----------------------------------------------------------------


def list_script(query: str, variables: dict[str, Any], admin_key: str | None) -> str:
    body = json.dumps({"query": query, "variables": variables})
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {lua_string(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    if admin_key:
        script += f'wrk.headers["Authorization"] = {lua_string("Bearer " + admin_key)}\n'
    return script + DONE_LUA


async def check_same_rows(
    opsgraph: ServerProcess, postgraphile: ServerProcess, workspace_id: int
) -> None:
    async with _client(opsgraph) as client:
        ours = await _graphql(client, OPSGRAPH_LIST, {"service": LISTED_SERVICE})
    async with _client(postgraphile) as client:
        theirs = await _graphql(client, POSTGRAPHILE_LIST, postgraphile_variables(workspace_id))
    our_rows = [
        (int(e["node"]["id"]), e["node"]["name"], e["node"]["value"])
        for e in ours["signals"]["edges"]
    ]
    their_rows = [(int(n["id"]), n["name"], n["value"]) for n in theirs["allSignals"]["nodes"]]
    if len(our_rows) != PAGE or our_rows != their_rows:
        raise BenchError(f"the two lists differ: {our_rows[:3]}... vs {their_rows[:3]}...")


def postgraphile_variables(workspace_id: int) -> dict[str, Any]:
    """PostGraphile reads the same rows through the same index: the workspace's."""
    return {"workspace": str(workspace_id), "service": LISTED_SERVICE}


async def load_rounds(
    wrk: str, targets: Sequence[Target], *, seconds: int, connections: int
) -> tuple[dict[str, list[Round]], dict[str, float]]:
    """Alternating rounds of each target; also the median server CPU time per request."""
    for target in targets:
        await run_wrk(wrk, target, seconds=WARMUP_S, connections=connections)
    rounds: dict[str, list[Round]] = {t.name: [] for t in targets}
    cpu_ms: dict[str, list[float]] = {t.name: [] for t in targets}
    for number in range(ROUNDS):
        order = targets if number % 2 == 0 else list(reversed(targets))
        for target in order:
            cpu_before = cpu_seconds(target.server.pid)
            result = await run_wrk(wrk, target, seconds=seconds, connections=connections)
            used = (cpu_seconds(target.server.pid) - cpu_before) * 1000 / max(result.requests, 1)
            if result.errors:
                raise BenchError(f"{target.name} answered {result.errors} errors under load")
            rounds[target.name].append(result)
            cpu_ms[target.name].append(used)
            print(
                f"{connections} connections, round {number + 1} {target.name}:"
                f" {result.requests_per_s:.0f} req/s, p50 {result.p50_ms:.1f} ms,"
                f" {used:.2f} ms of server CPU per request",
                file=sys.stderr,
            )
    return rounds, {name: round(statistics.median(v), 3) for name, v in cpu_ms.items()}


async def compare_lists(
    wrk: str,
    servers: tuple[ServerProcess, ServerProcess],
    workspace_id: int,
    scratch: Path,
    seconds: int,
) -> dict[str, Any]:
    opsgraph, postgraphile = servers
    targets = []
    for name, server, query, variables in (
        ("opsgraph", opsgraph, OPSGRAPH_LIST, {"service": LISTED_SERVICE}),
        ("postgraphile", postgraphile, POSTGRAPHILE_LIST, postgraphile_variables(workspace_id)),
    ):
        script = scratch / f"{name}.lua"
        script.write_text(list_script(query, variables, server.admin_key))
        targets.append(Target(name, server, f"{server.base_url}/graphql", script))
    results: dict[str, Any] = {}
    for connections in CONNECTIONS:
        rounds, cpu = await load_rounds(wrk, targets, seconds=seconds, connections=connections)
        ours, theirs = summarize(rounds["opsgraph"]), summarize(rounds["postgraphile"])
        results[f"connections_{connections}"] = {
            "opsgraph": ours | {"server_cpu_ms_per_request": cpu["opsgraph"]},
            "postgraphile": theirs | {"server_cpu_ms_per_request": cpu["postgraphile"]},
            "ratio": round(ours["requests_per_s"] / theirs["requests_per_s"], 3),
        }
    async with maybe_profile(opsgraph, "list-opsgraph") as profile:
        if profile is not None:
            connections = env_int(
                "OPSGRAPH_BENCH_PROFILE_CONNECTIONS", CONNECTIONS[-1], low=1, high=1024
            )
            await run_wrk(wrk, targets[0], seconds=seconds, connections=connections)
    if profile is not None:
        results["profile"] = profile
    return results


# --- single requests -------------------------------------------------------------------


async def single_request_ms(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> float:
    for _ in range(3):
        await _graphql(client, query, variables)
    timings = []
    for _ in range(SINGLE_REQUESTS):
        started = time.perf_counter()
        await _graphql(client, query, variables)
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


async def time_queries(opsgraph: ServerProcess) -> dict[str, float]:
    now = datetime.now(UTC)
    series_variables = {
        "service": LISTED_SERVICE,
        "name": NAMES[3],
        "from": (now - SERIES_WINDOW).isoformat(),
        "to": now.isoformat(),
    }
    async with _client(opsgraph) as client:
        overview = await _graphql(client, OVERVIEW)
        if len(overview["observabilityOverview"]["services"]) != len(SERVICES):
            raise BenchError(f"observabilityOverview answered {overview}")
        return {
            "observability_overview": await single_request_ms(client, OVERVIEW, {}),
            "list": await single_request_ms(client, OPSGRAPH_LIST, {"service": LISTED_SERVICE}),
            "signal_series": await single_request_ms(client, SERIES_QUERY, series_variables),
        }


# --- report ----------------------------------------------------------------------------


def growth(small: dict[str, float], large: dict[str, float] | None) -> dict[str, Any]:
    if large is None:
        return {}
    return {name: round(large[name] / small[name], 2) for name in small}


def report(
    sizes: tuple[int, int], lists: dict[str, Any], small: dict[str, float], large: Any
) -> dict[str, Any]:
    ratios = {f"ratio_list_{n}": lists[f"connections_{n}"]["ratio"] for n in CONNECTIONS}
    growths = growth(small, large)
    return {
        "benchmark": "list",
        "targets": {
            "list_vs_postgraphile": {
                "description": "the list's requests/s at 8 and 32 connections"
                " >= 1.0x PostGraphile 4's",
                "min_ratio": TARGET_RATIO,
                **ratios,
                "met": all(r >= TARGET_RATIO for r in ratios.values()),
            },
            "growth": {
                "description": f"each query at {sizes[1]:,} samples within 2x of its time"
                f" at {sizes[0]:,}",
                "max_ratio": TARGET_GROWTH,
                **{f"growth_{name}": g for name, g in growths.items()},
                "met": bool(growths) and all(g <= TARGET_GROWTH for g in growths.values()),
            },
        },
        "results": {
            "list_under_load": lists,
            f"single_request_ms_at_{sizes[0]}": small,
            f"single_request_ms_at_{sizes[1]}": large,
        },
        "method": {
            "list": f"newest {PAGE} signals of one of {len(SERVICES)} services, 4 fields",
            "load_generator": f"wrk -t2, keep-alive, {ROUNDS} alternating rounds per server"
            f" after {WARMUP_S} s of warm-up; medians over rounds",
            "single_requests": f"median of {SINGLE_REQUESTS} sequential requests after 3",
            "servers": "opsgraph serve (one uvicorn worker); postgraphile 4 (one Node"
            " process, NODE_ENV=production); loopback, same database",
        },
        "environment": environment_summary(),
    }


async def main() -> None:
    wrk = find_wrk()
    small_size = env_int("OPSGRAPH_BENCH_LIST_SMALL", 100_000, low=PAGE * 100, high=10**7)
    large_size = env_int("OPSGRAPH_BENCH_LIST_LARGE", 10_000_000, low=0, high=10**8)
    seconds = env_int("OPSGRAPH_BENCH_DURATION", 5, low=1, high=60)
    large: dict[str, float] | None = None
    with tempfile.TemporaryDirectory(prefix="opsgraph-bench-") as scratch:
        async with fresh_database() as database, opsgraph_server(database) as opsgraph:
            history = History(datetime.now(UTC) - timedelta(minutes=1))
            await ingest(opsgraph, history, small_size, seed=1)
            await vacuum_analyze(database)
            workspace_id = await workspace_of_admin(database)
            async with postgraphile_server(database) as postgraphile:
                await check_same_rows(opsgraph, postgraphile, workspace_id)
                servers = (opsgraph, postgraphile)
                lists = await compare_lists(wrk, servers, workspace_id, Path(scratch), seconds)
            small = await time_queries(opsgraph)
            print(f"single requests at {small_size}: {small}", file=sys.stderr)
            if large_size > small_size:
                await ingest(opsgraph, history, large_size - small_size, seed=2)
                await vacuum_analyze(database)
                large = await time_queries(opsgraph)
                print(f"single requests at {large_size}: {large}", file=sys.stderr)
    json.dump(report((small_size, large_size), lists, small, large), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    run_main(main)
