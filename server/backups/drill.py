"""One restore drill: verify the dump, restore it into the ephemeral database and
check what came back against the manifest.

The caller creates and drops the ephemeral database (its name is on the drill
row first); this module fills it and judges it. Every step that can take long
reports progress, which is also where a cancellation is noticed.
"""

import asyncio
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from server.backups import verdicts
from server.backups.catalog import Fetch, alembic_revision, count_rows, list_tables, sample_rows
from server.backups.files import Progress, sha256_of
from server.backups.pgtools import (
    ToolError,
    find_tool,
    last_lines,
    libpq_environment,
    server_major_version,
    stop_process,
)
from server.backups.scratch import scratch_reader, sqlite_scratch_path
from server.backups.verdicts import DrillCheck
from server.core.db import Database

WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class DumpFacts:
    """What the backup run recorded of its dump."""

    path: Path
    sha256: str
    size_bytes: int
    alembic_revision: str | None
    row_counts: dict[str, int]


async def run_checks(
    db: Database,
    dump: DumpFacts,
    *,
    scratch: str,
    backup_dir: Path,
    bin_dir: Path | None,
    progress: Progress,
) -> list[DrillCheck]:
    """The drill's checks in order; it stops at the first of checksum and restore
    that fails, as nothing after them would mean anything."""
    await progress(0.1)
    actual_sha256, actual_size = await _hash(dump.path)
    checks = [
        verdicts.checksum(
            expected_sha256=dump.sha256,
            expected_size=dump.size_bytes,
            actual_sha256=actual_sha256,
            actual_size=actual_size,
        )
    ]
    if not checks[-1].passed:
        return checks
    await progress(0.3)
    checks.append(await _restore(db, dump.path, scratch, backup_dir, bin_dir, progress))
    if not checks[-1].passed:
        return checks
    await progress(0.7)
    async with scratch_reader(db, backup_dir=backup_dir, name=scratch) as fetch:
        checks.extend(await _compare(fetch, dump, "postgresql" if db.is_postgresql else "sqlite"))
    await progress(0.95)
    return checks


async def _hash(path: Path) -> tuple[str, int]:
    try:
        return await asyncio.to_thread(sha256_of, path)
    except OSError as error:
        return f"unreadable ({error.strerror or error})", -1


async def _compare(fetch: Fetch, dump: DumpFacts, kind: str) -> list[DrillCheck]:
    tables = await list_tables(fetch, kind)
    present = [table for table in dump.row_counts if table in tables]
    counts = await count_rows(fetch, present)
    sampled = {
        table: await sample_rows(fetch, table, verdicts.SAMPLE_ROWS)
        for table in verdicts.KEY_TABLES
        if table in dump.row_counts and table in tables
    }
    return [
        verdicts.alembic_revision(
            expected=dump.alembic_revision, actual=await alembic_revision(fetch, tables)
        ),
        verdicts.expected_tables(expected=list(dump.row_counts), actual=tables),
        verdicts.row_counts(expected=dump.row_counts, actual=counts),
        verdicts.sample_queries(expected=dump.row_counts, returned=sampled),
    ]


async def _restore(
    db: Database,
    path: Path,
    scratch: str,
    backup_dir: Path,
    bin_dir: Path | None,
    progress: Progress,
) -> DrillCheck:
    if db.is_postgresql:
        return await _pg_restore(db, path, scratch, bin_dir, progress)
    return await _sqlite_restore(path, sqlite_scratch_path(backup_dir, scratch))


async def _pg_restore(
    db: Database, path: Path, scratch: str, bin_dir: Path | None, progress: Progress
) -> DrillCheck:
    async with db.engine.connect() as connection:
        server_major = await server_major_version(connection)
    try:
        tool = await find_tool("pg_restore", bin_dir=bin_dir, server_major=server_major)
    except ToolError as error:
        return DrillCheck("restore", False, str(error))
    process = await asyncio.create_subprocess_exec(
        str(tool.path),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--no-password",
        f"--dbname={scratch}",
        str(path),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=libpq_environment(db.url, database=scratch),
    )
    assert process.stderr is not None
    errors = asyncio.create_task(process.stderr.read())
    try:
        while True:
            try:
                async with asyncio.timeout(WAIT_SECONDS):
                    await asyncio.shield(process.wait())
                break
            except TimeoutError:
                await progress(0.5)
    finally:
        await stop_process(process)
    stderr = await errors
    if process.returncode != 0:
        detail = f"pg_restore failed (exit {process.returncode}): {last_lines(stderr)}"
        return DrillCheck("restore", False, detail)
    return DrillCheck("restore", True, f"pg_restore into {scratch} ({tool.version})")


def _copy_and_check_sqlite(path: Path, target: Path) -> str:
    shutil.copyfile(path, target)
    with closing(sqlite3.connect(target)) as connection:
        return str(connection.execute("PRAGMA quick_check").fetchone()[0])


async def _sqlite_restore(path: Path, target: Path) -> DrillCheck:
    try:
        verdict = await asyncio.to_thread(_copy_and_check_sqlite, path, target)
    except Exception as error:
        return DrillCheck("restore", False, f"cannot open the copy: {error}")
    if verdict != "ok":
        return DrillCheck("restore", False, f"quick_check: {verdict}")
    return DrillCheck("restore", True, f"copied to {target.name}; quick_check ok")
