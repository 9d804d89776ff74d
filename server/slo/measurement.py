"""Measuring a policy's windows: run the built statements, keeping the roll-ups
they read in step with the samples.

Why roll-ups, not an index: a sweep evaluates every policy each minute over
windows of up to 90 days. Summing the raw samples would read each policy's
whole window every time, and worse once a series' samples lie spread over the
table by time, as ingestion stores them. No index on ``signals`` removes that
work, since the label matchers and the threshold are the policy's own. So each
policy keeps hourly roll-ups of its good and total events (``slo_rollups``, 672
rows for 28 days): an evaluation reads whole hours from them, and only the
partial hours at the windows' edges and the last hour raw, through the existing
``ix_signals_workspace_service_name_ts``. ``bench/slo.py`` measures the sweep.

- New hours: once an hour has settled, it is rolled up from the raw samples
  (on the first evaluation, every hour of the window at once), and
  ``rolled_up_to_hour`` remembers how far the roll-ups reach.
- Late samples: a sample may arrive with a ts in an hour already rolled up.
  Each roll-up row keeps how many samples of the policy's signal names its hour
  held; the measuring statement compares their sum over the plan's checked
  hours with a count of the signals table over the same hours (an index-only
  scan, no labels read), and the hours that differ are rolled up again before
  the windows are read once more. Signals are only ever added, so a changed
  hour always shows in the count.

Rolling hours up is one DELETE and one INSERT .. SELECT grouped by hour.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.slo.budget import Counts
from server.slo.models import SloPolicy, SloRollup
from server.slo.statements import Statements
from server.slo.windows import MeasurementPlan, hour_start

Hours = tuple[int, int]


async def _roll_up(
    session: AsyncSession, policy: SloPolicy, statements: Statements, hours: Hours
) -> None:
    """(Re)compute the roll-ups of the hours ``[first, last)``."""
    first, last = hours
    await session.execute(
        delete(SloRollup).where(
            SloRollup.policy_id == policy.id, SloRollup.hour >= first, SloRollup.hour < last
        )
    )
    # Execute through the Core connection: the ORM would read a parameter dict
    # given with an INSERT as rows to insert.
    connection = await session.connection()
    await connection.execute(statements.roll_up, _hour_parameters(statements, hours))


def _hour_parameters(statements: Statements, hours: Hours) -> dict[str, Any]:
    return {
        **statements.series_parameters,
        "first_ts": hour_start(hours[0]),
        "last_ts": hour_start(hours[1]),
    }


async def _roll_up_new_hours(
    session: AsyncSession, policy: SloPolicy, statements: Statements, hours: Hours
) -> None:
    """Roll up the hours of ``hours`` (those the measurement reads) not rolled up yet."""
    first, last = hours
    reached = policy.rolled_up_to_hour
    if reached is not None and reached >= last:
        return
    start = first if reached is None else max(first, reached)
    if start < last:
        await _roll_up(session, policy, statements, (start, last))
    policy.rolled_up_to_hour = last if reached is None else max(reached, last)


async def _stale_hours(
    session: AsyncSession, policy: SloPolicy, statements: Statements, hours: Hours
) -> Hours | None:
    """The span of hours whose roll-up no longer matches the samples stored."""
    counted = await session.execute(
        statements.samples_per_hour, _hour_parameters(statements, hours)
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


@dataclass(frozen=True)
class _Sums:
    raw: dict[int, tuple[float, float]]
    rolled: dict[int, tuple[float, float]]
    check: tuple[int, int] | None

    @property
    def stale(self) -> bool:
        return self.check is not None and self.check[0] != self.check[1]


async def _sums(session: AsyncSession, statements: Statements) -> _Sums:
    result = await session.execute(statements.measure, statements.measure_parameters)
    parts: dict[int, dict[int, tuple[float, float]]] = {0: {}, 1: {}, 2: {}}
    for part, segment, good, total in result.all():
        parts[int(part)][int(segment)] = (float(good or 0.0), float(total or 0.0))
    check = parts[2].get(0)
    return _Sums(parts[0], parts[1], None if check is None else (round(check[0]), round(check[1])))


def _counts(sums: _Sums, plan: MeasurementPlan) -> list[Counts]:
    measured = []
    for picks in plan.picks:
        picked = [sums.raw.get(k, (0.0, 0.0)) for k in picks.raw]
        picked += [sums.rolled.get(k, (0.0, 0.0)) for k in picks.rolled]
        measured.append(
            Counts(good=sum(good for good, _ in picked), total=sum(total for _, total in picked))
        )
    return measured


async def measure(
    session: AsyncSession, policy: SloPolicy, plan: MeasurementPlan, statements: Statements
) -> list[Counts]:
    """Good and total events of each window of ``plan``, in order. The roll-ups the
    plan reads are brought up to date first; those of its checked hours are redone
    if the samples changed since they were rolled up."""
    if plan.rolled_hours is not None:
        await _roll_up_new_hours(session, policy, statements, plan.rolled_hours)
    sums = await _sums(session, statements)
    if sums.stale and plan.checked_hours is not None:
        stale = await _stale_hours(session, policy, statements, plan.checked_hours)
        if stale is not None:
            await _roll_up(session, policy, statements, stale)
        sums = await _sums(session, statements)
    return _counts(sums, plan)
