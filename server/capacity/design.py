"""The regressors of a capacity forecast: what the fit is made of, as a design matrix.

Time enters in days from ``now``, so that the intercept is the level at now and
the slope is per day; cycles are Fourier terms of the epoch time, so that their
phase is the calendar's.
"""

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

DAY = 86_400.0
WEEK = 7 * DAY


@dataclass(frozen=True)
class Season:
    period: float
    harmonics: int


@dataclass(frozen=True)
class TrendLine:
    """The straight part of the fitted path after now: ``level`` at now, per day."""

    level: float
    slope_per_day: float

    def values(self, offsets: Floats) -> Floats:
        result: Floats = self.level + self.slope_per_day * (offsets / DAY)
        return result


@dataclass(frozen=True)
class Design:
    seasons: tuple[Season, ...] = ()
    #: Epoch seconds at which the level steps (each a 0/1 regressor).
    shifts: tuple[float, ...] = ()
    #: Epoch seconds from which the slope changes (a hinge regressor).
    slope_change_at: float | None = None

    @property
    def width(self) -> int:
        columns = 2 + sum(2 * season.harmonics for season in self.seasons) + len(self.shifts)
        return columns + (1 if self.slope_change_at is not None else 0)

    @property
    def method(self) -> str:
        parts = ["linear"]
        parts += [f"{_period_name(s.period)}({s.harmonics})" for s in self.seasons]
        if self.shifts:
            parts.append(f"level_shift({len(self.shifts)})")
        if self.slope_change_at is not None:
            parts.append("slope_change")
        return "+".join(parts)

    def with_season(self, season: Season) -> "Design":
        return replace(self, seasons=(*self.seasons, season))

    def with_shift(self, at: float) -> "Design":
        return replace(self, shifts=tuple(sorted((*self.shifts, at))))

    def matrix(self, times: Floats, now: float) -> Floats:
        days = (times - now) / DAY
        columns = [np.ones_like(days), days]
        for season in self.seasons:
            phase = 2 * math.pi * np.mod(times, season.period) / season.period
            for harmonic in range(1, season.harmonics + 1):
                columns += [np.sin(harmonic * phase), np.cos(harmonic * phase)]
        columns += [(times >= at).astype(np.float64) for at in self.shifts]
        if self.slope_change_at is not None:
            columns.append(np.maximum(days - (self.slope_change_at - now) / DAY, 0.0))
        return np.column_stack(columns)

    def _shift_columns(self) -> slice:
        start = 2 + sum(2 * season.harmonics for season in self.seasons)
        return slice(start, start + len(self.shifts))

    def future_slope(self, coefficients: Floats) -> float:
        slope = float(coefficients[1])
        return slope + (float(coefficients[-1]) if self.slope_change_at is not None else 0.0)

    def trend_only(self, coefficients: Floats, now: float) -> TrendLine:
        """The fitted path after now without its cycles (every shift lies before now)."""
        level = float(coefficients[0]) + float(np.sum(coefficients[self._shift_columns()]))
        if self.slope_change_at is not None:
            level += float(coefficients[-1]) * (now - self.slope_change_at) / DAY
        return TrendLine(level, self.future_slope(coefficients))


def _period_name(period: float) -> str:
    return {DAY: "daily", WEEK: "weekly"}.get(period, f"{period:g}s")


def fit_residuals(matrix: Floats, values: Floats) -> Floats:
    """Residuals of the least-squares fit of ``values`` on the columns of ``matrix``."""
    coefficients, *_ = np.linalg.lstsq(matrix, values, rcond=None)
    residuals: Floats = values - matrix @ coefficients
    return residuals
