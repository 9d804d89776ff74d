"""Building the statements of one measurement, from its plan: the statement that
sums a policy's windows, and the two that keep its roll-ups (roll hours up, count
the samples per hour). The only module of the domain that reads the signals table.

Building a statement costs far more Python time than running it, so each is
built once per SLI structure (``samples.sli_structure``) and plan shape, or
dialect, kept in a ``StatementCache`` and shared by every policy alike; what
differs between policies and evaluations travels as bound parameters. In the
steady state an evaluation runs one statement, the same SQL on SQLite and
PostgreSQL.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable
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
    insert,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.sql.selectable import Subquery

from server.core.db import UTCDateTime
from server.signals.models import Signal
from server.slo.models import SloPolicy, SloRollup
from server.slo.samples import good_and_total, signal_name, sli_parameters, sli_structure
from server.slo.sli import Sli
from server.slo.windows import MeasurementPlan, hour_start


class StatementCache:
    """Statements by key; beyond ``size``, the least recently used is dropped."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._statements: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        statement = self._statements.get(key)
        if statement is not None:
            self._statements.move_to_end(key)
            return statement
        statement = self._statements[key] = build()
        if len(self._statements) > self._size:
            self._statements.popitem(last=False)
        return statement


@dataclass(frozen=True)
class Statements:
    """What measuring one policy at one moment runs, with its parameters."""

    #: Rows ``(part, segment, good, total)``: part 0 sums raw segments, part 1
    #: rolled segments, part 2 (segment 0) the samples the checked hours' roll-ups
    #: counted beside those stored now.
    measure: Any
    measure_parameters: dict[str, Any]
    #: INSERT .. SELECT of the roll-ups of the hours from ``first_ts`` to before ``last_ts``.
    roll_up: Any
    #: Rows ``(hour, samples)`` stored now, from ``first_ts`` to before ``last_ts``.
    samples_per_hour: Any
    #: The parameters of ``roll_up`` and ``samples_per_hour`` but their hours.
    series_parameters: dict[str, Any]


def _of_series(index: int) -> list[ColumnElement[bool]]:
    """The samples of the policy's ``index``-th signal name."""
    return [
        Signal.workspace_id == bindparam("workspace_id", type_=BigInteger()),
        Signal.service == bindparam("service", type_=String()),
        Signal.name == signal_name(index),
    ]


def _moment(name: str) -> BindParameter[datetime]:
    return bindparam(name, type_=UTCDateTime())


def _hour(name: str) -> BindParameter[int]:
    return bindparam(name, type_=BigInteger())


# --- summing the windows ---------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """What a measurement statement's structure depends on besides the SLI."""

    ranges: int
    boundaries: int
    firsts: int
    checked: bool


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


def _measure_statement(sli: Sli, shape: _Shape) -> Any:
    parts = [_raw_part(sli, shape)]
    if shape.firsts:
        parts.append(_rolled_part(shape))
    if shape.checked:
        parts.append(_check_part(sli))
    return union_all(*parts)


def _measure_parameters(plan: MeasurementPlan) -> dict[str, Any]:
    values: dict[str, Any] = {"settled": plan.settled_hour}
    for index, (low, high) in enumerate(plan.raw_ranges):
        values[f"low_{index}"], values[f"high_{index}"] = low, high
    for index, boundary in enumerate(plan.boundaries):
        values[f"boundary_{index}"] = boundary
    for index, first in enumerate(plan.rolled_firsts):
        values[f"first_{index}"] = first
    if plan.checked_hours is not None:
        first, last = plan.checked_hours
        values["check_from"] = first
        values["check_from_ts"] = hour_start(first)
        values["settled_ts"] = hour_start(last)
    return values


# --- keeping the roll-ups ---------------------------------------------------------------


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
            *_of_series(index),
            Signal.ts >= _moment("first_ts"),
            Signal.ts < _moment("last_ts"),
        )
        for index in range(len(sli.signal_names))
    ]
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("samples")


def _roll_up_statements(sli: Sli, dialect: str) -> tuple[Any, Any]:
    samples = _samples_in(sli, dialect)
    good, total = good_and_total(sli, samples)
    per_hour = select(
        bindparam("policy_id", type_=BigInteger()),
        samples.c.hour,
        cast(func.sum(good), Float),
        cast(func.sum(total), Float),
        func.count(),
    ).group_by(samples.c.hour)
    roll_up = insert(SloRollup).from_select(
        ["policy_id", "hour", "good", "total", "samples"], per_hour
    )
    return roll_up, select(samples.c.hour, func.count()).group_by(samples.c.hour)


# --- one measurement --------------------------------------------------------------------

#: By SLI structure and plan shape, shared by every policy alike.
_MEASURES = StatementCache(512)
#: By SLI structure and dialect.
_ROLL_UPS = StatementCache(256)


def build(policy: SloPolicy, sli: Sli, plan: MeasurementPlan, *, dialect: str) -> Statements:
    """The statements measuring ``policy`` (whose SLI is ``sli``) along ``plan``."""
    structure = sli_structure(sli)
    shape = _Shape(
        ranges=len(plan.raw_ranges),
        boundaries=len(plan.boundaries),
        firsts=len(plan.rolled_firsts),
        checked=plan.checked_hours is not None,
    )
    measure = _MEASURES.get((structure, shape), lambda: _measure_statement(sli, shape))
    roll_up, samples_per_hour = _ROLL_UPS.get(
        (structure, dialect), lambda: _roll_up_statements(sli, dialect)
    )
    series = {
        **sli_parameters(sli),
        "workspace_id": policy.workspace_id,
        "service": policy.service,
        "policy_id": policy.id,
    }
    return Statements(
        measure=measure,
        measure_parameters={**series, **_measure_parameters(plan)},
        roll_up=roll_up,
        samples_per_hour=samples_per_hour,
        series_parameters=series,
    )
