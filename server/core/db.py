"""Database plumbing: the declarative base, column types, engine and transactions."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, event, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from server.core.errors import NotFound
from server.core.request_context import current_request_id

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: 64-bit keys on PostgreSQL; SQLite only auto-increments ``INTEGER PRIMARY KEY``.
BigId = BigInteger().with_variant(Integer(), "sqlite")
#: JSON documents, stored as JSONB on PostgreSQL.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; opsgraph stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:  # asyncpg reads timestamptz as UTC
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's own lower() folds ASCII only; case-insensitive search must
        # treat "Ü" and "ü" alike, as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _tag_statements_with_request_id(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def _comment(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> tuple[str, Any]:
        request_id = current_request_id()
        if request_id is None:
            return statement, parameters
        return f"/* request_id={request_id} */ {statement}", parameters


def _json_loads(document: str | bytes) -> Any:
    """Read a stored JSON document: orjson, several times faster than ``json``;
    ``json`` for what orjson refuses (integers beyond 64 bits, ``NaN``)."""
    try:
        return orjson.loads(document)
    except orjson.JSONDecodeError:
        return json.loads(document)


def create_engine(url: str, *, pool_size: int = 20, request_comments: bool = True) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, json_deserializer=_json_loads)
        _configure_sqlite(engine)
    else:
        # No pre-ping: it cost every checkout three round trips (BEGIN, a query,
        # ROLLBACK). A connection found dead when used fails that one statement,
        # and SQLAlchemy then discards every connection pooled before it.
        # No overflow: connections past the pool's size were opened for one
        # checkout and closed at its end, a new PostgreSQL backend per request
        # under load; past ``pool_size`` at once, a checkout waits for one.
        engine = create_async_engine(
            url, pool_size=pool_size, max_overflow=0, json_deserializer=_json_loads
        )
    if request_comments:
        _tag_statements_with_request_id(engine)
    return engine


class Database:
    """Engine, session factory and the one place where transactions commit."""

    def __init__(self, url: str, *, pool_size: int = 20, request_comments: bool = True) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size, request_comments=request_comments)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # Reads run each statement on its own (READ COMMITTED gives each its own
        # snapshot anyway): no BEGIN and ROLLBACK round trips around them.
        reads = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.engine.dialect.name == "postgresql"
            else self.engine
        )
        self.read_sessions = async_sessionmaker(reads, expire_on_commit=False, autoflush=False)
        # SQLite allows one writer at a time; serialising writes in-process avoids
        # "database is locked" under concurrent mutations.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: commits when the block succeeds, rolls back otherwise."""
        async with (
            self._write_lock or nullcontext(),
            self.sessions() as session,
            session.begin(),
        ):
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        async with self.read_sessions() as session:
            yield session

    async def ping(self) -> bool:
        # Twice: a connection pooled before an outage fails once, and that failure
        # makes the pool discard every connection as old as it.
        for _attempt in range(2):
            try:
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            except Exception:
                continue
            return True
        return False

    async def dispose(self) -> None:
        await self.engine.dispose()


async def copy_rows(
    session: AsyncSession, table: str, columns: Sequence[str], records: Iterable[tuple[Any, ...]]
) -> None:
    """Append rows with PostgreSQL's COPY, inside the session's transaction.

    ``records`` is consumed as the rows are sent, so it may be a generator.

    SQLAlchemy's asyncpg adapter opens the database transaction lazily, on the
    first statement it runs; COPY on the raw connection would run before it,
    in autocommit, and survive a rollback. A first statement through
    SQLAlchemy opens it. JSON columns take their documents as JSON text.
    """
    connection = await session.connection()
    driver: Any = (await connection.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():
        await session.execute(text("SELECT 1"))
    await driver.copy_records_to_table(table, records=records, columns=columns)


RowT = TypeVar("RowT", bound="Base")


async def find_in_workspace(
    session: AsyncSession,
    model: type[RowT],
    row_id: int,
    *,
    workspace_id: int,
    for_update: bool = False,
) -> RowT | None:
    """The row of ``model`` (with ``id`` and ``workspace_id`` columns) with this id in
    the workspace, else None: a row of another workspace is not found either."""
    columns = model.__table__.c
    query = select(model).where(columns.id == row_id, columns.workspace_id == workspace_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def get_in_workspace(
    session: AsyncSession,
    model: type[RowT],
    row_id: int,
    *,
    workspace_id: int,
    what: str,
    for_update: bool = False,
) -> RowT:
    """As ``find_in_workspace``, but NOT_FOUND when there is no such row."""
    row = await find_in_workspace(
        session, model, row_id, workspace_id=workspace_id, for_update=for_update
    )
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row
