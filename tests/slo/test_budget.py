"""Error-budget arithmetic and window planning, without a database."""

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from server.slo import budget, windows
from server.slo.budget import Counts, SloStatus

AT = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def test_the_objective_is_read_as_the_decimal_it_was_given() -> None:
    assert budget.error_budget(99.9) == Fraction(1, 1000)
    assert budget.error_budget(99.0) == Fraction(1, 100)
    assert budget.error_budget(0.5) == Fraction(995, 1000)


@pytest.mark.parametrize(
    ("bad", "status"),
    [
        (0, SloStatus.HEALTHY),
        (4, SloStatus.HEALTHY),  # 0.4 of the budget
        (5, SloStatus.WARNING),  # exactly half: floats would say 0.49999999999999994
        (7, SloStatus.WARNING),
        (8, SloStatus.CRITICAL),  # exactly 80 %
        (9, SloStatus.CRITICAL),
        (10, SloStatus.EXHAUSTED),  # exactly the whole budget
        (1000, SloStatus.EXHAUSTED),
    ],
)
def test_status_bands_are_exact_at_their_edges(bad: int, status: SloStatus) -> None:
    # 99 %: 10 bad events of 1,000 spend the whole budget.
    assessment = budget.assess(99.0, Counts(good=1000 - bad, total=1000), _no_burn())
    assert assessment.status is status
    assert assessment.budget_consumed == pytest.approx(bad / 10)
    assert assessment.budget_remaining == pytest.approx(1 - bad / 10)


def _no_burn() -> dict[str, Counts]:
    return {burn.name: Counts(0, 0) for burn in budget.BURN_WINDOWS}


def test_a_window_without_events_has_no_data_and_no_figures() -> None:
    assessment = budget.assess(99.9, Counts(0, 0), _no_burn())
    assert assessment.status is SloStatus.NO_DATA
    assert assessment.sli is None
    assert assessment.budget_consumed is None
    assert assessment.budget_remaining is None
    assert set(assessment.burn_rates.values()) == {None}
    assert assessment.firing_pairs == []
    assert assessment.fastest_burn is None


def test_more_good_than_total_reads_as_no_bad_events() -> None:
    assessment = budget.assess(99.0, Counts(good=120, total=100), _no_burn())
    assert assessment.sli == 1.0
    assert assessment.budget_consumed == 0.0


def _burns(**rates: Fraction | None) -> dict[str, Fraction | None]:
    found: dict[str, Fraction | None] = {burn.name: Fraction(0) for burn in budget.BURN_WINDOWS}
    found.update({name.removeprefix("w"): rate for name, rate in rates.items()})
    return found


def test_a_pair_fires_only_when_both_windows_exceed_its_factor() -> None:
    # The long window alone (1h at 20x, 5m at 10x) does not fire 1h/5m.
    assert budget.firing_pairs(_burns(w1h=Fraction(20), w5m=Fraction(10))) == []
    assert budget.firing_pairs(_burns(w1h=Fraction(20), w5m=None)) == []
    assert budget.firing_pairs(_burns(w1h=Fraction(20), w5m=Fraction(15))) == ["1h/5m"]
    # Exceed means strictly above: a burn rate of exactly the factor does not fire.
    assert budget.firing_pairs(_burns(w1h=Fraction("14.4"), w5m=Fraction(20))) == []
    everything = {burn.name: Fraction(100) for burn in budget.BURN_WINDOWS}
    assert budget.firing_pairs(everything) == ["1h/5m", "6h/30m", "1d/2h", "3d/6h"]


def test_the_worst_status_ranks_no_data_between_warning_and_healthy() -> None:
    assert budget.worst_status([SloStatus.HEALTHY, SloStatus.NO_DATA]) is SloStatus.NO_DATA
    assert budget.worst_status([SloStatus.NO_DATA, SloStatus.WARNING]) is SloStatus.WARNING
    assert budget.worst_status([SloStatus.CRITICAL, SloStatus.EXHAUSTED]) is SloStatus.EXHAUSTED
    assert budget.worst_status([]) is None


def test_an_incident_needs_a_postmortem_above_a_fifth_of_the_budget() -> None:
    window = Counts(good=9_900, total=10_000)  # 99 %: 100 bad events make the budget
    exactly = budget.incident_share(Counts(good=0, total=20), window, 99.0)
    assert exactly == Fraction(1, 5)
    assert not budget.needs_postmortem(exactly)
    assert budget.needs_postmortem(budget.incident_share(Counts(0, 21), window, 99.0))
    assert budget.incident_share(Counts(0, 21), Counts(0, 0), 99.0) is None


# --- windows ---------------------------------------------------------------------------


def test_a_sample_at_the_window_start_is_outside_and_one_at_at_inside() -> None:
    plan = windows.plan(AT, [AT - timedelta(days=1)])
    window = plan.windows[0]
    start = AT - timedelta(days=1)
    assert not window.raw_holds((start, windows.POINT))
    assert window.raw_holds((start, windows.ABOVE))
    assert window.raw_holds((AT, windows.POINT))
    assert not window.raw_holds((AT, windows.ABOVE))


def test_whole_settled_hours_come_from_roll_ups_and_the_edges_raw() -> None:
    at = datetime(2026, 3, 2, 11, 17, 30, tzinfo=UTC)
    plan = windows.plan(at, [at - timedelta(days=1), at - timedelta(hours=1)])
    day, hour = plan.windows
    # The day from March 1, 11:17:30: whole hours from 12:00 up to the hour
    # that ended 5 minutes before ``at`` (11:00), raw before and after.
    assert day.rolled is not None
    assert windows.hour_start(day.rolled[0]) == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert windows.hour_start(day.rolled[1]) == datetime(2026, 3, 2, 11, tzinfo=UTC)
    # A sample exactly at 12:00 on March 1 belongs to the first rolled hour.
    assert not day.raw_holds((datetime(2026, 3, 1, 12, tzinfo=UTC), windows.POINT))
    assert day.raw_holds((datetime(2026, 3, 2, 11, tzinfo=UTC), windows.POINT))
    assert hour.rolled is None
    assert plan.rolled_hours == day.rolled


def test_an_hour_is_rolled_up_only_once_it_settled() -> None:
    at = datetime(2026, 3, 2, 11, 4, 59, tzinfo=UTC)
    plan = windows.plan(at, [at - timedelta(days=1)])
    assert plan.rolled_hours is not None
    assert windows.hour_start(plan.rolled_hours[1]) == datetime(2026, 3, 2, 10, tzinfo=UTC)
    later = windows.plan(at + timedelta(seconds=1), [at - timedelta(days=1)])
    assert later.rolled_hours is not None
    assert windows.hour_start(later.rolled_hours[1]) == datetime(2026, 3, 2, 11, tzinfo=UTC)


def test_segments_partition_every_window_raw_part() -> None:
    at = datetime(2026, 3, 2, 11, 17, 30, tzinfo=UTC)
    starts = [at - burn.length for burn in budget.BURN_WINDOWS] + [at - timedelta(days=7)]
    plan = windows.plan(at, starts)
    segments = plan.segments
    assert len(segments) == len(set(segments))
    assert segments == tuple(sorted(segments, reverse=True))
    moments = [at - timedelta(minutes=m) for m in (0, 1, 5, 59, 60, 61, 117, 120, 1440, 9000)]
    for moment in moments:
        # The segment a sample falls in is the first whose test it passes.
        segment = next(p for p in segments if (moment, windows.POINT) >= p)
        for window in plan.windows:
            inside = window.start < moment <= window.end
            rolled = window.rolled is not None and (
                windows.hour_start(window.rolled[0])
                <= moment
                < windows.hour_start(window.rolled[1])
            )
            assert window.raw_holds(segment) == (inside and not rolled), (moment, window)


def test_each_window_adds_up_exactly_its_raw_segments_and_rolled_hours() -> None:
    at = datetime(2026, 3, 2, 11, 17, 30, tzinfo=UTC)
    starts = [at - burn.length for burn in budget.BURN_WINDOWS] + [at - timedelta(days=7)]
    plan = windows.plan(at, starts)
    firsts = plan.rolled_firsts
    for window, picks in zip(plan.windows, plan.picks, strict=True):
        assert picks.raw == tuple(
            k for k, probe in enumerate(plan.segments) if window.raw_holds(probe)
        )
        # Rolled segment k holds hours [firsts[k], firsts[k-1]); together, a window's
        # rolled segments hold exactly its rolled hours.
        hours = {
            hour
            for k in picks.rolled
            for hour in range(firsts[k], firsts[k - 1] if k else plan.settled_hour)
        }
        expected = set(range(*window.rolled)) if window.rolled else set()
        assert hours == expected


def test_the_sweep_rechecks_the_last_hours_and_a_full_check_every_rolled_hour() -> None:
    at = datetime(2026, 3, 2, 11, 17, 30, tzinfo=UTC)
    full = windows.plan(at, [at - timedelta(days=7)])
    assert full.rolled_hours is not None
    assert full.checked_hours == full.rolled_hours
    recent = windows.plan(at, [at - timedelta(days=7)], recheck_hours=24)
    assert recent.checked_hours == (full.rolled_hours[1] - 24, full.rolled_hours[1])
    short = windows.plan(at, [at - timedelta(hours=6)], recheck_hours=24)
    assert short.checked_hours == short.rolled_hours
    assert windows.plan(at, [at - timedelta(minutes=30)]).checked_hours is None


def test_an_incident_window_starts_at_its_first_firing_at_most_the_slo_window_back() -> None:
    fired = [AT - timedelta(hours=3), AT - timedelta(days=30)]
    starts = windows.evaluation_starts(AT, window_days=7, incidents_fired_at=fired)
    assert starts[0] == AT - timedelta(days=7)
    assert starts[1 : 1 + len(budget.BURN_WINDOWS)] == [
        AT - burn.length for burn in budget.BURN_WINDOWS
    ]
    assert starts[-2:] == [AT - timedelta(hours=3), AT - timedelta(days=7)]
