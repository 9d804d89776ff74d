"""Injectable time: every timestamp in opsgraph comes from a ``Clock``."""

from datetime import UTC, datetime, timedelta
from typing import Protocol

from server.core.errors import InvalidInput


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to; used by tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment


def require_offset(moment: datetime | None, *, field: str) -> None:
    """Refuse a timestamp without a timezone offset: every time opsgraph keeps is UTC."""
    if moment is not None and moment.utcoffset() is None:
        raise InvalidInput(f"{field} must carry a timezone offset", field=field)
