"""When scheduled backups and drills are due: pure slot arithmetic, no I/O.

Time is cut into slots of one interval each, starting at midnight UTC (of
1970-01-01) plus an offset: with a day and 02:00, one slot a night from 02:00.
A slot is due once: when nothing started in it yet, and at most a quarter of a
slot late, so that a replica started at noon does not take the night's backup
in the middle of the day, while one restarted just after 02:00 catches up.
"""

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How often a schedule is looked at, at most.
LONGEST_CHECK = timedelta(minutes=10)


def slot_start(now: datetime, *, interval: timedelta, offset: timedelta) -> datetime:
    """The start of the slot ``now`` falls in."""
    origin = EPOCH + offset
    return origin + interval * ((now - origin) // interval)


def is_due(
    now: datetime, *, interval: timedelta, offset: timedelta, last_started: datetime | None
) -> bool:
    """Whether a run is due now, given when the newest one started (None: never)."""
    start = slot_start(now, interval=interval, offset=offset)
    if now - start > interval / 4:
        return False
    return last_started is None or last_started < start


def check_every(interval: timedelta) -> timedelta:
    """How often to look at a schedule of this interval: often enough to start
    within an eighth of a slot, and at least every ten minutes."""
    return min(interval / 8, LONGEST_CHECK)
