"""Dumps of the whole database into a file that appears only once complete.

PostgreSQL: ``pg_dump`` in its custom format, its output streamed to a hidden
partial file while hashed; the row counts are read in the very snapshot the dump
is taken in (exported to ``pg_dump --snapshot``), so the manifest describes the
file exactly. SQLite: the online backup API copies the database in one step (a
consistent read; writers go on under WAL), then the copy is counted and hashed.
Either way the file is synced and renamed into place at the end; on any failure
the partial file is removed.
"""

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
from sqlalchemy import make_url, text

from server.backups.catalog import Catalog, Fetch, connection_fetch, read_catalog
from server.backups.files import (
    CHUNK,
    Progress,
    fsync_file,
    partial_path,
    publish,
    remove_quietly,
    sha256_of,
)
from server.backups.pgtools import (
    ToolError,
    find_tool,
    last_lines,
    libpq_environment,
    server_major_version,
    stop_process,
)
from server.core.db import Database

PROGRESS_EVERY_SECONDS = 1.0
#: A custom-format dump is roughly this share of the database's size on disk; only
#: used to estimate progress.
DUMP_SHARE = 0.25


class DumpFailed(Exception):
    """The dump could not be made; the message is the run's reason."""


@dataclass(frozen=True)
class Dump:
    path: Path
    size_bytes: int
    sha256: str
    catalog: Catalog
    tool: str


def database_kind(db: Database) -> str:
    return "postgresql" if db.is_postgresql else "sqlite"


async def dump_database(
    db: Database, *, final: Path, bin_dir: Path | None, progress: Progress
) -> Dump:
    """Dump the database to ``final``; DumpFailed (with no file left) when it cannot.
    A backup directory made here is closed to other users: dumps hold every
    workspace's rows."""
    try:
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise DumpFailed(f"cannot use the backup directory {final.parent}: {error}") from error
    partial = partial_path(final)
    try:
        if db.is_postgresql:
            digest, size, catalog, tool = await _dump_postgresql(db, partial, bin_dir, progress)
        else:
            digest, size, catalog, tool = await _dump_sqlite(db, partial)
        publish(partial, final)
    except OSError as error:
        remove_quietly(partial)
        raise DumpFailed(f"cannot write the dump: {error}") from error
    except BaseException:
        remove_quietly(partial)
        raise
    return Dump(final, size, digest, catalog, tool)


async def _stream_to_file(
    source: asyncio.StreamReader, partial: Path, progress: Progress, expected_bytes: int
) -> tuple[str, int]:
    """Copy the stream to a new file while hashing it; synced before it returns."""
    digest = hashlib.sha256()
    size = 0
    reported = time.monotonic()
    with partial.open("xb") as out:
        while chunk := await source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
            if time.monotonic() - reported >= PROGRESS_EVERY_SECONDS:
                await progress(min(0.9, 0.1 + 0.8 * size / max(expected_bytes, 1)))
                reported = time.monotonic()
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


async def _dump_postgresql(
    db: Database, partial: Path, bin_dir: Path | None, progress: Progress
) -> tuple[str, int, Catalog, str]:
    async with db.engine.connect() as connection:
        server_major = await server_major_version(connection)
        database_bytes = int(
            await connection.scalar(text("SELECT pg_database_size(current_database())")) or 0
        )
    try:
        tool = await find_tool("pg_dump", bin_dir=bin_dir, server_major=server_major)
    except ToolError as error:
        raise DumpFailed(str(error)) from error
    snapshots = db.engine.execution_options(isolation_level="REPEATABLE READ")
    async with snapshots.connect() as connection:
        snapshot = await connection.scalar(text("SELECT pg_export_snapshot()"))
        process = await asyncio.create_subprocess_exec(
            str(tool.path),
            "--format=custom",
            f"--snapshot={snapshot}",
            "--no-password",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=libpq_environment(db.url),
        )
        assert process.stdout is not None
        assert process.stderr is not None
        errors = asyncio.create_task(process.stderr.read())
        counting = asyncio.create_task(read_catalog(connection_fetch(connection), "postgresql"))
        try:
            await progress(0.1)
            expected = int(database_bytes * DUMP_SHARE)
            digest, size = await _stream_to_file(process.stdout, partial, progress, expected)
            returncode = await process.wait()
            catalog = await counting
        finally:
            await stop_process(process, counting)
        stderr = await errors
    if returncode != 0:
        raise DumpFailed(f"pg_dump failed (exit {returncode}): {last_lines(stderr)}")
    return digest, size, catalog, tool.version


def _backup_sqlite(source: Path, partial: Path) -> None:
    """Copy the live database with SQLite's online backup, in one step (one
    consistent read), into a file in rollback-journal mode."""
    with contextlib.closing(sqlite3.connect(source, timeout=30)) as origin:
        if partial.exists():
            raise FileExistsError(f"{partial} exists")
        with contextlib.closing(sqlite3.connect(partial)) as copy:
            origin.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")


async def read_sqlite_catalog(path: Path) -> Catalog:
    async with aiosqlite.connect(f"file:{path}?mode=ro", uri=True) as connection:

        async def fetch(sql: str) -> list[sqlite3.Row]:
            return list(await connection.execute_fetchall(sql))

        reader: Fetch = fetch
        return await read_catalog(reader, "sqlite")


async def _dump_sqlite(db: Database, partial: Path) -> tuple[str, int, Catalog, str]:
    source = make_url(db.url).database
    if not source or source == ":memory:":
        raise DumpFailed("an in-memory SQLite database cannot be backed up")
    try:
        await asyncio.to_thread(_backup_sqlite, Path(source), partial)
    except sqlite3.Error as error:
        raise DumpFailed(f"SQLite online backup failed: {error}") from error
    catalog = await read_sqlite_catalog(partial)
    await asyncio.to_thread(fsync_file, partial)
    digest, size = await asyncio.to_thread(sha256_of, partial)
    return digest, size, catalog, f"sqlite {sqlite3.sqlite_version} online backup"
