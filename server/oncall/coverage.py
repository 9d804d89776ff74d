"""Coverage of a schedule over a period: when nobody is on call, and each person's hours.

Pure arithmetic on the shifts ``server.oncall.rotation`` produces; no I/O.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from server.oncall.rotation import Shift, merged

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class PersonHours:
    person: str
    hours: float


@dataclass(frozen=True)
class Coverage:
    gaps: list[Interval]
    people: list[PersonHours]


def _clipped(shifts: Iterable[Shift], start: datetime, end: datetime) -> list[Interval]:
    return [(max(s.starts_at, start), min(s.ends_at, end)) for s in shifts if s.meets(start, end)]


def gaps(shifts: Iterable[Shift], start: datetime, end: datetime) -> list[Interval]:
    """The parts of ``[start, end)`` in which nobody is on call, in order."""
    found = []
    cursor = start
    for begins, ends in merged(_clipped(shifts, start, end)):
        if begins > cursor:
            found.append((cursor, begins))
        cursor = max(cursor, ends)
    if cursor < end:
        found.append((cursor, end))
    return found


def hours_by_person(shifts: Iterable[Shift], start: datetime, end: datetime) -> list[PersonHours]:
    """Each person's hours on call inside ``[start, end)``, most first (then by name).

    A person's overlapping shifts count once: an hour on call is an hour.
    """
    by_person: dict[str, list[Interval]] = defaultdict(list)
    for shift in shifts:
        by_person[shift.person].extend(_clipped([shift], start, end))
    totals = [
        PersonHours(person, sum((e - b).total_seconds() for b, e in merged(spans)) / 3600)
        for person, spans in by_person.items()
        if spans
    ]
    return sorted(totals, key=lambda p: (-p.hours, p.person))


def coverage(shifts: Sequence[Shift], start: datetime, end: datetime) -> Coverage:
    return Coverage(gaps=gaps(shifts, start, end), people=hours_by_person(shifts, start, end))
