"""Exponential backoff with full jitter, without a database."""

import random
from datetime import timedelta

import pytest

from server.notifications.backoff import backoff_ceiling, retry_delay

BASE, CAP = timedelta(seconds=5), timedelta(minutes=10)


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 5), (2, 10), (3, 20), (4, 40), (7, 320), (8, 600), (9, 600), (500, 600)],
)
def test_the_ceiling_doubles_per_attempt_up_to_the_cap(attempt: int, ceiling: int) -> None:
    assert backoff_ceiling(attempt, base=BASE, cap=CAP) == timedelta(seconds=ceiling)


def test_the_delay_is_anywhere_between_zero_and_the_ceiling() -> None:
    rng = random.Random(7)
    delays = [retry_delay(3, base=BASE, cap=CAP, uniform=rng.random) for _ in range(1000)]
    assert all(timedelta(0) <= delay < timedelta(seconds=20) for delay in delays)
    # Full jitter spreads retries over the whole range.
    assert min(delays) < timedelta(seconds=2)
    assert max(delays) > timedelta(seconds=18)


def test_jitter_at_its_bounds() -> None:
    assert retry_delay(2, base=BASE, cap=CAP, uniform=lambda: 0.0) == timedelta(0)
    assert retry_delay(2, base=BASE, cap=CAP, uniform=lambda: 0.5) == timedelta(seconds=5)
