"""Keeping a policy's hourly roll-ups in step with its samples.

- New hours: once an hour has settled, it is rolled up from the raw samples
  (on the first evaluation, every hour of the window at once), and
  ``rolled_up_to_hour`` remembers how far the roll-ups reach.
- Late samples: when the samples of some rolled hours no longer add up to what
  their roll-ups counted, those hours are rolled up again.

Both are one DELETE and one INSERT .. SELECT grouped by hour, from statements
built once per SLI structure and dialect (see ``samples``).
"""

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import Subquery

from server.core.db import UTCDateTime
from server.signals.models import Signal
from server.slo.models import SloPolicy, SloRollup
from server.slo.samples import good_and_total, signal_name, sli_parameters, sli_structure
from server.slo.sli import Sli
from server.slo.statements import StatementCache
from server.slo.windows import hour_start


def _hour_of(dialect: str, ts: Any) -> ColumnElement[int]:
    # Literal 3600 rather than a bound parameter: the expression is grouped by.
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", ts) / literal_column("3600")), BigInteger)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff": whole seconds, then integer division.
    seconds = cast(func.strftime("%s", func.substr(ts, 1, 19)), BigInteger)
    return seconds // literal_column("3600")


def _samples_in(sli: Sli, dialect: str) -> Subquery:
    """The samples of the policy's signal names from ``first_ts`` to before ``last_ts``."""
    parts = [
        select(
            _hour_of(dialect, Signal.ts).label("hour"), Signal.name, Signal.value, Signal.labels
        ).where(
            Signal.workspace_id == bindparam("workspace_id", type_=BigInteger()),
            Signal.service == bindparam("service", type_=String()),
            Signal.name == signal_name(index),
            Signal.ts >= bindparam("first_ts", type_=UTCDateTime()),
            Signal.ts < bindparam("last_ts", type_=UTCDateTime()),
        )
        for index in range(len(sli.signal_names))
    ]
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("samples")


def _roll_up_statement(sli: Sli, dialect: str) -> Any:
    samples = _samples_in(sli, dialect)
    good, total = good_and_total(sli, samples)
    per_hour = select(
        bindparam("policy_id", type_=BigInteger()),
        samples.c.hour,
        cast(func.sum(good), Float),
        cast(func.sum(total), Float),
        func.count(),
    ).group_by(samples.c.hour)
    return insert(SloRollup).from_select(
        ["policy_id", "hour", "good", "total", "samples"], per_hour
    )


_STATEMENTS = StatementCache(256)


def _cached_roll_up_statement(sli: Sli, dialect: str) -> Any:
    key = (sli_structure(sli), dialect)
    return _STATEMENTS.get(key, lambda: _roll_up_statement(sli, dialect))


def _parameters(policy: SloPolicy, sli: Sli, hours: tuple[int, int]) -> dict[str, Any]:
    return {
        **sli_parameters(sli),
        "policy_id": policy.id,
        "workspace_id": policy.workspace_id,
        "service": policy.service,
        "first_ts": hour_start(hours[0]),
        "last_ts": hour_start(hours[1]),
    }


async def roll_up(
    session: AsyncSession, policy: SloPolicy, sli: Sli, hours: tuple[int, int]
) -> None:
    """(Re)compute the roll-ups of the hours ``[first, last)``."""
    first, last = hours
    await session.execute(
        delete(SloRollup).where(
            SloRollup.policy_id == policy.id, SloRollup.hour >= first, SloRollup.hour < last
        )
    )
    dialect = (await session.connection()).dialect.name
    statement = _cached_roll_up_statement(sli, dialect)
    # Execute through the Core connection: the ORM would read a parameter dict
    # given with an INSERT as rows to insert.
    connection = await session.connection()
    await connection.execute(statement, _parameters(policy, sli, hours))


async def _stale_hours(
    session: AsyncSession, policy: SloPolicy, sli: Sli, hours: tuple[int, int]
) -> tuple[int, int] | None:
    """The span of hours whose roll-up no longer matches the samples stored."""
    dialect = (await session.connection()).dialect.name
    samples = _samples_in(sli, dialect)
    counted = await session.execute(
        select(samples.c.hour, func.count()).group_by(samples.c.hour),
        _parameters(policy, sli, hours),
    )
    now_stored = {int(hour): int(count) for hour, count in counted.all()}
    rolled = await session.execute(
        select(SloRollup.hour, SloRollup.samples).where(
            SloRollup.policy_id == policy.id,
            SloRollup.hour >= hours[0],
            SloRollup.hour < hours[1],
        )
    )
    rolled_up = {int(hour): int(count) for hour, count in rolled.all()}
    stale = [
        h for h in now_stored.keys() | rolled_up.keys() if now_stored.get(h) != rolled_up.get(h)
    ]
    return (min(stale), max(stale) + 1) if stale else None


async def roll_up_again(
    session: AsyncSession, policy: SloPolicy, sli: Sli, hours: tuple[int, int]
) -> None:
    """Roll up again those of ``hours`` whose samples changed since they were."""
    stale = await _stale_hours(session, policy, sli, hours)
    if stale is not None:
        await roll_up(session, policy, sli, stale)


async def roll_up_new_hours(
    session: AsyncSession, policy: SloPolicy, sli: Sli, hours: tuple[int, int]
) -> None:
    """Roll up the hours of ``hours`` (those a measurement reads) not rolled up yet."""
    first, last = hours
    reached = policy.rolled_up_to_hour
    if reached is not None and reached >= last:
        return
    start = first if reached is None else max(first, reached)
    if start < last:
        await roll_up(session, policy, sli, (start, last))
    policy.rolled_up_to_hour = last if reached is None else max(reached, last)
