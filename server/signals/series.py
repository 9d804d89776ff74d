"""Time-bucketed aggregates of one signal, computed in the database.

Buckets start at ``floor(from)`` and are ``step`` seconds wide. Percentiles use
linear interpolation between closest ranks (PostgreSQL's ``percentile_cont``);
SQLite, which lacks it, gets the same formula from window functions.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer, Select, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import require_offset
from server.core.errors import InvalidInput
from server.core.matchers import Matcher, check_patterns_in_database, validate_matchers
from server.signals.models import Signal

MAX_POINTS = 11_000


class Aggregate(StrEnum):
    AVG = "avg"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    COUNT = "count"
    P50 = "p50"
    P95 = "p95"
    P99 = "p99"


PERCENTILES = {Aggregate.P50: 0.5, Aggregate.P95: 0.95, Aggregate.P99: 0.99}
SIMPLE: dict[Aggregate, Callable[..., Any]] = {
    Aggregate.AVG: func.avg,
    Aggregate.SUM: func.sum,
    Aggregate.MIN: func.min,
    Aggregate.MAX: func.max,
}


@dataclass(frozen=True)
class SeriesRequest:
    service: str
    name: str
    from_: datetime
    to: datetime
    step: int
    aggregate: Aggregate
    matchers: list[Matcher] = field(default_factory=list)

    @property
    def origin(self) -> int:
        """``from`` in whole epoch seconds, rounded down: the start of bucket 0."""
        return int(self.from_.timestamp() // 1)

    def bucket_start(self, index: int) -> datetime:
        return datetime.fromtimestamp(self.origin, UTC) + timedelta(seconds=index * self.step)


@dataclass(frozen=True)
class SeriesPoint:
    ts: datetime
    value: float
    count: int


def validate_series_request(request: SeriesRequest) -> None:
    require_offset(request.from_, field="from")
    require_offset(request.to, field="to")
    if request.step < 1:
        raise InvalidInput("step must be at least 1 second", field="step")
    if request.to <= request.from_:
        raise InvalidInput("to must be after from", field="to")
    points = (request.to - request.from_).total_seconds() / request.step
    if points > MAX_POINTS:
        raise InvalidInput(
            f"the range holds {points:.0f} steps; at most {MAX_POINTS} are allowed", field="step"
        )
    validate_matchers(request.matchers, field="labels")


def _bucket_expression(dialect: str, request: SeriesRequest) -> Any:
    # The origin is bound as a 64-bit integer: epoch seconds outgrow INTEGER in 2038.
    origin = literal(request.origin, BigInteger)
    if dialect == "postgresql":
        seconds = func.extract("epoch", Signal.ts) - origin
        return cast(func.floor(seconds / request.step), BigInteger)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" text. strftime rounds fractions to
    # the millisecond (11:02:06.9999 would count as 11:02:07), so it reads only the
    # whole seconds. "//" renders integer division (SQLAlchemy 2's "/" is true
    # division); that floors, as seconds >= 0 for every sample at or after from.
    whole_seconds = func.strftime("%s", func.substr(Signal.ts, 1, 19))
    seconds = cast(whole_seconds, BigInteger) - origin
    return seconds // literal(request.step, BigInteger)


def _samples(dialect: str, workspace_id: int, request: SeriesRequest) -> Select[Any]:
    bucket = _bucket_expression(dialect, request).label("bucket")
    query = select(bucket, Signal.value.label("value")).where(
        Signal.workspace_id == workspace_id,
        Signal.service == request.service,
        Signal.name == request.name,
        Signal.ts >= request.from_,
        Signal.ts < request.to,
    )
    for matcher in request.matchers:
        query = query.where(matcher.to_sql(Signal.labels))
    return query


def _plain_aggregate(samples: Any, aggregate: Aggregate) -> Select[Any]:
    value = func.count() if aggregate is Aggregate.COUNT else SIMPLE[aggregate](samples.c.value)
    return select(samples.c.bucket, value, func.count()).group_by(samples.c.bucket)


def _postgres_percentile(samples: Any, fraction: float) -> Select[Any]:
    value = func.percentile_cont(fraction).within_group(samples.c.value)
    return select(samples.c.bucket, value, func.count()).group_by(samples.c.bucket)


def _sqlite_percentile(samples: Any, fraction: float) -> Select[Any]:
    ranked = select(
        samples.c.bucket,
        samples.c.value,
        (func.row_number().over(partition_by=samples.c.bucket, order_by=samples.c.value) - 1).label(
            "rank"
        ),
        func.count().over(partition_by=samples.c.bucket).label("n"),
    ).subquery()
    position = fraction * (ranked.c.n - 1)
    lower = cast(position, Integer)
    upper = lower + case((position > lower, 1), else_=0)
    low_value = func.max(case((ranked.c.rank == lower, ranked.c.value)))
    high_value = func.max(case((ranked.c.rank == upper, ranked.c.value)))
    weight = func.max(position - lower)
    value = low_value + (high_value - low_value) * weight
    return select(ranked.c.bucket, value, func.max(ranked.c.n)).group_by(ranked.c.bucket)


async def compute_series(
    session: AsyncSession, *, workspace_id: int, request: SeriesRequest
) -> list[SeriesPoint]:
    validate_series_request(request)
    await check_patterns_in_database(session, request.matchers, field="labels")
    dialect = (await session.connection()).dialect.name
    samples = _samples(dialect, workspace_id, request).subquery()
    if request.aggregate in PERCENTILES:
        fraction = PERCENTILES[request.aggregate]
        if dialect == "postgresql":
            query = _postgres_percentile(samples, fraction)
        else:
            query = _sqlite_percentile(samples, fraction)
    else:
        query = _plain_aggregate(samples, request.aggregate)
    rows = await session.execute(query.order_by(query.selected_columns[0]))
    return [
        SeriesPoint(
            ts=request.bucket_start(int(bucket)),
            value=float(value),
            count=int(count),
        )
        for bucket, value, count in rows.all()
    ]
