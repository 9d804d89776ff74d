"""What a database holds, read the same way from the source and from a restored copy:
its tables, each table's row count and its Alembic revision."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

#: Runs one SQL statement and returns its rows.
Fetch = Callable[[str], Awaitable[Sequence[Sequence[Any]]]]

_TABLES = {
    "postgresql": "SELECT tablename FROM pg_catalog.pg_tables"
    " WHERE schemaname = current_schema() ORDER BY tablename",
    "sqlite": "SELECT name FROM sqlite_master"
    " WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
}
#: Tables counted per statement.
_COUNT_BATCH = 100


@dataclass(frozen=True)
class Catalog:
    alembic_revision: str | None
    row_counts: dict[str, int]


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connection_fetch(connection: AsyncConnection) -> Fetch:
    async def fetch(sql: str) -> Sequence[Sequence[Any]]:
        return (await connection.exec_driver_sql(sql)).all()

    return fetch


async def list_tables(fetch: Fetch, kind: str) -> list[str]:
    return [str(row[0]) for row in await fetch(_TABLES[kind])]


async def count_rows(fetch: Fetch, tables: Sequence[str]) -> dict[str, int]:
    """Exact row counts, a batch of tables per statement (one snapshot per batch)."""
    counts: dict[str, int] = {}
    for first in range(0, len(tables), _COUNT_BATCH):
        batch = tables[first : first + _COUNT_BATCH]
        sql = " UNION ALL ".join(
            f"SELECT {_quote_literal(table)}, count(*) FROM {quote_identifier(table)}"
            for table in batch
        )
        counts.update({str(name): int(count) for name, count in await fetch(sql)})
    return counts


async def alembic_revision(fetch: Fetch, tables: Sequence[str]) -> str | None:
    if "alembic_version" not in tables:
        return None
    rows = await fetch("SELECT version_num FROM alembic_version")
    return str(rows[0][0]) if rows else None


async def read_catalog(fetch: Fetch, kind: str) -> Catalog:
    tables = await list_tables(fetch, kind)
    return Catalog(await alembic_revision(fetch, tables), await count_rows(fetch, tables))


async def sample_rows(fetch: Fetch, table: str, limit: int) -> int:
    """How many rows a plain read of the table's first ``limit`` rows returns."""
    return len(await fetch(f"SELECT * FROM {quote_identifier(table)} LIMIT {int(limit)}"))
