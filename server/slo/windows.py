"""Which part of each window comes from hourly roll-ups and which from raw samples.

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
``(moment, side)``: ``(x, 0)`` is the point ``x``, ``(x, 1)`` the open interval
just above ``x``, up to the next boundary; comparing probes as tuples with
``(boundary, 0)`` says on which side of a boundary a whole segment lies. Pure,
so the edge arithmetic is tested without a database.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
class MeasurementPlan:
    at: datetime
    windows: list[WindowPlan]
    #: Hours before this one are rolled up (they ended ``SETTLE`` before ``at``).
    settled_hour: int

    @property
    def rolled_hours(self) -> tuple[int, int] | None:
        """The hours any window reads from the roll-ups, as ``[first, last)``."""
        firsts = self.rolled_firsts()
        return (firsts[-1], self.settled_hour) if firsts else None

    def rolled_firsts(self) -> list[int]:
        """The first rolled hours of the windows, distinct, latest first: the rolled
        segment k holds hours ``[firsts[k], firsts[k-1])``."""
        return sorted({w.rolled[0] for w in self.windows if w.rolled is not None}, reverse=True)

    def raw_ranges(self) -> list[tuple[datetime, datetime]]:
        """Disjoint closed ranges of ts covering every window's raw part."""
        ranges = sorted(r for window in self.windows for r in window.raw_ranges())
        merged: list[tuple[datetime, datetime]] = []
        for low, high in ranges:
            if merged and low <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        return merged

    def boundaries(self) -> list[datetime]:
        """Every window's boundaries, distinct, latest first."""
        return sorted({x for window in self.windows for x in window.boundaries()}, reverse=True)

    def segments(self) -> list[Probe]:
        """The raw segments, latest first: for the k-th boundary x, segment 2k lies
        just above x (``ts > x``) and segment 2k + 1 is x itself (``ts >= x``)."""
        return [probe for x in self.boundaries() for probe in ((x, ABOVE), (x, POINT))]


def plan_window(start: datetime, at: datetime, *, settled_hour: int) -> WindowPlan:
    start = min(start, at)
    # The first hour wholly inside: a sample exactly at ``start`` is outside the
    # window, so an hour beginning at ``start`` is not whole.
    first = hour_index(start) + 1
    if first >= settled_hour:
        return WindowPlan(start, at, None)
    return WindowPlan(start, at, (first, settled_hour))


def plan(at: datetime, starts: list[datetime], *, settle: timedelta = SETTLE) -> MeasurementPlan:
    """How to measure the windows ``(start, at]`` for each of ``starts``."""
    settled_hour = hour_index(at - settle)
    windows = [plan_window(start, at, settled_hour=settled_hour) for start in starts]
    return MeasurementPlan(at, windows, settled_hour)
