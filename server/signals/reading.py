"""What other domains read of the signals: hourly sums of meters' samples.

Capacity forecasts roll meters up by the hour through this module alone; the
sums are computed in the database, so a bucket costs one row. ``hourly_sums``
covers many meters in one statement: on PostgreSQL each meter's hours come from
one range of ``ix_signals_workspace_service_name_ts``, whose included ``value``
makes the read an index-only scan when the meter has no label matchers.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    String,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy import true as sql_true
from sqlalchemy import values as sql_values

from server.core.matchers import Matcher
from server.signals.models import Signal

__all__ = ["Meter", "hourly_sums"]

HOUR = 3600


@dataclass(frozen=True)
class Meter:
    """One meter's samples: a signal of a service in a workspace; ``key`` is the
    caller's name for it (e.g. a policy id) and comes back with its sums."""

    key: int
    workspace_id: int
    service: str
    name: str


def hourly_sums(
    dialect: str,
    *,
    meters: Sequence[Meter],
    matchers: list[Matcher],
    from_: datetime,
    to: datetime,
) -> Select[int, int, float, int]:
    """A query of ``(key, hour, total, samples)``: for each meter and each hour
    (epoch seconds // 3600) from ``from_`` (inclusive) to ``to`` (exclusive) that
    has samples matching all ``matchers``, their sum and count. Matchers must
    have been validated (``validate_matchers``, ``check_patterns_in_database``)."""
    table = sql_values(
        column("key", BigInteger),
        column("workspace_id", BigInteger),
        column("service", String),
        column("name", String),
        name="meters",
    ).data([(m.key, m.workspace_id, m.service, m.name) for m in meters])
    listed = table.cte("meters")
    labelled = [matcher.to_sql(Signal.labels) for matcher in matchers]
    if dialect == "postgresql":
        return _postgres_hours(listed, labelled, from_, to)
    return _sqlite_hours(listed, labelled, from_, to)


def _postgres_hours(
    listed: Any, labelled: list[Any], from_: datetime, to: datetime
) -> Select[int, int, float, int]:
    # The period is bounded on (name, ts) rows, which is the same as name = the
    # meter's and from_ <= ts < to, but only this index can use it: the hours
    # just ingested lie past the table's statistics, and bounded on ts alone
    # they look empty enough for the planner to scan (workspace_id, ts), i.e.
    # every meter's samples of the period, once per meter.
    bounds = [
        tuple_(Signal.name, Signal.ts) >= tuple_(listed.c.name, literal(from_, Signal.ts.type)),
        tuple_(Signal.name, Signal.ts) < tuple_(listed.c.name, literal(to, Signal.ts.type)),
    ]
    # Grouped on the truncated timestamp (cheap per sample); only the group's
    # hour becomes an epoch number. LATERAL reads the meters one index range
    # at a time rather than hashing every sample of the period.
    hour_at = func.date_trunc(literal_column("'hour'"), Signal.ts, literal_column("'UTC'"))
    per_meter = (
        select(
            hour_at.label("hour_at"),
            func.sum(Signal.value).label("total"),
            func.count().label("samples"),
        )
        .where(
            Signal.workspace_id == listed.c.workspace_id,
            Signal.service == listed.c.service,
            *bounds,
            *labelled,
        )
        .group_by(hour_at)
        .lateral("sums")
    )
    hour = cast(func.extract("epoch", per_meter.c.hour_at) / HOUR, BigInteger)
    return (
        select(listed.c.key, hour, per_meter.c.total, per_meter.c.samples)
        .select_from(listed)
        .join(per_meter, sql_true())
    )


def _sqlite_hours(
    listed: Any, labelled: list[Any], from_: datetime, to: datetime
) -> Select[int, int, float, int]:
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" text; strftime reads the whole seconds.
    seconds = cast(func.strftime("%s", func.substr(Signal.ts, 1, 19)), BigInteger)
    hour = seconds // literal_column(str(HOUR), BigInteger)
    return (
        select(listed.c.key, hour, func.sum(Signal.value), func.count())
        .select_from(listed)
        .join(Signal, sql_true())
        .where(
            Signal.workspace_id == listed.c.workspace_id,
            Signal.service == listed.c.service,
            Signal.name == listed.c.name,
            Signal.ts >= from_,
            Signal.ts < to,
            *labelled,
        )
        .group_by(listed.c.key, hour)
    )
