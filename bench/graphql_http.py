"""Benchmark: requests/s of ``{ me { role } }`` beside a plain FastAPI JSON route.

Creates a throw-away PostgreSQL database and starts two servers on loopback, each
one uvicorn process with one worker: ``opsgraph serve`` on that database, and
``bench/plain_app.py`` (a FastAPI app whose one route returns ``{"ok": true}``).
``wrk`` then loads each in turn, in alternating rounds: the GraphQL query as a
POST with a Bearer API key, the plain route as a GET. Prints one JSON document to
stdout; progress goes to stderr.

    .venv/bin/python -m bench.graphql_http          # or: make bench

Needs ``wrk`` (Debian/Ubuntu: ``apt-get install -y wrk``), which stays off the
critical path on a 2-core machine where an asyncio Python client would not.

Environment:
  OPSGRAPH_BENCH_DATABASE_URL   admin connection used to create and drop the
                                benchmark database (default
                                postgresql+asyncpg://postgres@127.0.0.1:5432/test)
  OPSGRAPH_BENCH_WRK            path of wrk (default: found on PATH)
  OPSGRAPH_BENCH_DURATION       seconds per measured round (default 5)
  OPSGRAPH_BENCH_CONNECTIONS    concurrent keep-alive connections (default 16)
  OPSGRAPH_BENCH_PROFILE_DIR    if set, record a py-spy profile of each server
                                during one extra, unmeasured round
"""

import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._harness import (
    BIN,
    LOOPBACK,
    BenchError,
    ServerProcess,
    env_int,
    environment_summary,
    free_port,
    fresh_database,
    maybe_profile,
    opsgraph_server,
    run_main,
    running_server,
)

QUERY = "{ me { role } }"
ROUNDS = 3
WARMUP_S = 2
THREADS = 1
TARGET_RATIO = 0.50
WRK_MARKER = "WRK_RESULT "

# wrk calls done() once at the end; it prints the numbers as one JSON line.
DONE_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "bytes": %d,'
      .. ' "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d},'
      .. ' "latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\\n',
    "WRK_RESULT ", summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


@dataclass(frozen=True)
class Target:
    """One endpoint under load: a name, its server and the wrk script that requests it."""

    name: str
    server: ServerProcess
    url: str
    script: Path


@dataclass(frozen=True)
class Round:
    requests_per_s: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int


def find_wrk() -> str:
    wrk = os.environ.get("OPSGRAPH_BENCH_WRK") or shutil.which("wrk")
    if not wrk or not Path(wrk).exists():
        raise BenchError(
            "wrk is not installed, and bench/graphql_http.py needs it as its load generator."
            " Install it (Debian/Ubuntu: apt-get install -y wrk; macOS: brew install wrk)"
            " or point OPSGRAPH_BENCH_WRK at the binary."
        )
    return wrk


def lua_string(text: str) -> str:
    """A Lua long-bracket string literal holding ``text`` verbatim."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def graphql_script(admin_key: str) -> str:
    body = json.dumps({"query": QUERY})
    return (
        'wrk.method = "POST"\n'
        f"wrk.body = {lua_string(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = {lua_string("Bearer " + admin_key)}\n'
    ) + DONE_LUA


def write_scripts(directory: Path, admin_key: str) -> tuple[Path, Path]:
    """The wrk scripts of the GraphQL query and of the plain route."""
    graphql_lua = directory / "graphql.lua"
    graphql_lua.write_text(graphql_script(admin_key))
    plain_lua = directory / "plain.lua"
    plain_lua.write_text(DONE_LUA)
    return graphql_lua, plain_lua


async def run_wrk(wrk: str, target: Target, *, seconds: int, connections: int) -> Round:
    process = await asyncio.create_subprocess_exec(
        wrk,
        f"-t{THREADS}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(target.script),
        target.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), seconds + 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise BenchError(f"wrk did not finish against {target.name}") from None
    lines = [x for x in stdout.decode().splitlines() if x.startswith(WRK_MARKER)]
    if process.returncode != 0 or not lines:
        raise BenchError(f"wrk failed against {target.name}: {stderr.decode()}{stdout.decode()}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(WRK_MARKER))
    latency = result["latency_us"]
    return Round(
        requests_per_s=result["requests"] / (result["duration_us"] / 1e6),
        requests=result["requests"],
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        errors=sum(result["errors"].values()),
    )


async def check_answers(graphql: Target, plain: Target) -> None:
    """Both endpoints must answer correctly, or the numbers would measure errors."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            graphql.url,
            json={"query": QUERY},
            headers={"Authorization": f"Bearer {graphql.server.admin_key}"},
        )
        if answer.status_code != 200 or answer.json() != {"data": {"me": {"role": "ADMIN"}}}:
            raise BenchError(f"{QUERY} answered {answer.status_code}: {answer.text[:500]}")
        answer = await client.get(plain.url)
        if answer.status_code != 200 or answer.json() != {"ok": True}:
            raise BenchError(f"the plain route answered {answer.status_code}: {answer.text}")


def summarize(rounds: list[Round]) -> dict[str, Any]:
    def median(values: Iterator[float], digits: int) -> float:
        return round(statistics.median(values), digits)

    return {
        "requests_per_s": median((r.requests_per_s for r in rounds), 1),
        "p50_ms": median((r.p50_ms for r in rounds), 2),
        "p90_ms": median((r.p90_ms for r in rounds), 2),
        "p99_ms": median((r.p99_ms for r in rounds), 2),
        "errors": sum(r.errors for r in rounds),
        "rounds": [
            {
                "requests_per_s": round(r.requests_per_s, 1),
                "requests": r.requests,
                "p50_ms": round(r.p50_ms, 2),
                "p99_ms": round(r.p99_ms, 2),
                "max_ms": round(r.max_ms, 2),
                "errors": r.errors,
            }
            for r in rounds
        ],
    }


def plain_server() -> contextlib.AbstractAsyncContextManager[ServerProcess]:
    port = free_port()
    argv = [
        str(BIN / "uvicorn"),
        "bench.plain_app:app",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return running_server(
        "plain-fastapi", argv, port=port, env={}, health_path="/", expect_admin_key=False
    )


async def measure(
    wrk: str, graphql: Target, plain: Target, *, seconds: int, connections: int
) -> tuple[dict[str, list[Round]], dict[str, str]]:
    for target in (plain, graphql):
        await run_wrk(wrk, target, seconds=WARMUP_S, connections=connections)
    rounds: dict[str, list[Round]] = {plain.name: [], graphql.name: []}
    for number in range(ROUNDS):
        order = (plain, graphql) if number % 2 == 0 else (graphql, plain)
        for target in order:
            result = await run_wrk(wrk, target, seconds=seconds, connections=connections)
            rounds[target.name].append(result)
            print(
                f"round {number + 1} {target.name}: {result.requests_per_s:.0f} req/s,"
                f" p99 {result.p99_ms:.1f} ms",
                file=sys.stderr,
            )
    profiles: dict[str, str] = {}
    for target in (plain, graphql):
        async with maybe_profile(target.server, f"http-{target.name}") as profile:
            if profile is None:
                break
            await run_wrk(wrk, target, seconds=seconds, connections=connections)
        if profile is not None:
            profiles[target.name] = profile
    return rounds, profiles


async def main() -> None:
    wrk = find_wrk()
    seconds = env_int("OPSGRAPH_BENCH_DURATION", 5, low=1, high=60)
    connections = env_int("OPSGRAPH_BENCH_CONNECTIONS", 16, low=THREADS, high=256)
    with tempfile.TemporaryDirectory(prefix="opsgraph-bench-") as scratch:
        async with (
            fresh_database() as database,
            opsgraph_server(database) as opsgraph,
            plain_server() as baseline,
        ):
            assert opsgraph.admin_key is not None
            graphql_lua, plain_lua = write_scripts(Path(scratch), opsgraph.admin_key)
            graphql = Target("graphql_me", opsgraph, f"{opsgraph.base_url}/graphql", graphql_lua)
            plain = Target("plain_fastapi", baseline, f"{baseline.base_url}/", plain_lua)
            await check_answers(graphql, plain)
            rounds, profiles = await measure(
                wrk, graphql, plain, seconds=seconds, connections=connections
            )
            await check_answers(graphql, plain)
    graphql_summary = summarize(rounds[graphql.name])
    plain_summary = summarize(rounds[plain.name])
    ratio = round(graphql_summary["requests_per_s"] / plain_summary["requests_per_s"], 3)
    report: dict[str, Any] = {
        "benchmark": "http",
        "unit": "requests/s",
        "target": {
            "description": "{ me { role } } with Bearer key auth >= 50 % of a plain FastAPI route",
            "min_ratio": TARGET_RATIO,
            "ratio": ratio,
            "met": ratio >= TARGET_RATIO,
        },
        "results": {
            graphql.name: {"request": f"POST /graphql {QUERY} (Bearer key)"} | graphql_summary,
            plain.name: {"request": 'GET / -> {"ok": true}'} | plain_summary,
        },
        "method": {
            "load_generator": f"wrk -t{THREADS} -c{connections} -d{seconds}s, keep-alive",
            "rounds": f"{ROUNDS} per endpoint, alternating, after {WARMUP_S} s of warm-up each;"
            " figures are medians over rounds",
            "servers": "one uvicorn process each (one worker, uvloop + httptools), loopback",
        },
        "environment": environment_summary(),
    }
    if profiles:
        report["profiles"] = profiles
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run_main(main)
