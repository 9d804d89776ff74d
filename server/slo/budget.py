"""Error-budget arithmetic: pure, so it is checked without a database.

An SLO with objective ``o`` % allows a share ``budget = 1 - o/100`` of bad events.
Over a window holding ``good`` and ``total`` events, the SLI is ``good / total``
and the budget consumed is ``(1 - SLI) / budget``: 1.0 means the window's whole
budget is spent. The burn rate over a window is the same ratio, computed over
that window: a burn rate of 1 spends the budget exactly by the end of the SLO
window, 14.4 spends 2 % of a 30-day budget in one hour.

Exact fractions keep the status bands exact: a 99 % objective with 5 bad events
out of 1,000 has consumed exactly half its budget (WARNING), where floats would
say 0.49999999999999994 (HEALTHY). A window without events (``total <= 0``) has
no SLI, no budget figures and no burn rate (``None``); a burn rate of ``None``
never exceeds a factor. Bad events are ``max(total - good, 0)``: inconsistent
data (more good than total) reads as no bad events, never as a negative spend.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from fractions import Fraction


class SloStatus(StrEnum):
    HEALTHY = "HEALTHY"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    EXHAUSTED = "EXHAUSTED"
    NO_DATA = "NO_DATA"


#: Worst first: the order in which a service's status is the worst of its policies'.
#: NO_DATA (telemetry missing) ranks above HEALTHY but below every spend that warns.
STATUS_SEVERITY = (
    SloStatus.EXHAUSTED,
    SloStatus.CRITICAL,
    SloStatus.WARNING,
    SloStatus.NO_DATA,
    SloStatus.HEALTHY,
)

WARNING_AT = Fraction(1, 2)
CRITICAL_AT = Fraction(4, 5)
EXHAUSTED_AT = Fraction(1)


@dataclass(frozen=True)
class BurnWindow:
    name: str
    length: timedelta


@dataclass(frozen=True)
class BurnPair:
    """A multi-window burn-rate alert (SRE workbook, chapter 5): it fires when the
    burn rates over both its long and its short window exceed ``factor``."""

    long: BurnWindow
    short: BurnWindow
    factor: Fraction
    pages: bool

    @property
    def name(self) -> str:
        return f"{self.long.name}/{self.short.name}"


_M5 = BurnWindow("5m", timedelta(minutes=5))
_M30 = BurnWindow("30m", timedelta(minutes=30))
_H1 = BurnWindow("1h", timedelta(hours=1))
_H2 = BurnWindow("2h", timedelta(hours=2))
_H6 = BurnWindow("6h", timedelta(hours=6))
_D1 = BurnWindow("1d", timedelta(days=1))
_D3 = BurnWindow("3d", timedelta(days=3))

#: Shortest first; every burn rate of an evaluation, in this order.
BURN_WINDOWS = (_M5, _M30, _H1, _H2, _H6, _D1, _D3)
#: Fastest first: while a pair fires, the alerts of the pairs after it are inhibited.
PAIRS = (
    BurnPair(_H1, _M5, Fraction("14.4"), pages=True),
    BurnPair(_H6, _M30, Fraction(6), pages=True),
    BurnPair(_D1, _H2, Fraction(3), pages=False),
    BurnPair(_D3, _H6, Fraction(1), pages=False),
)
PAIRS_BY_NAME = {pair.name: pair for pair in PAIRS}


@dataclass(frozen=True)
class Counts:
    """Good and total events of one window (sums for RATIO, sample counts for THRESHOLD)."""

    good: float
    total: float

    @property
    def has_events(self) -> bool:
        return self.total > 0

    @property
    def bad(self) -> float:
        return max(self.total - self.good, 0.0)


def error_budget(objective: float) -> Fraction:
    """The allowed share of bad events; the objective is read as the decimal it was given."""
    return 1 - Fraction(repr(objective)) / 100


def spent(counts: Counts, budget: Fraction) -> Fraction | None:
    """Budget consumed over a window (= its burn rate); None without events."""
    if not counts.has_events:
        return None
    return Fraction(counts.bad) / Fraction(counts.total) / budget


def status_for(consumed: Fraction | None) -> SloStatus:
    if consumed is None:
        return SloStatus.NO_DATA
    if consumed >= EXHAUSTED_AT:
        return SloStatus.EXHAUSTED
    if consumed >= CRITICAL_AT:
        return SloStatus.CRITICAL
    if consumed >= WARNING_AT:
        return SloStatus.WARNING
    return SloStatus.HEALTHY


def worst_status(statuses: list[SloStatus]) -> SloStatus | None:
    present = set(statuses)
    return next((status for status in STATUS_SEVERITY if status in present), None)


def _as_float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Assessment:
    good: float
    total: float
    sli: float | None
    budget_consumed: float | None
    budget_remaining: float | None
    #: Window name -> burn rate, in the order of BURN_WINDOWS.
    burn_rates: dict[str, float | None]
    #: Names of the firing pairs, fastest first.
    firing_pairs: list[str]
    status: SloStatus

    @property
    def fastest_burn(self) -> tuple[str, float] | None:
        """The window with the highest burn rate, if any window has events."""
        rated = [(name, rate) for name, rate in self.burn_rates.items() if rate is not None]
        return max(rated, key=lambda item: item[1]) if rated else None


def firing_pairs(rates: Mapping[str, Fraction | None]) -> list[str]:
    fired = []
    for pair in PAIRS:
        long_rate, short_rate = rates[pair.long.name], rates[pair.short.name]
        if long_rate is None or short_rate is None:
            continue
        if long_rate > pair.factor and short_rate > pair.factor:
            fired.append(pair.name)
    return fired


def assess(objective: float, window: Counts, burn_windows: dict[str, Counts]) -> Assessment:
    """The figures of one evaluation: ``window`` over the SLO window, ``burn_windows``
    over each of BURN_WINDOWS (by name)."""
    budget = error_budget(objective)
    consumed = spent(window, budget)
    rates = {burn.name: spent(burn_windows[burn.name], budget) for burn in BURN_WINDOWS}
    return Assessment(
        good=window.good,
        total=window.total,
        sli=float(Fraction(window.total - window.bad) / Fraction(window.total))
        if window.has_events
        else None,
        budget_consumed=_as_float(consumed),
        budget_remaining=_as_float(None if consumed is None else 1 - consumed),
        burn_rates={name: _as_float(rate) for name, rate in rates.items()},
        firing_pairs=firing_pairs(rates),
        status=status_for(consumed),
    )


#: An incident that spent more than this share of the window's budget needs a postmortem.
POSTMORTEM_SHARE = Fraction(1, 5)


def incident_share(bad_during: Counts, window: Counts, objective: float) -> Fraction | None:
    """The share of the window's error budget spent by the bad events of ``bad_during``
    (an incident's open interval): bad events / (budget x total events of the window)."""
    if not window.has_events:
        return None
    return Fraction(bad_during.bad) / (error_budget(objective) * Fraction(window.total))


def needs_postmortem(share: Fraction | None) -> bool:
    return share is not None and share > POSTMORTEM_SHARE
