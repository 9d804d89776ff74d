"""Keyset pagination, newest first, with opaque cursors."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import ColumnElement, Row, Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.core.errors import InvalidInput

T = TypeVar("T")
#: A mapped column of a model (``Signal.ts``), as listings and pages name them.
Column = InstrumentedAttribute[Any]
OrderColumns = Sequence[Column]


@dataclass(frozen=True)
class Listing(Generic[T]):
    """A domain's list: its query and the columns it is ordered by (newest first).

    Domain services build listings; the schema pages and counts them through
    ``paginate`` and ``count_rows``, so that no query is written outside a domain.
    """

    query: Select[T]
    order: OrderColumns


@dataclass(frozen=True)
class PageRequest:
    first: int
    after: str | None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


def page_request(
    first: int | None, after: str | None, *, default_size: int, max_size: int
) -> PageRequest:
    size = default_size if first is None else first
    if size < 0 or size > max_size:
        raise InvalidInput(f"first must be between 0 and {max_size}", field="first")
    return PageRequest(first=size, after=after)


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    return base64.urlsafe_b64encode(orjson.dumps(plain)).decode().rstrip("=")


def decode_cursor(cursor: str, columns: OrderColumns) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("cursor shape")
        return [_typed(value, column) for value, column in zip(values, columns, strict=True)]
    except (ValueError, TypeError, binascii.Error) as error:
        raise InvalidInput("invalid cursor", field="after") from error


MAX_ID = 2**63 - 1


def _typed(value: Any, column: InstrumentedAttribute[Any]) -> Any:
    """A cursor value checked against its column: clients can send anything."""
    if column.type.python_type is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("cursor timestamp without offset")
        return moment
    if column.type.python_type is int and (type(value) is not int or not 0 <= value <= MAX_ID):
        raise ValueError("cursor value")
    return value


def _after(columns: OrderColumns, values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the cursor in descending (c1, c2, ...) order: a row
    comparison, which an index on the order columns reads as one range."""
    typed = [literal(value, column.type) for value, column in zip(values, columns, strict=True)]
    return tuple_(*columns) < tuple_(*typed)


def _keyset(query: Select[Any], order: OrderColumns, request: PageRequest) -> Select[Any]:
    keyset = query.order_by(*(column.desc() for column in order))
    if request.after is not None:
        keyset = keyset.where(_after(order, decode_cursor(request.after, order)))
    return keyset.limit(request.first + 1)


async def paginate(
    session: AsyncSession, query: Select[T], order: OrderColumns, request: PageRequest
) -> Page[T]:
    rows = list((await session.scalars(_keyset(query, order, request))).all())
    items = rows[: request.first]
    return Page(
        items=items,
        cursors=[encode_cursor([getattr(item, column.key) for column in order]) for item in items],
        has_next_page=len(rows) > request.first,
    )


def position_of(column: Column, columns: Sequence[Column]) -> int:
    """Where ``column`` is in ``columns``, by identity (``==`` on a column builds an
    SQL expression); ValueError if it is not there."""
    for position, candidate in enumerate(columns):
        if candidate is column:
            return position
    raise ValueError(f"{column} is not among the columns")


@dataclass(frozen=True)
class RowPage:
    """A page as rows of some columns; cursors are encoded only when asked for."""

    rows: list[Row[Any]]
    has_next_page: bool
    #: Positions of the order columns in a row.
    order_positions: list[int]

    def cursor_of(self, row: Row[Any]) -> str:
        return encode_cursor([row[position] for position in self.order_positions])

    @property
    def end_cursor(self) -> str | None:
        return self.cursor_of(self.rows[-1]) if self.rows else None


async def paginate_columns(
    session: AsyncSession,
    query: Select[Any],
    order: OrderColumns,
    request: PageRequest,
    columns: Sequence[Column],
) -> RowPage:
    """The same page as ``paginate``, as rows of ``columns`` alone (in that order)
    rather than whole entities: no object is built and no other column is read or
    decoded. ``columns`` must include the order columns."""
    only = query.with_only_columns(*columns, maintain_column_froms=True)
    rows = list((await session.execute(_keyset(only, order, request))).all())
    return RowPage(
        rows=rows[: request.first],
        has_next_page=len(rows) > request.first,
        order_positions=[position_of(column, columns) for column in order],
    )


async def count_rows(session: AsyncSession, query: Select[Any]) -> int:
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)
