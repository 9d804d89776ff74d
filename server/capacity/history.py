"""Meters' histories: their samples rolled up by the hour, kept per policy.

Each forecast rolls up the hours settled since the last one, and the newest
``SETTLE_HOURS`` settled hours again, for samples that arrive late; the hour
under way is summed live. So a forecast reads a few hours of samples and the
stored roll-ups rather than every sample of the history window. Samples that
arrive more than ``SETTLE_HOURS`` late are counted once the meter's policy
changes (its roll-ups start afresh).

Policies are read together (a run's chunk): one INSERT ... SELECT rolls up
those that share their label matchers and first hour to roll up (usually all of
them, also on the first forecast, which reads the whole history window), one
query reads their roll-ups and one per set of matchers their hours under way.
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Select, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.capacity.forecast import History
from server.capacity.models import CapacityPolicy, CapacityRollup
from server.capacity.policies import policy_matchers
from server.signals.reading import Meter, hourly_sums

HOUR = 3600
SETTLE_HOURS = 2
#: Meters per statement: bounds the bound parameters (four a meter).
STATEMENT_METERS = 1000


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR, UTC)


def hour_of(moment: datetime) -> int:
    return int(moment.timestamp() // HOUR)


def _meter(policy: CapacityPolicy) -> Meter:
    return Meter(policy.id, policy.workspace_id, policy.service, policy.signal)


def _by_matchers(policies: Sequence[CapacityPolicy]) -> list[list[CapacityPolicy]]:
    """The policies in groups of the same label matchers, each group at most
    ``STATEMENT_METERS`` long."""
    groups: dict[str, list[CapacityPolicy]] = defaultdict(list)
    for policy in policies:
        groups[json.dumps(policy.matchers, sort_keys=True)].append(policy)
    return [
        members[index : index + STATEMENT_METERS]
        for members in groups.values()
        for index in range(0, len(members), STATEMENT_METERS)
    ]


def _sums(
    dialect: str, policies: list[CapacityPolicy], from_: datetime, to: datetime
) -> Select[int, int, float, int]:
    return hourly_sums(
        dialect,
        meters=[_meter(policy) for policy in policies],
        matchers=policy_matchers(policies[0]),
        from_=from_,
        to=to,
    )


async def roll_up(
    session: AsyncSession, *, policies: Sequence[CapacityPolicy], first: int, current: int
) -> None:
    """Store the policies' sums of the settled hours from ``first`` to ``current``
    (exclusive) not rolled up yet, and the newest ``SETTLE_HOURS`` again."""
    by_start: dict[int, list[CapacityPolicy]] = defaultdict(list)
    for policy in policies:
        start = max(first, (policy.rolled_up_to_hour or first) - SETTLE_HOURS)
        if start < current:
            by_start[start].append(policy)
    if not by_start:
        return
    dialect = (await session.connection()).dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for start, starting in by_start.items():
        for group in _by_matchers(starting):
            sums = _sums(dialect, group, hour_start(start), hour_start(current))
            statement = insert(CapacityRollup).from_select(
                ["policy_id", "hour", "total", "samples"], sums
            )
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[CapacityRollup.policy_id, CapacityRollup.hour],
                    set_={"total": statement.excluded.total, "samples": statement.excluded.samples},
                )
            )
        for policy in starting:
            policy.rolled_up_to_hour = current


class _Series:
    """One policy's hourly totals and counts, oldest first, as they are read."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.totals: list[float] = []
        self.counts: list[int] = []

    def add(self, time: float, total: float, count: int) -> None:
        self.times.append(time)
        self.totals.append(total)
        self.counts.append(count)

    def history(self) -> History:
        values = np.asarray(self.totals, dtype=np.float64) / np.maximum(np.asarray(self.counts), 1)
        return History(
            times=np.asarray(self.times, dtype=np.float64),
            values=values,
            step=float(HOUR),
            samples=int(sum(self.counts)),
        )


async def read_histories(
    session: AsyncSession, *, policies: Sequence[CapacityPolicy], now: datetime, days: int
) -> dict[int, History]:
    """Each policy's hourly averages over the last ``days`` days up to ``now``,
    the hour under way included, by policy id; the roll-ups are brought up to date."""
    current = hour_of(now)
    first = current - days * 24
    await roll_up(session, policies=policies, first=first, current=current)
    series = {policy.id: _Series() for policy in policies}
    rows = await session.execute(
        select(
            CapacityRollup.policy_id,
            CapacityRollup.hour,
            CapacityRollup.total,
            CapacityRollup.samples,
        )
        .where(
            CapacityRollup.policy_id.in_(list(series)),
            CapacityRollup.hour >= first,
            CapacityRollup.hour < current,
        )
        .order_by(CapacityRollup.policy_id, CapacityRollup.hour)
    )
    for policy_id, hour, total, samples in rows.all():
        series[policy_id].add(hour * HOUR + HOUR / 2, total, samples)
    if now > hour_start(current) and policies:
        dialect = (await session.connection()).dialect.name
        middle = (current * HOUR + now.timestamp()) / 2
        for group in _by_matchers(policies):
            live = await session.execute(_sums(dialect, group, hour_start(current), now))
            for policy_id, _hour, total, samples in live.all():
                series[policy_id].add(middle, total, samples)
    return {policy_id: meter.history() for policy_id, meter in series.items()}


async def prune(session: AsyncSession, *, now: datetime, days: int) -> None:
    """Delete roll-ups older than any history window reads."""
    await session.execute(
        delete(CapacityRollup).where(CapacityRollup.hour < hour_of(now) - days * 24)
    )
