"""Keyset pagination, newest first, with opaque cursors.

A page's statement is the listing's query with its order, the cursor's
condition and its limit added, the values bound as parameters. It is built
once per query object, cursor or not, and columns asked for, and then kept
as long as the query is: SQLAlchemy finds a kept statement's compiled form at
once, where a new one costs more to build and key than to run. Domains keep
the queries of their common filters (one per shape, with ``bindparam`` for
the values, which their listings carry), so those pages are not built again.
"""

import base64
import binascii
import json
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

import orjson
from sqlalchemy import ColumnElement, Integer, Row, Select, bindparam, func, select, tuple_
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
    #: Values of the query's ``bindparam``s, by name.
    params: Mapping[str, Any] = field(default_factory=dict)


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


#: Names of the page's own parameters (a listing's must differ).
LIMIT = "page_limit"
AFTER = "page_after_{}"

#: Page statements by query, then by (columns, with a cursor); an entry goes
#: with its query.
_pages: "weakref.WeakKeyDictionary[Select[Any], dict[tuple[Any, ...], Select[Any]]]" = (
    weakref.WeakKeyDictionary()
)


def _after(columns: OrderColumns) -> ColumnElement[bool]:
    """Rows strictly after the cursor in descending (c1, c2, ...) order: a row
    comparison, which an index on the order columns reads as one range."""
    values = [bindparam(AFTER.format(i), type_=column.type) for i, column in enumerate(columns)]
    return tuple_(*columns) < tuple_(*values)


def _page_statement(
    listing: Listing[Any], columns: Sequence[Column] | None, with_cursor: bool
) -> Select[Any]:
    kept = _pages.setdefault(listing.query, {})
    key = (tuple(columns) if columns is not None else None, with_cursor)
    statement = kept.get(key)
    if statement is None:
        statement = kept[key] = _build_page_statement(listing, columns, with_cursor)
    return statement


def _build_page_statement(
    listing: Listing[Any], columns: Sequence[Column] | None, with_cursor: bool
) -> Select[Any]:
    statement: Select[Any] = listing.query
    if columns is not None:
        statement = cast(
            Select[Any], statement.with_only_columns(*columns, maintain_column_froms=True)
        )
    statement = statement.order_by(*(column.desc() for column in listing.order))
    if with_cursor:
        statement = statement.where(_after(listing.order))
    return statement.limit(bindparam(LIMIT, type_=Integer))


def _keyset(
    listing: Listing[Any], request: PageRequest, columns: Sequence[Column] | None = None
) -> tuple[Select[Any], dict[str, Any]]:
    """The page's statement and the values of its parameters."""
    params = {**listing.params, LIMIT: request.first + 1}
    if request.after is not None:
        values = decode_cursor(request.after, listing.order)
        params.update((AFTER.format(i), value) for i, value in enumerate(values))
    return _page_statement(listing, columns, request.after is not None), params


async def paginate(session: AsyncSession, listing: Listing[T], request: PageRequest) -> Page[T]:
    statement, params = _keyset(listing, request)
    rows = list((await session.scalars(statement, params)).all())
    items = rows[: request.first]
    order = listing.order
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
    session: AsyncSession, listing: Listing[Any], request: PageRequest, columns: Sequence[Column]
) -> RowPage:
    """The same page as ``paginate``, as rows of ``columns`` alone (in that order)
    rather than whole entities: no object is built and no other column is read or
    decoded, and the rows are read without the ORM. ``columns`` must include the
    order columns."""
    statement, params = _keyset(listing, request, columns)
    connection = await session.connection()
    rows = list((await connection.execute(statement, params)).all())
    return RowPage(
        rows=rows[: request.first],
        has_next_page=len(rows) > request.first,
        order_positions=[position_of(column, columns) for column in listing.order],
    )


async def count_rows(session: AsyncSession, listing: Listing[Any]) -> int:
    counted = select(func.count()).select_from(listing.query.order_by(None).subquery())
    return int(await session.scalar(counted, listing.params) or 0)
