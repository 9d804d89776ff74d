"""Counting good and total events of a policy's windows in the database.

Why roll-ups, not an index: a sweep evaluates every policy each minute over
windows of up to 90 days. Summing the raw samples would read each policy's
whole window every time: with 10 million samples for 1,000 policies over 28
days that is ~13 ms a policy on PostgreSQL (over 10 s a sweep), and worse once a
series' samples lie spread over the table by time, as ingestion stores them.
No index on ``signals`` removes that work, since the label matchers and the
threshold are the policy's own. So each policy keeps hourly roll-ups of its
good and total events (``slo_rollups``, 672 rows for 28 days): an evaluation
reads whole hours from them, and only the partial hours at the windows' edges
and the last hour (a few hundred samples) raw, through the existing
``ix_signals_workspace_service_name_ts``. A sweep of that bench takes ~4 s.

Why they stay exact: a sample may arrive late, with a ts in an hour already
rolled up. Each roll-up row keeps how many samples of the policy's signal names
its hour held; an evaluation compares their sum over rolled hours with a count
of the signals table over the same hours (an index-only scan, no labels read)
and rolls the hours that differ up again before reading them. Signals are only
ever added, so a changed hour always shows in the count. ``evaluateSlo`` checks
every rolled hour; the sweep checks the last 24 hours each time and all of them
every hour or two (``evaluation.full_check_due``), as counting 28 days for each
policy each minute would cost as much as the sums it saves.

In the steady state an evaluation is one statement, the same SQL on SQLite and
PostgreSQL, built once per SLI structure and reused with parameters.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Float,
    Select,
    String,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import Subquery

from server.core.db import UTCDateTime
from server.signals.models import Signal
from server.slo import rollups
from server.slo.budget import Counts
from server.slo.models import SloPolicy, SloRollup
from server.slo.policies import policy_sli
from server.slo.samples import good_and_total, signal_name, sli_parameters, sli_structure
from server.slo.sli import Sli
from server.slo.statements import StatementCache
from server.slo.windows import MeasurementPlan, hour_start


def _of_series(index: int) -> list[ColumnElement[bool]]:
    """The samples of the policy's ``index``-th signal name."""
    return [
        Signal.workspace_id == bindparam("workspace_id", type_=BigInteger()),
        Signal.service == bindparam("service", type_=String()),
        Signal.name == signal_name(index),
    ]


@dataclass(frozen=True)
class _Shape:
    """What a measurement statement's structure depends on besides the policy."""

    ranges: int
    boundaries: int
    firsts: int
    checked: bool


def _moment(name: str) -> BindParameter[datetime]:
    return bindparam(name, type_=UTCDateTime())


def _hour(name: str) -> BindParameter[int]:
    return bindparam(name, type_=BigInteger())


def _raw_samples(sli: Sli, shape: _Shape) -> Subquery:
    """The samples in the plan's raw ranges: one index range scan per signal and range."""
    parts = [
        select(Signal.ts, Signal.name, Signal.value, Signal.labels).where(
            *_of_series(name),
            Signal.ts >= _moment(f"low_{index}"),
            Signal.ts <= _moment(f"high_{index}"),
        )
        for name in range(len(sli.signal_names))
        for index in range(shape.ranges)
    ]
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("raw")


def _raw_part(sli: Sli, shape: _Shape) -> Select[Any]:
    """Good and total of the raw samples per segment: for boundary k (latest first)
    segment 2k is just above it and 2k + 1 the boundary itself."""
    rows = _raw_samples(sli, shape)
    good, total = good_and_total(sli, rows)
    tests = []
    for index in range(shape.boundaries):
        boundary = _moment(f"boundary_{index}")
        tests += [(rows.c.ts > boundary, 2 * index), (rows.c.ts >= boundary, 2 * index + 1)]
    segment = case(*tests, else_=-1)
    per_sample = select(
        segment.label("segment"), good.label("good"), total.label("total")
    ).subquery("per_sample")
    return select(
        literal_column("0").label("part"),
        per_sample.c.segment,
        func.sum(per_sample.c.good),
        func.sum(per_sample.c.total),
    ).group_by(per_sample.c.segment)


def _rolled_part(shape: _Shape) -> Select[Any]:
    """Good and total of the rolled hours per segment: k holds hours from first_k
    up to first_(k-1) (the firsts are latest first)."""
    segment = case(
        *[(SloRollup.hour >= _hour(f"first_{index}"), index) for index in range(shape.firsts)],
        else_=-1,
    )
    per_hour = (
        select(segment.label("segment"), SloRollup.good, SloRollup.total)
        .where(
            SloRollup.policy_id == bindparam("policy_id"),
            SloRollup.hour >= _hour(f"first_{shape.firsts - 1}"),
            SloRollup.hour < _hour("settled"),
        )
        .subquery("per_hour")
    )
    return select(
        literal_column("1"),
        per_hour.c.segment,
        func.sum(per_hour.c.good),
        func.sum(per_hour.c.total),
    ).group_by(per_hour.c.segment)


def _check_part(sli: Sli) -> Select[Any]:
    """Samples the roll-ups of the checked hours counted, beside those stored now."""
    rolled = (
        select(func.coalesce(func.sum(SloRollup.samples), 0))
        .where(
            SloRollup.policy_id == bindparam("policy_id"),
            SloRollup.hour >= _hour("check_from"),
            SloRollup.hour < _hour("settled"),
        )
        .scalar_subquery()
    )
    stored: ColumnElement[Any] = literal_column("0")
    for name in range(len(sli.signal_names)):
        stored = stored + (
            select(func.count())
            .where(
                *_of_series(name),
                Signal.ts >= _moment("check_from_ts"),
                Signal.ts < _moment("settled_ts"),
            )
            .scalar_subquery()
        )
    return select(
        literal_column("2"), literal_column("0"), cast(rolled, Float), cast(stored, Float)
    )


def _statement(sli: Sli, shape: _Shape) -> Any:
    parts = [_raw_part(sli, shape)]
    if shape.firsts:
        parts.append(_rolled_part(shape))
    if shape.checked:
        parts.append(_check_part(sli))
    return union_all(*parts)


#: Statements by SLI structure and shape, shared by all policies alike: building
#: one costs ~5 ms of Python, several times what running it costs.
_STATEMENTS = StatementCache(512)


def _cached_statement(sli: Sli, shape: _Shape) -> Any:
    return _STATEMENTS.get((sli_structure(sli), shape), lambda: _statement(sli, shape))


def _parameters(
    policy: SloPolicy, sli: Sli, plan: MeasurementPlan, checked: tuple[int, int] | None
) -> dict[str, Any]:
    values: dict[str, Any] = {
        **sli_parameters(sli),
        "workspace_id": policy.workspace_id,
        "service": policy.service,
        "policy_id": policy.id,
        "settled": plan.settled_hour,
    }
    for index, (low, high) in enumerate(plan.raw_ranges()):
        values[f"low_{index}"], values[f"high_{index}"] = low, high
    for index, boundary in enumerate(plan.boundaries()):
        values[f"boundary_{index}"] = boundary
    for index, first in enumerate(plan.rolled_firsts()):
        values[f"first_{index}"] = first
    if checked is not None:
        values["check_from"] = checked[0]
        values["check_from_ts"] = hour_start(checked[0])
        values["settled_ts"] = hour_start(checked[1])
    return values


def _shape(plan: MeasurementPlan, checked: tuple[int, int] | None) -> _Shape:
    return _Shape(
        ranges=len(plan.raw_ranges()),
        boundaries=len(plan.boundaries()),
        firsts=len(plan.rolled_firsts()),
        checked=checked is not None,
    )


@dataclass(frozen=True)
class _Sums:
    raw: dict[int, tuple[float, float]]
    rolled: dict[int, tuple[float, float]]
    check: tuple[int, int] | None

    @classmethod
    def of(cls, rows: list[Any]) -> "_Sums":
        parts: dict[int, dict[int, tuple[float, float]]] = {0: {}, 1: {}, 2: {}}
        for part, segment, good, total in rows:
            parts[int(part)][int(segment)] = (float(good or 0.0), float(total or 0.0))
        check = parts[2].get(0)
        return cls(
            parts[0], parts[1], None if check is None else (round(check[0]), round(check[1]))
        )

    @property
    def stale(self) -> bool:
        return self.check is not None and self.check[0] != self.check[1]


def _counts(sums: _Sums, plan: MeasurementPlan) -> list[Counts]:
    segments, firsts = plan.segments(), plan.rolled_firsts()
    measured = []
    for window in plan.windows:
        picked = [
            sums.raw.get(k, (0.0, 0.0)) for k, p in enumerate(segments) if window.raw_holds(p)
        ]
        if window.rolled is not None:
            first = window.rolled[0]
            picked += [sums.rolled.get(k, (0.0, 0.0)) for k, f in enumerate(firsts) if f >= first]
        measured.append(
            Counts(good=sum(good for good, _ in picked), total=sum(total for _, total in picked))
        )
    return measured


def check_range(plan: MeasurementPlan, verify_from: int | None) -> tuple[int, int] | None:
    """The rolled hours to compare with the samples: all, or those from ``verify_from``."""
    hours = plan.rolled_hours
    if hours is None:
        return None
    first = hours[0] if verify_from is None else max(hours[0], verify_from)
    return (first, hours[1]) if first < hours[1] else None


async def measure(
    session: AsyncSession, policy: SloPolicy, plan: MeasurementPlan, *, verify_from: int | None
) -> list[Counts]:
    """Good and total events of each window of ``plan``, in order. The roll-ups of
    the hours from ``verify_from`` (all, if None) are checked and redone if stale."""
    sli = policy_sli(policy)
    if plan.rolled_hours is not None:
        await rollups.roll_up_new_hours(session, policy, sli, plan.rolled_hours)
    checked = check_range(plan, verify_from)
    statement = _cached_statement(sli, _shape(plan, checked))
    parameters = _parameters(policy, sli, plan, checked)
    sums = _Sums.of(list((await session.execute(statement, parameters)).all()))
    if sums.stale and checked is not None:
        await rollups.roll_up_again(session, policy, sli, checked)
        sums = _Sums.of(list((await session.execute(statement, parameters)).all()))
    return _counts(sums, plan)
