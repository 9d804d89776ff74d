"""When a failed attempt is tried again: exponential backoff with equal jitter.

After attempt ``n`` failed, the ceiling is ``min(cap, base * 2 ** (n - 1))`` and
the next attempt waits half of it plus a random part of the other half (AWS's
"equal jitter"). The random half keeps receivers that failed together from
being hit again all at the same moment; the fixed half is a floor that grows
with every attempt, so the retries of one message cannot bunch up at the start
and all fall inside one outage (full jitter, from zero to the ceiling, could).

The least time from the first attempt to the last is the sum of the floors, so
the attempts, base and cap together say how long a receiver may stay down
before a message is given up (``retry_span``).
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
    half = backoff_ceiling(attempt, base=base, cap=cap) / 2
    return half + half * uniform()


def retry_span(attempts: int, *, base: timedelta, cap: timedelta) -> tuple[timedelta, timedelta]:
    """The least and the most time from the first of ``attempts`` attempts to the last."""
    ceilings = sum(
        (backoff_ceiling(attempt, base=base, cap=cap) for attempt in range(1, attempts)),
        timedelta(0),
    )
    return ceilings / 2, ceilings
