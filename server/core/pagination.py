"""Keyset pagination, newest first, with opaque cursors."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.core.errors import InvalidInput

T = TypeVar("T")
OrderColumns = Sequence[InstrumentedAttribute[Any]]


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
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


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
    """Rows strictly after the cursor in descending (c1, c2, ...) order."""
    clauses = []
    for position, column in enumerate(columns):
        equal_before = [columns[i] == values[i] for i in range(position)]
        clauses.append(and_(*equal_before, column < values[position]))
    return or_(*clauses)


async def paginate(
    session: AsyncSession, query: Select[T], order: OrderColumns, request: PageRequest
) -> Page[T]:
    keyset = query.order_by(*(column.desc() for column in order))
    if request.after is not None:
        keyset = keyset.where(_after(order, decode_cursor(request.after, order)))
    rows = list((await session.scalars(keyset.limit(request.first + 1))).all())
    items = rows[: request.first]
    return Page(
        items=items,
        cursors=[encode_cursor([getattr(item, column.key) for column in order]) for item in items],
        has_next_page=len(rows) > request.first,
    )


async def count_rows(session: AsyncSession, query: Select[Any]) -> int:
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)
