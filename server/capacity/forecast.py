"""Capacity forecasts: a meter's bucketed history fitted and projected; pure, no I/O.

The model is one least-squares regression (statsmodels' OLS) of the bucket
averages on time, chosen from the data:

- a linear trend, always;
- Fourier terms of a daily and of a weekly cycle, each when the detrended
  history shows it: autocorrelation at the period's lag of at least
  ``SEASONAL_ACF``, above the one at half the period by ``SEASONAL_CONTRAST``
  (a cycle peaks at its period and troughs at half of it; a wandering level is
  high at both), over at least ``MIN_CYCLES`` whole periods; the number of
  harmonics is the one with the lowest BIC;
- level shifts, the largest first, each kept when its F statistic and its size
  in residual standard deviations both clear a bar (``shifts``), and a change
  of slope at the most recent shift when it is significant: the projection
  starts from the level after the last shift;
- isolated spikes (beyond ``SPIKE_SIGMAS`` robust deviations) are left out of
  the final fit.

The 80 % prediction interval comes from the fit's heteroscedasticity and
autocorrelation consistent covariance (Newey-West), so that correlated
residuals widen it rather than hide. Times to warning and to exhaustion are
the first moments the fitted path (trend plus cycle) reaches the threshold,
searched up to ``SEARCH_FACTOR`` times the policy's horizon: beyond that a
linear extrapolation says little, and the time is None (never).
"""

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from server.capacity import shifts
from server.capacity.design import DAY, WEEK, Design, Season, fit_residuals

Floats = npt.NDArray[np.float64]

MIN_BUCKETS = 4
SEASONAL_ACF = 0.3
SEASONAL_CONTRAST = 0.3
MIN_CYCLES = 2
SPIKE_SIGMAS = 6.0
MAX_SPIKE_SHARE = 0.05
INTERVAL = 0.8
SEARCH_FACTOR = 4
#: Harmonics tried for each cycle (the weekly ones stay below the daily's 7th).
HARMONICS = {DAY: (1, 2, 3, 4, 6), WEEK: (1, 2, 3)}
PERIOD_NAMES = {DAY: "daily", WEEK: "weekly"}
#: Points per shortest period when the path is searched for a crossing.
SEARCH_RESOLUTION = 288


class NotEnoughHistory(ValueError):
    pass


@dataclass(frozen=True)
class History:
    """Bucket averages of a meter: ``times`` are the buckets' middles (epoch
    seconds, ascending), ``step`` their width, ``samples`` the raw samples."""

    times: Floats
    values: Floats
    step: float
    samples: int


@dataclass(frozen=True)
class Limits:
    capacity: float
    warning_ratio: float
    horizon_seconds: float

    @property
    def warning(self) -> float:
        return self.capacity * self.warning_ratio


@dataclass(frozen=True)
class Forecast:
    method: str
    current_value: float
    predicted_value: float
    lower: float
    upper: float
    #: Seconds from now; None when not reached within the search horizon.
    seconds_to_warning: float | None
    seconds_to_exhaustion: float | None
    points: int
    buckets: int
    slope_per_day: float
    seasonality: tuple[str, ...]
    #: Epoch seconds of the most recent level shift the fit found.
    level_shift_at: float | None


def _regular(history: History, residuals: Floats) -> Floats:
    """Residuals on a regular grid of buckets, NaN where a bucket had no samples."""
    index = np.rint((history.times - history.times[0]) / history.step).astype(np.int64)
    grid = np.full(int(index[-1]) + 1, np.nan)
    grid[index] = residuals
    return grid


def _has_cycle(history: History, residuals: Floats, period: float) -> bool:
    from statsmodels.tsa.stattools import acf

    lag = round(period / history.step)
    grid = _regular(history, residuals)
    if lag < 4 or len(grid) < MIN_CYCLES * lag or np.nanstd(grid) == 0:
        return False
    correlations = acf(grid, nlags=lag, missing="conservative", fft=True)
    at_period, at_half = float(correlations[lag]), float(correlations[lag // 2])
    return at_period >= SEASONAL_ACF and at_period - at_half >= SEASONAL_CONTRAST


def _bic(design: Design, history: History, now: float) -> float:
    residuals = fit_residuals(design.matrix(history.times, now), history.values)
    n = len(residuals)
    rss = max(float(residuals @ residuals), 1e-300)
    return n * math.log(rss / n) + design.width * math.log(n)


def _with_cycle(design: Design, history: History, now: float, period: float) -> Design:
    candidates = [design.with_season(Season(period, k)) for k in HARMONICS[period]]
    usable = [c for c in candidates if c.width < len(history.values) - 2]
    if not usable:
        return design
    return min(usable, key=lambda candidate: _bic(candidate, history, now))


def _seasonal(design: Design, history: History, now: float) -> Design:
    for period in (DAY, WEEK):
        if any(season.period == period for season in design.seasons):
            continue
        residuals = fit_residuals(design.matrix(history.times, now), history.values)
        if _has_cycle(history, residuals, period):
            design = _with_cycle(design, history, now, period)
    return design


def choose_design(history: History, now: float) -> Design:
    """Trend, cycles, shifts and a slope change, in that order; cycles are looked
    for again once shifts are known (a shift hides a cycle's autocorrelation)."""
    design = _seasonal(Design(), history, now)
    design = shifts.with_shifts(design, history.times, history.values, now, step=history.step)
    if design.shifts:
        design = _seasonal(design, history, now)
        design = shifts.with_slope_change(design, history.times, history.values, now)
    return design


def _without_spikes(design: Design, history: History, now: float) -> npt.NDArray[np.bool_]:
    """The buckets to fit: all but isolated spikes, i.e. residuals beyond
    ``SPIKE_SIGMAS`` robust deviations from their median, when they are few
    (at most ``MAX_SPIKE_SHARE``); residuals in clusters are kept whole."""
    residuals = fit_residuals(design.matrix(history.times, now), history.values)
    distance = np.abs(residuals - np.median(residuals))
    deviation = 1.4826 * float(np.median(distance))
    kept: npt.NDArray[np.bool_] = distance <= SPIKE_SIGMAS * deviation
    if deviation == 0 or np.count_nonzero(~kept) > MAX_SPIKE_SHARE * len(residuals):
        return np.ones(len(residuals), dtype=bool)
    return kept


def forecast(history: History, limits: Limits, *, now: float) -> Forecast:
    """Fit the history and project it from ``now`` (epoch seconds)."""
    from statsmodels.regression.linear_model import OLS

    if len(history.values) < MIN_BUCKETS:
        raise NotEnoughHistory(
            f"{len(history.values)} bucket(s) of history; a forecast needs {MIN_BUCKETS}"
        )
    design = choose_design(history, now)
    kept = _without_spikes(design, history, now)
    times, values = history.times[kept], history.values[kept]
    matrix = design.matrix(times, now)
    lags = max(1, math.ceil(4 * (len(values) / 100) ** (2 / 9)))
    fitted = OLS(values, matrix).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    coefficients: Floats = np.asarray(fitted.params, dtype=np.float64)
    horizon_row = design.matrix(np.array([now + limits.horizon_seconds]), now)
    prediction = fitted.get_prediction(horizon_row)
    lower, upper = np.asarray(prediction.conf_int(obs=True, alpha=1 - INTERVAL))[0]
    path = Path(design, coefficients, now)
    search_end = SEARCH_FACTOR * limits.horizon_seconds
    current = float(history.values[-1])
    return Forecast(
        method=design.method,
        current_value=current,
        predicted_value=float(np.asarray(prediction.predicted_mean)[0]),
        lower=float(lower),
        upper=float(upper),
        seconds_to_warning=path.first_crossing(limits.warning, current, search_end),
        seconds_to_exhaustion=path.first_crossing(limits.capacity, current, search_end),
        points=history.samples,
        buckets=len(history.values),
        slope_per_day=path.slope_per_day,
        seasonality=tuple(PERIOD_NAMES[season.period] for season in design.seasons),
        level_shift_at=max(design.shifts) if design.shifts else None,
    )


@dataclass(frozen=True)
class Path:
    """The fitted path from ``now`` on: every shift lies in the past, so it is a
    straight line plus the cycles."""

    design: Design
    coefficients: Floats
    now: float

    @property
    def slope_per_day(self) -> float:
        return float(self.design.future_slope(self.coefficients))

    def values(self, times: Floats) -> Floats:
        result: Floats = self.design.matrix(times, self.now) @ self.coefficients
        return result

    def first_crossing(self, threshold: float, current: float, search: float) -> float | None:
        """Seconds from now until the path first reaches ``threshold``; 0 when the
        current value has already; None when not within ``search`` seconds."""
        if current >= threshold:
            return 0.0
        seasons = self.design.seasons
        if not seasons:
            crossing = self._linear_crossing(threshold)
        else:
            crossing = self._seasonal_crossing(threshold, max(s.period for s in seasons))
        return crossing if crossing is not None and crossing <= search else None

    def _linear_crossing(self, threshold: float) -> float | None:
        level = float(self.values(np.array([self.now]))[0])
        if level >= threshold:
            return 0.0
        slope = self.slope_per_day
        return (threshold - level) / slope * DAY if slope > 0 else None

    def _seasonal_crossing(self, threshold: float, longest: float) -> float | None:
        """The path cannot cross before its trend plus the cycles' highest point
        does, and must within one longest period after: only that period is searched."""
        shortest = min(season.period for season in self.design.seasons)
        count = round(longest / shortest * SEARCH_RESOLUTION)
        offsets = np.linspace(0.0, longest, count + 1)
        trend = self.design.trend_only(self.coefficients, self.now)
        cycle_peak = float(np.max(self.values(self.now + offsets) - trend.values(offsets)))
        level, slope = trend.level, trend.slope_per_day / DAY
        start = 0.0
        if slope > 0:
            start = max(0.0, (threshold - cycle_peak - level) / slope)
        elif level + cycle_peak < threshold:
            return None
        times = self.now + start + offsets
        gaps = self.values(times) - threshold
        reached = np.flatnonzero(gaps >= 0)
        if len(reached) == 0:
            return None
        first = int(reached[0])
        if first == 0:
            return start
        before, after = float(gaps[first - 1]), float(gaps[first])
        fraction = -before / (after - before)
        return start + float(offsets[first - 1] + fraction * (offsets[first] - offsets[first - 1]))
