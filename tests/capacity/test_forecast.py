"""The forecast's math on synthetic series of 14 days at 1-minute resolution,
averaged by the hour as the roll-ups are, each with a known answer."""

from collections.abc import Callable

import numpy as np
import pytest

from server.capacity.forecast import (
    SEARCH_FACTOR,
    History,
    Limits,
    NotEnoughHistory,
    forecast,
)

DAY = 86_400.0
HOUR = 3_600.0
NOW = 1_772_452_800.0  # 2026-03-02T12:00:00Z, on the hour
LIMITS = Limits(capacity=1000.0, warning_ratio=0.8, horizon_seconds=30 * DAY)
Curve = Callable[[np.ndarray], np.ndarray]


def hourly_history(curve: Curve, *, noise: float = 0.0, days: float = 14, seed: int = 7) -> History:
    times = np.arange(NOW - days * DAY, NOW, 60.0)
    values = curve(times) + np.random.default_rng(seed).normal(0.0, noise, len(times))
    hours = ((times - times[0]) // HOUR).astype(np.int64)
    means = np.bincount(hours, values) / np.bincount(hours)
    middles = times[0] + np.arange(len(means)) * HOUR + HOUR / 2
    return History(middles, means, HOUR, len(times))


def true_crossing(curve: Curve, threshold: float) -> float | None:
    """Seconds from NOW until the noise-free curve first reaches ``threshold``."""
    times = np.arange(NOW, NOW + SEARCH_FACTOR * LIMITS.horizon_seconds, 60.0)
    reached = np.flatnonzero(curve(times) >= threshold)
    return float(times[reached[0]] - NOW) if len(reached) else None


def days_from_now(times: np.ndarray) -> np.ndarray:
    return (times - NOW) / DAY


def linear(times: np.ndarray) -> np.ndarray:
    return 600 + 10 * days_from_now(times)


def daily_cycle_on_trend(times: np.ndarray) -> np.ndarray:
    values: np.ndarray = 600 + 8 * days_from_now(times)
    cycled: np.ndarray = values + 80 * np.sin(2 * np.pi * np.mod(times, DAY) / DAY)
    return cycled


def step_at_day_10(times: np.ndarray) -> np.ndarray:
    values: np.ndarray = 450 + 10 * days_from_now(times)
    stepped: np.ndarray = values + 150 * (times >= NOW - 4 * DAY)
    return stepped


def assert_close(found: float | None, expected: float | None, relative: float) -> None:
    assert found is not None
    assert expected is not None
    assert abs(found - expected) <= relative * expected, (found / DAY, expected / DAY)


def test_linear_growth_reaches_capacity_when_the_line_does() -> None:
    """Tolerance: 0.5 % of the true 40 days (noise-free, so the fit is exact)."""
    result = forecast(hourly_history(linear), LIMITS, now=NOW)
    assert result.method == "linear"
    assert_close(result.seconds_to_exhaustion, true_crossing(linear, 1000), 0.005)
    assert_close(result.seconds_to_warning, true_crossing(linear, 800), 0.005)
    assert result.slope_per_day == pytest.approx(10, rel=1e-6)
    assert result.predicted_value == pytest.approx(900, rel=1e-3)
    assert result.points == 14 * 1440
    assert result.buckets == 14 * 24


def test_a_flat_meter_never_reaches_its_capacity() -> None:
    result = forecast(hourly_history(lambda t: 600 + 0 * t, noise=5), LIMITS, now=NOW)
    assert result.seconds_to_warning is None
    assert result.seconds_to_exhaustion is None
    assert result.seasonality == ()
    assert result.lower < 600 < result.upper


def test_a_daily_cycle_on_a_trend_reaches_capacity_at_a_daily_peak() -> None:
    """Tolerance: 2 % of the true time; a straight line would be days late."""
    result = forecast(hourly_history(daily_cycle_on_trend, noise=3), LIMITS, now=NOW)
    assert result.seasonality == ("daily",)
    expected = true_crossing(daily_cycle_on_trend, 1000)
    assert_close(result.seconds_to_exhaustion, expected, 0.02)
    assert_close(result.seconds_to_warning, true_crossing(daily_cycle_on_trend, 800), 0.02)


def test_noise_around_a_trend_is_averaged_out_and_widens_the_interval() -> None:
    """Tolerance: 5 % of the true 40 days, with noise of 40 around a 10/day trend."""
    result = forecast(hourly_history(linear, noise=40), LIMITS, now=NOW)
    assert result.method == "linear"
    assert_close(result.seconds_to_exhaustion, true_crossing(linear, 1000), 0.05)
    true_value = float(linear(np.array([NOW + LIMITS.horizon_seconds]))[0])
    assert result.lower < true_value < result.upper
    hourly_spread = 40 / 60**0.5  # the interval is of an hour's average
    assert result.upper - result.lower > 2 * 1.28 * hourly_spread


def test_a_step_change_is_projected_from_the_level_after_it() -> None:
    """Tolerance: 2 % of the true 40 days; a line through the step would be far early."""
    result = forecast(hourly_history(step_at_day_10, noise=5), LIMITS, now=NOW)
    assert "level_shift" in result.method
    assert result.level_shift_at == pytest.approx(NOW - 4 * DAY, abs=HOUR)
    assert_close(result.seconds_to_exhaustion, true_crossing(step_at_day_10, 1000), 0.02)


def test_a_crossing_beyond_the_search_horizon_is_never() -> None:
    slow = Limits(capacity=1000.0, warning_ratio=0.8, horizon_seconds=5 * DAY)
    result = forecast(hourly_history(linear), slow, now=NOW)
    assert result.seconds_to_exhaustion is None  # 40 days > 4 x 5 days
    assert result.seconds_to_warning is None  # 20 days = 4 x 5 days, at the bound
    assert result.predicted_value == pytest.approx(650, rel=1e-3)


def test_a_meter_over_its_warning_level_crosses_now() -> None:
    result = forecast(hourly_history(lambda t: 900 + 0 * t, noise=1), LIMITS, now=NOW)
    assert result.seconds_to_warning == 0.0
    assert result.seconds_to_exhaustion is None


def test_a_random_walk_shows_no_cycle() -> None:
    steps = np.random.default_rng(3).normal(0, 0.5, 14 * 1440)
    walk = 500 + np.cumsum(steps)

    def curve(times: np.ndarray) -> np.ndarray:
        return walk[: len(times)]

    assert forecast(hourly_history(curve), LIMITS, now=NOW).seasonality == ()


def test_spikes_are_left_out_but_clustered_residuals_are_kept() -> None:
    history = hourly_history(linear, noise=2)
    spiked = history.values.copy()
    spiked[[40, 200]] += 400
    result = forecast(History(history.times, spiked, HOUR, history.samples), LIMITS, now=NOW)
    assert_close(result.seconds_to_exhaustion, true_crossing(linear, 1000), 0.01)
    pattern = np.resize([1.0, 1.0, -2.0], len(history.values))
    noise = np.random.default_rng(5).normal(0, 0.01, len(pattern))
    lumpy = History(history.times, history.values + pattern + noise, HOUR, history.samples)
    assert forecast(lumpy, LIMITS, now=NOW).buckets == 14 * 24


def test_too_short_a_history_is_refused() -> None:
    with pytest.raises(NotEnoughHistory):
        forecast(hourly_history(linear, days=3 / 24), LIMITS, now=NOW)
