"""Exponential backoff with equal jitter, without a database."""

import random
from datetime import timedelta

import pytest

from server.core.settings import Settings
from server.notifications.backoff import backoff_ceiling, retry_delay, retry_span

BASE, CAP = timedelta(seconds=5), timedelta(minutes=10)


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 5), (2, 10), (3, 20), (4, 40), (7, 320), (8, 600), (9, 600), (500, 600)],
)
def test_the_ceiling_doubles_per_attempt_up_to_the_cap(attempt: int, ceiling: int) -> None:
    assert backoff_ceiling(attempt, base=BASE, cap=CAP) == timedelta(seconds=ceiling)


def test_the_delay_is_between_half_the_ceiling_and_the_ceiling() -> None:
    rng = random.Random(7)
    delays = [retry_delay(3, base=BASE, cap=CAP, uniform=rng.random) for _ in range(1000)]
    assert all(timedelta(seconds=10) <= delay < timedelta(seconds=20) for delay in delays)
    # The random half is spread over its whole range.
    assert min(delays) < timedelta(seconds=11)
    assert max(delays) > timedelta(seconds=19)


def test_jitter_at_its_bounds() -> None:
    assert retry_delay(2, base=BASE, cap=CAP, uniform=lambda: 0.0) == timedelta(seconds=5)
    assert retry_delay(2, base=BASE, cap=CAP, uniform=lambda: 0.5) == timedelta(seconds=7.5)
    assert retry_delay(2, base=BASE, cap=CAP, uniform=lambda: 1.0) == timedelta(seconds=10)
    assert retry_delay(9, base=BASE, cap=CAP, uniform=lambda: 0.0) == timedelta(minutes=5)


def test_no_run_of_retries_fits_in_a_twenty_second_outage() -> None:
    """Even at the shortest jitter, the fifth attempt comes after a 20 s outage
    that began with the first."""
    least, _ = retry_span(5, base=BASE, cap=CAP)
    assert least == timedelta(seconds=2.5 + 5 + 10 + 20)


def test_by_default_a_message_is_given_up_no_sooner_than_ten_minutes_after_its_first_try() -> None:
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    least, most = retry_span(
        defaults["notification_max_attempts"],
        base=defaults["notification_backoff_base"],
        cap=defaults["notification_backoff_cap"],
    )
    assert least >= timedelta(minutes=10)
    assert most <= timedelta(minutes=25)
