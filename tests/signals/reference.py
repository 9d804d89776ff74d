"""An independent, plain-Python computation of time-bucketed aggregates.

The server computes series in SQL; the tests compare it with this reference.
"""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PERCENTILE_FRACTIONS = {"P50": 0.5, "P95": 0.95, "P99": 0.99}


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def aggregate(values: Sequence[float], name: str) -> float:
    if name == "AVG":
        return math.fsum(values) / len(values)
    if name == "SUM":
        return math.fsum(values)
    if name == "MIN":
        return min(values)
    if name == "MAX":
        return max(values)
    if name == "COUNT":
        return float(len(values))
    return percentile_cont(values, PERCENTILE_FRACTIONS[name])


@dataclass(frozen=True)
class Point:
    ts: datetime
    value: float
    count: int


def expected_series(
    samples: Sequence[tuple[datetime, float]],
    *,
    start: datetime,
    end: datetime,
    step: int,
    name: str,
) -> list[Point]:
    """Buckets of ``step`` seconds from ``start`` rounded down to a whole second.

    Samples count when ``start <= ts < end``; empty buckets are left out.
    """
    origin = start.replace(microsecond=0)
    buckets: dict[int, list[float]] = defaultdict(list)
    for ts, value in samples:
        if start <= ts < end:
            index = (ts - origin) // timedelta(seconds=step)
            buckets[index].append(value)
    return [
        Point(
            ts=(origin + timedelta(seconds=index * step)).astimezone(UTC),
            value=aggregate(values, name),
            count=len(values),
        )
        for index, values in sorted(buckets.items())
    ]
