"""Benchmark: opsgraph's backup and restore drill beside plain pg_dump and pg_restore.

Creates a throw-away PostgreSQL database, migrates it and loads 2 million signal
rows with one INSERT .. SELECT over generate_series. Then, in rounds that
alternate which goes first, it times:

- ``backup``: opsgraph's backup run (``server.backups.runs.run_backup``, what the
  task and the nightly job run: pg_dump streamed through SHA-256 into the backup
  directory, row counts in the dump's snapshot, manifest, fsync and rename)
  beside a plain ``pg_dump -Fc -f <file>`` of the same database;
- ``drill``: opsgraph's restore drill (``server.backups.drills.run_drill``:
  checksum, CREATE DATABASE, pg_restore, revision, tables, row counts, sample
  queries, report, DROP DATABASE) beside a plain CREATE DATABASE and
  ``pg_restore --no-owner -d <new database>`` of the same dump.

The target: each within 1.2x of the plain tool (the median of the rounds' ratios).
Prints one JSON document to stdout; progress goes to stderr.

    .venv/bin/python -m bench.backup

Environment:
  OPSGRAPH_BENCH_DATABASE_URL   admin connection used to create and drop the
                                benchmark database (default
                                postgresql+asyncpg://postgres@127.0.0.1:5432/test)
  OPSGRAPH_BENCH_SIGNALS        signal rows to load (default 2000000)
  OPSGRAPH_BENCH_ROUNDS         rounds of each measurement (default 3)
"""

import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench._harness import (
    BenchDatabase,
    BenchError,
    bench_workspace,
    env_int,
    environment_summary,
    fresh_database,
    in_process_services,
    pg_connect,
    run_main,
)
from server.backups.drills import run_drill
from server.backups.files import no_progress
from server.backups.models import BackupStatus, DrillStatus, Trigger
from server.backups.pgtools import PgTool, find_tool, libpq_environment, server_major_version
from server.backups.runs import BackupPlace, run_backup
from server.backups.scratch import drop_scratch
from server.core.clock import FrozenClock
from server.core.services import Services

TARGET_RATIO = 1.2
LOAD = """
INSERT INTO signals (workspace_id, service, name, value, labels, ts)
SELECT $1::bigint,
       'svc-' || lpad((n % 200)::text, 3, '0'),
       (ARRAY['http_requests_total', 'http_requests_good', 'latency_ms'])[n % 3 + 1],
       ((n * 37) % 1000)::float8 / 10,
       (ARRAY['{"route": "/pay"}', '{"route": "/cart"}', '{"route": "/search"}']::jsonb[])
           [n % 3 + 1],
       $3::timestamptz - (($2::int - n) * interval '1 second')
FROM generate_series(1, $2::int) AS n
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def run_tool(tool: PgTool, arguments: list[str], environment: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        str(tool.path),
        *arguments,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise BenchError(f"{tool.path.name} failed: {stderr.decode(errors='replace')[-500:]}")


async def load(database: BenchDatabase, workspace_id: int, rows: int, end: datetime) -> None:
    connection = await pg_connect(database.url)
    try:
        await connection.execute(LOAD, workspace_id, rows, end)
        await connection.execute("VACUUM ANALYZE signals")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


class Rounds:
    """One benchmark database, its services and the plain tools, measured in rounds."""

    def __init__(self, services: Services, directory: Path, tools: dict[str, PgTool]) -> None:
        self.services = services
        self.place = BackupPlace(directory / "opsgraph", None)
        self.plain_dump = directory / "plain.dump"
        self.tools = tools
        self.environment = libpq_environment(services.db.url)
        self.last_run_id = 0
        self.drills_passed: list[bool] = []
        self.restored = 0

    async def opsgraph_backup(self) -> None:
        services = self.services
        run = await run_backup(
            services.db,
            self.place,
            services.clock,
            trigger=Trigger.MANUAL,
            task_id=None,
            progress=no_progress,
        )
        if run.status != BackupStatus.SUCCEEDED.value:
            raise BenchError(f"backup run {run.id} {run.status}: {run.reason}")
        self.last_run_id = run.id

    async def plain_backup(self) -> None:
        self.plain_dump.unlink(missing_ok=True)
        arguments = ["-Fc", "-f", str(self.plain_dump)]
        await run_tool(self.tools["pg_dump"], arguments, self.environment)

    async def opsgraph_drill(self) -> None:
        services = self.services
        drill = await run_drill(
            services.db,
            self.place,
            services.clock,
            backup_run_id=self.last_run_id,
            trigger=Trigger.MANUAL,
            task_id=None,
            progress=no_progress,
        )
        self.drills_passed.append(drill.status == DrillStatus.PASSED.value)

    async def plain_restore(self) -> None:
        self.restored += 1
        name = f"opsgraph_bench_restore_{self.restored}"
        autocommit = self.services.db.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with autocommit.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        arguments = ["--no-owner", f"--dbname={name}", str(self.plain_dump)]
        await run_tool(self.tools["pg_restore"], arguments, self.environment)

    async def drop_plain_restore(self) -> None:
        name = f"opsgraph_bench_restore_{self.restored}"
        await drop_scratch(self.services.db, backup_dir=self.place.backup_dir, name=name)


async def measure(rounds: Rounds, count: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"backup": [], "pg_dump": [], "drill": [], "pg_restore": []}
    for index in range(count):
        pairs = [("backup", rounds.opsgraph_backup), ("pg_dump", rounds.plain_backup)]
        for name, work in pairs if index % 2 == 0 else pairs[::-1]:
            times[name].append(await timed(work))
        drills = [("drill", rounds.opsgraph_drill), ("pg_restore", rounds.plain_restore)]
        for name, work in drills if index % 2 == 0 else drills[::-1]:
            times[name].append(await timed(work))
            if name == "pg_restore":
                await rounds.drop_plain_restore()
        log(f"round {index + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    return times


def comparison(ours: list[float], plain: list[float]) -> dict[str, Any]:
    """Medians, and the median of each round's ratio: the machine's load drifts
    between rounds, the two runs of a round see about the same."""
    ours_s, plain_s = statistics.median(ours), statistics.median(plain)
    ratio = statistics.median(mine / theirs for mine, theirs in zip(ours, plain, strict=True))
    return {
        "opsgraph_s": round(ours_s, 3),
        "plain_s": round(plain_s, 3),
        "ratio": round(ratio, 3),
        "within_target": ratio <= TARGET_RATIO,
        "opsgraph_rounds_s": [round(value, 3) for value in ours],
        "plain_rounds_s": [round(value, 3) for value in plain],
    }


async def run(database: BenchDatabase, directory: Path) -> dict[str, Any]:
    rows = env_int("OPSGRAPH_BENCH_SIGNALS", 2_000_000, low=1_000, high=100_000_000)
    count = env_int("OPSGRAPH_BENCH_ROUNDS", 3, low=1, high=20)
    now = datetime.now(UTC)
    clock = FrozenClock(now)
    async with in_process_services(database, clock, backup_dir=directory / "opsgraph") as services:
        workspace_id = await bench_workspace(services, now)
        log(f"loading {rows:,} signals ...")
        load_s = await timed(lambda: load(database, workspace_id, rows, now))
        async with services.db.engine.connect() as connection:
            major = await server_major_version(connection)
            database_bytes = await connection.scalar(
                text("SELECT pg_database_size(current_database())")
            )
        tools = {
            name: await find_tool(name, bin_dir=None, server_major=major)
            for name in ("pg_dump", "pg_restore")
        }
        log(f"loaded in {load_s:.1f} s ({database_bytes / 1e6:.0f} MB); measuring ...")
        rounds = Rounds(services, directory, tools)
        times = await measure(rounds, count)
        dump_bytes = rounds.plain_dump.stat().st_size
    return {
        "benchmark": "backup",
        "signals": rows,
        "database_bytes": database_bytes,
        "dump_bytes": dump_bytes,
        "rounds": count,
        "tools": {name: tool.version for name, tool in tools.items()},
        "target_ratio": TARGET_RATIO,
        "backup_vs_pg_dump": comparison(times["backup"], times["pg_dump"]),
        "drill_vs_pg_restore": comparison(times["drill"], times["pg_restore"]),
        "every_drill_passed": all(rounds.drills_passed),
        "environment": environment_summary(),
    }


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="opsgraph-bench-backup-") as directory:
        async with fresh_database() as database:
            report = await run(database, Path(directory))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run_main(main)
