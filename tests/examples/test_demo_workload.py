"""The demo's workload, computed without a server: its buckets and its burn rates."""

from datetime import UTC, datetime, timedelta

import pytest

from server.transport.demo_workload import (
    HISTORY,
    SERVICES,
    TOTAL_SIGNAL,
    DemoSample,
    Workload,
    history_buckets,
)

STARTED = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


def burn(samples: list[DemoSample], service: str, since: datetime) -> float:
    """The bad share of a service's requests after ``since``, over its error budget."""
    demo = next(each for each in SERVICES if each.name == service)
    recent = [s for s in samples if s.service == service and s.ts > since]
    total = sum(s.value for s in recent if s.name == TOTAL_SIGNAL)
    good = sum(s.value for s in recent if s.name == demo.good_signal)
    return (1 - good / total) / demo.error_budget


def test_the_history_buckets_cover_28_days_without_gap_or_overlap() -> None:
    buckets = list(history_buckets(STARTED))
    assert buckets[0] == (STARTED - HISTORY + timedelta(hours=1), timedelta(hours=1))
    assert buckets[-1] == (STARTED, timedelta(minutes=1))
    for (end, _), (next_end, next_width) in zip(buckets, buckets[1:], strict=False):
        assert next_end - next_width == end


@pytest.mark.parametrize("started", [STARTED, STARTED + timedelta(hours=7, minutes=13)])
def test_checkout_burns_fast_and_payments_slowly_whenever_the_demo_starts(
    started: datetime,
) -> None:
    samples = Workload(started).history()

    def rate(service: str, window: timedelta) -> float:
        return burn(samples, service, started - window)

    assert rate("checkout", timedelta(hours=1)) > 14.4  # the page pair fires
    assert rate("checkout", timedelta(minutes=5)) > 14.4
    assert 0.8 <= rate("checkout", HISTORY) < 1.0  # CRITICAL
    assert rate("payments", timedelta(days=1)) > 3  # a ticket pair fires
    assert rate("payments", timedelta(hours=2)) > 3
    assert rate("payments", timedelta(hours=6)) < 6  # no page pair
    assert 0.5 <= rate("payments", HISTORY) < 0.8  # WARNING
    for healthy in ("search", "inventory"):
        assert rate(healthy, HISTORY) < 0.5
        assert rate(healthy, timedelta(hours=1)) < 1


def test_live_buckets_go_on_burning_as_the_history_ended() -> None:
    workload = Workload(STARTED)
    workload.history()
    ends = [STARTED + timedelta(seconds=5 * tick) for tick in range(1, 121)]
    samples = [sample for end in ends for sample in workload.samples(end, timedelta(seconds=5))]
    assert burn(samples, "checkout", STARTED) > 20
    assert 3 < burn(samples, "payments", STARTED) < 5
    assert burn(samples, "search", STARTED) < 1
