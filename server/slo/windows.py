"""Planning an evaluation's windows: which part of each comes from hourly roll-ups
and which from raw samples, and how the summed parts add up to each window.

Window membership follows Prometheus 3: a window of length ``w`` evaluated at
``at`` holds the samples with ``at - w < ts <= at`` (a sample exactly at the
window's start is outside, one exactly at ``at`` inside).

Hour ``h`` (epoch seconds // 3600) covers ``[h:00, h+1:00)``. A window reads
from the roll-ups the whole hours inside it that ended at least ``SETTLE``
before ``at`` (samples of the last minutes may still be on their way), and
reads the rest, its leading partial hour and the recent tail, from the raw
samples.

The raw samples are summed per *segment* in one pass: the boundaries of every
window cut time into open intervals and the boundary points themselves, and
each window's raw part is a union of segments. A segment is named by a probe
``(moment, side)``: ``(x, 0)`` is the point x, ``(x, 1)`` the open interval
just above x, up to the next boundary; comparing probes as tuples with
``(boundary, 0)`` says on which side of a boundary a whole segment lies.

Pure, so the edge arithmetic is tested without a database. A plan is complete
when it is made: the stages after it (building the statement, measuring) read
its fields and never come back here to ask.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from server.slo.budget import BURN_WINDOWS

HOUR = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SETTLE = timedelta(minutes=5)

#: A segment of time: ``(x, 0)`` the point x, ``(x, 1)`` the open interval above x.
Probe = tuple[datetime, int]
POINT, ABOVE = 0, 1


def hour_index(moment: datetime) -> int:
    """The hour holding ``moment``."""
    return (moment - EPOCH) // HOUR


def hour_start(index: int) -> datetime:
    return EPOCH + index * HOUR


@dataclass(frozen=True)
class WindowPlan:
    """Samples with ``start < ts <= end``."""

    start: datetime
    end: datetime
    #: Hours ``[first, last)`` read from the roll-ups, or None for raw samples only.
    rolled: tuple[int, int] | None

    def raw_ranges(self) -> list[tuple[datetime, datetime]]:
        """Closed ranges of ts that hold the raw part (a superset at the open ends)."""
        if self.rolled is None:
            return [(self.start, self.end)]
        first, last = self.rolled
        return [(self.start, hour_start(first)), (hour_start(last), self.end)]

    def boundaries(self) -> list[datetime]:
        if self.rolled is None:
            return [self.start, self.end]
        first, last = self.rolled
        return [self.start, hour_start(first), hour_start(last), self.end]

    def raw_holds(self, probe: Probe) -> bool:
        """Whether the segment ``probe`` lies in the window's raw part."""
        inside = (self.start, POINT) < probe <= (self.end, POINT)
        if self.rolled is None or not inside:
            return inside
        first, last = self.rolled
        return probe < (hour_start(first), POINT) or probe >= (hour_start(last), POINT)


@dataclass(frozen=True)
class Picks:
    """The summed parts one window adds up: raw segments and rolled segments, by index."""

    raw: tuple[int, ...]
    rolled: tuple[int, ...]


@dataclass(frozen=True)
class MeasurementPlan:
    at: datetime
    windows: tuple[WindowPlan, ...]
    #: Hours before this one are rolled up (they ended ``SETTLE`` before ``at``).
    settled_hour: int
    #: The first rolled hours of the windows, distinct, latest first: the rolled
    #: segment k holds hours ``[rolled_firsts[k], rolled_firsts[k-1])``.
    rolled_firsts: tuple[int, ...]
    #: The hours any window reads from the roll-ups, as ``[first, last)``.
    rolled_hours: tuple[int, int] | None
    #: The rolled hours whose roll-ups are compared with the samples, as ``[first, last)``.
    checked_hours: tuple[int, int] | None
    #: Disjoint closed ranges of ts covering every window's raw part.
    raw_ranges: tuple[tuple[datetime, datetime], ...]
    #: Every window's boundaries, distinct, latest first.
    boundaries: tuple[datetime, ...]
    #: The raw segments, latest first: for the k-th boundary x, segment 2k lies just
    #: above x (``ts > x``) and segment 2k + 1 is x itself (``ts >= x``).
    segments: tuple[Probe, ...]
    #: For each window, in order, the segments it adds up.
    picks: tuple[Picks, ...]


def plan_window(start: datetime, at: datetime, *, settled_hour: int) -> WindowPlan:
    start = min(start, at)
    # The first hour wholly inside: a sample exactly at ``start`` is outside the
    # window, so an hour beginning at ``start`` is not whole.
    first = hour_index(start) + 1
    if first >= settled_hour:
        return WindowPlan(start, at, None)
    return WindowPlan(start, at, (first, settled_hour))


def _merged(ranges: list[tuple[datetime, datetime]]) -> tuple[tuple[datetime, datetime], ...]:
    merged: list[tuple[datetime, datetime]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def _checked(rolled: tuple[int, int] | None, check_from: int | None) -> tuple[int, int] | None:
    """The rolled hours to compare with the samples: all, or those from ``check_from``."""
    if rolled is None:
        return None
    first = rolled[0] if check_from is None else max(rolled[0], check_from)
    return (first, rolled[1]) if first < rolled[1] else None


def _picks(window: WindowPlan, segments: Sequence[Probe], firsts: Sequence[int]) -> Picks:
    raw = tuple(k for k, probe in enumerate(segments) if window.raw_holds(probe))
    if window.rolled is None:
        return Picks(raw, ())
    return Picks(raw, tuple(k for k, first in enumerate(firsts) if first >= window.rolled[0]))


def plan(
    at: datetime,
    starts: list[datetime],
    *,
    recheck_hours: int | None = None,
    settle: timedelta = SETTLE,
) -> MeasurementPlan:
    """How to measure the windows ``(start, at]`` for each of ``starts``. The roll-ups
    of the last ``recheck_hours`` rolled hours are compared with the samples, or of
    every rolled hour if None."""
    settled_hour = hour_index(at - settle)
    windows = tuple(plan_window(start, at, settled_hour=settled_hour) for start in starts)
    firsts = tuple(sorted({w.rolled[0] for w in windows if w.rolled is not None}, reverse=True))
    rolled = (firsts[-1], settled_hour) if firsts else None
    check_from = None if recheck_hours is None else settled_hour - recheck_hours
    boundaries = tuple(sorted({x for w in windows for x in w.boundaries()}, reverse=True))
    segments = tuple(probe for x in boundaries for probe in ((x, ABOVE), (x, POINT)))
    return MeasurementPlan(
        at=at,
        windows=windows,
        settled_hour=settled_hour,
        rolled_firsts=firsts,
        rolled_hours=rolled,
        checked_hours=_checked(rolled, check_from),
        raw_ranges=_merged([r for w in windows for r in w.raw_ranges()]),
        boundaries=boundaries,
        segments=segments,
        picks=tuple(_picks(w, segments, firsts) for w in windows),
    )


def evaluation_starts(
    at: datetime, *, window_days: int, incidents_fired_at: list[datetime]
) -> list[datetime]:
    """The starts of an evaluation's windows, in this order: the SLO window, each of
    ``BURN_WINDOWS``, then each open incident's interval (from its first firing, at
    most the SLO window back)."""
    window_start = at - timedelta(days=window_days)
    return [
        window_start,
        *(at - burn.length for burn in BURN_WINDOWS),
        *(max(fired_at, window_start) for fired_at in incidents_fired_at),
    ]


def plan_evaluation(
    at: datetime,
    *,
    window_days: int,
    incidents_fired_at: list[datetime],
    recheck_hours: int | None,
) -> MeasurementPlan:
    """The plan of one evaluation: its windows in the order of ``evaluation_starts``."""
    starts = evaluation_starts(at, window_days=window_days, incidents_fired_at=incidents_fired_at)
    return plan(at, starts, recheck_hours=recheck_hours)
