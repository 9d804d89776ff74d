"""When a failed attempt is tried again: exponential backoff with full jitter.

After attempt ``n`` failed, the next waits a random time between zero and
``min(cap, base * 2 ** (n - 1))`` (AWS's "full jitter"): receivers that fail
together are not hit again all at the same moment.
"""

import random
from collections.abc import Callable
from datetime import timedelta


def backoff_ceiling(attempt: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """The longest wait after attempt ``attempt`` (1 for the first) failed."""
    exponent = min(max(attempt - 1, 0), 62)
    return timedelta(seconds=min(cap.total_seconds(), base.total_seconds() * 2.0**exponent))


def retry_delay(
    attempt: int,
    *,
    base: timedelta,
    cap: timedelta,
    uniform: Callable[[], float] = random.random,
) -> timedelta:
    """How long to wait before the attempt after ``attempt``; ``uniform`` gives [0, 1)."""
    return backoff_ceiling(attempt, base=base, cap=cap) * uniform()
