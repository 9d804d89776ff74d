"""Ephemeral databases that drills restore into, and their removal.

On PostgreSQL a drill gets a new database on the same server (the server's own
user must be allowed to CREATE DATABASE); on SQLite a file under the backup
directory. Its name is recorded on the drill before it is created, so that a
cleanup can drop what a process that died left behind.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from server.backups.catalog import Fetch, connection_fetch, quote_identifier
from server.core.db import Database

PREFIX = "opsgraph_drill_"
SQLITE_DIRECTORY = ".drills"


def new_scratch_name(drill_id: int) -> str:
    return f"{PREFIX}{drill_id}_{secrets.token_hex(4)}"


def sqlite_scratch_path(backup_dir: Path, name: str) -> Path:
    return backup_dir / SQLITE_DIRECTORY / f"{name}.sqlite3"


def scratch_url(database_url: str, name: str) -> str:
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


async def create_scratch(db: Database, *, backup_dir: Path, name: str) -> None:
    if db.is_postgresql:
        autocommit = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with autocommit.connect() as connection:
            await connection.execute(
                text(f"CREATE DATABASE {quote_identifier(name)} TEMPLATE template0")
            )
    else:
        sqlite_scratch_path(backup_dir, name).parent.mkdir(parents=True, exist_ok=True)


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


async def drop_scratch(db: Database, *, backup_dir: Path, name: str) -> None:
    """Drop the ephemeral database if it exists, ending any session still on it."""
    if db.is_postgresql:
        autocommit = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with autocommit.connect() as connection:
            await connection.execute(
                text(f"DROP DATABASE IF EXISTS {quote_identifier(name)} WITH (FORCE)")
            )
    else:
        await asyncio.to_thread(_remove_sqlite_files, sqlite_scratch_path(backup_dir, name))


async def scratch_exists(db: Database, *, backup_dir: Path, name: str) -> bool:
    if db.is_postgresql:
        async with db.engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
            )
        return bool(found)
    return sqlite_scratch_path(backup_dir, name).exists()


@asynccontextmanager
async def scratch_reader(db: Database, *, backup_dir: Path, name: str) -> AsyncIterator[Fetch]:
    """Queries against the restored database, on a connection closed afterwards."""
    if db.is_postgresql:
        engine = create_async_engine(scratch_url(db.url, name), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                yield connection_fetch(connection)
        finally:
            await engine.dispose()
        return
    path = sqlite_scratch_path(backup_dir, name)
    async with aiosqlite.connect(f"file:{path}?mode=ro", uri=True) as reader:

        async def fetch(sql: str) -> list[aiosqlite.Row]:
            return list(await reader.execute_fetchall(sql))

        yield fetch
