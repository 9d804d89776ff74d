"""A fixed-window request limit per API key."""

import math
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimitStatus:
    limit: int
    remaining: int
    reset_seconds: int

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0


class RateLimiter:
    """Counts requests per key in one-minute windows; ``per_minute=0`` turns it off."""

    WINDOW_SECONDS = 60.0

    def __init__(self, *, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[int, tuple[float, int]] = {}

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def hit(self, key_id: int) -> RateLimitStatus:
        now = time.monotonic()
        started, count = self._windows.get(key_id, (now, 0))
        if now - started >= self.WINDOW_SECONDS:
            started, count = now, 0
        count += 1
        self._windows[key_id] = (started, count)
        reset = math.ceil(self.WINDOW_SECONDS - (now - started))
        return RateLimitStatus(
            limit=self.per_minute, remaining=self.per_minute - count, reset_seconds=reset
        )
