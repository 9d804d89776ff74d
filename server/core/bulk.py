"""Inserting many rows of one table with one statement, on either backend.

On PostgreSQL the rows travel as one array per column through ``unnest``: the
statement text, and so its prepared plan, is the same however many rows there
are, and a batch is one round trip. JSON documents travel as text and are cast
back in the statement. SQLite takes the rows as one executemany.
"""

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import JSON, Table, TextClause, insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import Base

_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@cache
def _json_columns(table: Table) -> frozenset[str]:
    return frozenset(
        column.name
        for column in table.columns
        if isinstance(column.type.dialect_impl(_POSTGRESQL), JSON)
    )


@cache
def _unnest_insert(
    table: Table, columns: tuple[str, ...], returning: tuple[str, ...]
) -> TextClause:
    """``INSERT INTO table (columns) SELECT .. FROM unnest(one array per column)``,
    the rows inserted in the order of the arrays."""
    arrays, values = [], []
    for column in columns:
        if column in _json_columns(table):
            arrays.append(f"CAST(:{column} AS text[])")
            values.append(f"CAST(r.{column} AS jsonb)")
        else:
            kind = table.c[column].type.compile(dialect=_POSTGRESQL)
            arrays.append(f"CAST(:{column} AS {kind}[])")
            values.append(f"r.{column}")
    names = ", ".join(columns)
    statement = (
        f"INSERT INTO {table.name} ({names}) SELECT {', '.join(values)}"
        f" FROM unnest({', '.join(arrays)}) WITH ORDINALITY AS r({names}, n) ORDER BY r.n"
    )
    if returning:
        statement += f" RETURNING {', '.join(returning)}"
    return text(statement)


async def insert_rows(
    session: AsyncSession,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    *,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (column values, the same columns in every row); the
    ``returning`` columns of the inserted rows, in no particular order."""
    if not rows:
        return []
    table = _table(model)
    if (await session.connection()).dialect.name != "postgresql":
        statement = insert(table)
        if not returning:
            await session.execute(statement, list(rows))
            return []
        found = await session.execute(
            statement.returning(*(table.c[name] for name in returning)), list(rows)
        )
        return [tuple(row) for row in found.all()]
    columns = tuple(rows[0])
    as_json = _json_columns(table)
    arrays = {
        column: [json.dumps(row[column]) for row in rows]
        if column in as_json
        else [row[column] for row in rows]
        for column in columns
    }
    found = await session.execute(_unnest_insert(table, columns, tuple(returning)), arrays)
    return [tuple(row) for row in found.all()] if returning else []
