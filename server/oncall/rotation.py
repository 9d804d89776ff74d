"""Who is on call when: rotations turned into shifts, overrides applied. No I/O.

A rotation hands off at wall-clock times of its own time zone: the first handoff
is the latest moment at or before the rotation's start that falls on the handoff
time, and every next one lies ``shift_length`` later *on the local clock*. A daily
rotation at 09:00 Europe/Berlin therefore hands off at 09:00 in winter and in
summer, and the shift across a DST change lasts 23 or 25 hours of UTC. A local
time the clock skips (spring forward) is read with the offset before the change,
i.e. one hour later; a repeated one (fall back) is its first occurrence. The
first participant's first shift starts at the rotation's start (a partial turn
when it starts between handoffs); turns go round in participant order.

Overrides replace whoever the rotations put on call: a rotation shift is cut
where an override covers it, and the override's person is on call instead.
Explicit shifts stay as they are: whoever an override or rotation says, a person
on an explicit shift is on call too, and so are all of overlapping shifts.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

#: The shortest period: ``[at, at + INSTANT)`` holds ``at`` alone.
INSTANT = timedelta(microseconds=1)


class ShiftSource(StrEnum):
    SHIFT = "SHIFT"
    ROTATION = "ROTATION"
    OVERRIDE = "OVERRIDE"


@dataclass(frozen=True)
class Participant:
    person: str
    contact: str


@dataclass(frozen=True)
class Shift:
    """One person on call in ``[starts_at, ends_at)``.

    ``key`` is stable while its origin does not change: ``"<shift id>"`` for an
    explicit shift, ``"override:<id>"`` for an override, and
    ``"rotation:<id>:<turn>"`` for a rotation's turn (counted from 0 at its
    start), ``"rotation:<id>:<turn>:<part>"`` for the parts of a turn that
    overrides cut.
    """

    key: str
    schedule: str
    person: str
    contact: str
    starts_at: datetime
    ends_at: datetime
    source: ShiftSource

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def meets(self, start: datetime, end: datetime) -> bool:
        """Whether it intersects ``[start, end)``."""
        return self.starts_at < end and self.ends_at > start


@dataclass(frozen=True)
class RotationPlan:
    key: int
    schedule: str
    participants: tuple[Participant, ...]
    shift_length: timedelta
    handoff: time
    zone: ZoneInfo
    starts_at: datetime
    ends_at: datetime | None = None


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _anchor(plan: RotationPlan) -> datetime:
    """The local wall-clock time of handoff 0: on the handoff time, at or before the start."""
    anchor = datetime.combine(_local(plan.starts_at, plan.zone).date(), plan.handoff)
    while _utc(anchor, plan.zone) > plan.starts_at:
        anchor -= plan.shift_length
    return anchor


def _turn_at(plan: RotationPlan, anchor: datetime, moment: datetime) -> int:
    """The turn whose handoff is the latest at or before ``moment`` (0 at the earliest)."""
    turn = max(0, (_local(moment, plan.zone) - anchor) // plan.shift_length)
    while turn > 0 and _utc(anchor + turn * plan.shift_length, plan.zone) > moment:
        turn -= 1
    while _utc(anchor + (turn + 1) * plan.shift_length, plan.zone) <= moment:
        turn += 1
    return turn


def rotation_shifts(plan: RotationPlan, start: datetime, end: datetime) -> list[Shift]:
    """The rotation's turns that intersect ``[start, end)``, whole, in order."""
    if not plan.participants:
        return []
    start = max(start, plan.starts_at)
    if plan.ends_at is not None:
        end = min(end, plan.ends_at)
    if start >= end:
        return []
    anchor = _anchor(plan)
    turn = _turn_at(plan, anchor, start)
    shifts: list[Shift] = []
    while True:
        begins = max(_utc(anchor + turn * plan.shift_length, plan.zone), plan.starts_at)
        if begins >= end:
            return shifts
        ends = _utc(anchor + (turn + 1) * plan.shift_length, plan.zone)
        if plan.ends_at is not None:
            ends = min(ends, plan.ends_at)
        if ends > begins:
            shifts.append(_turn(plan, turn, begins, ends))
        turn += 1


def _turn(plan: RotationPlan, turn: int, begins: datetime, ends: datetime) -> Shift:
    participant = plan.participants[turn % len(plan.participants)]
    return Shift(
        key=f"rotation:{plan.key}:{turn}",
        schedule=plan.schedule,
        person=participant.person,
        contact=participant.contact,
        starts_at=begins,
        ends_at=ends,
        source=ShiftSource.ROTATION,
    )


def merged(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The union of intervals as disjoint ones, in order (touching ones joined)."""
    union: list[tuple[datetime, datetime]] = []
    for begins, ends in sorted(intervals):
        if union and begins <= union[-1][1]:
            union[-1] = (union[-1][0], max(union[-1][1], ends))
        else:
            union.append((begins, ends))
    return union


def _uncovered(
    shift: Shift, covered: Sequence[tuple[datetime, datetime]]
) -> Iterator[tuple[datetime, datetime]]:
    cursor = shift.starts_at
    for begins, ends in covered:
        if ends <= cursor or begins >= shift.ends_at:
            continue
        if begins > cursor:
            yield cursor, begins
        cursor = max(cursor, ends)
    if cursor < shift.ends_at:
        yield cursor, shift.ends_at


def apply_overrides(generated: Iterable[Shift], overrides: Sequence[Shift]) -> list[Shift]:
    """Rotation shifts with the periods overrides cover cut out of them."""
    covered = merged((o.starts_at, o.ends_at) for o in overrides)
    kept = []
    for shift in generated:
        parts = list(_uncovered(shift, covered))
        if parts == [(shift.starts_at, shift.ends_at)]:
            kept.append(shift)
            continue
        kept.extend(
            replace(shift, key=f"{shift.key}:{index}", starts_at=begins, ends_at=ends)
            for index, (begins, ends) in enumerate(parts)
        )
    return kept


def schedule_shifts(
    *,
    explicit: Sequence[Shift],
    rotations: Sequence[RotationPlan],
    overrides: Sequence[Shift],
    start: datetime,
    end: datetime,
) -> list[Shift]:
    """Everyone on call in one schedule during ``[start, end)``: explicit shifts,
    overrides, and the rotations' turns with the overrides applied; each shift
    whole (not clipped to the range), ordered by start."""
    generated = [shift for plan in rotations for shift in rotation_shifts(plan, start, end)]
    shifts = [
        *(s for s in explicit if s.meets(start, end)),
        *(s for s in overrides if s.meets(start, end)),
        *(s for s in apply_overrides(generated, overrides) if s.meets(start, end)),
    ]
    return sorted(shifts, key=lambda s: (s.starts_at, s.ends_at, s.schedule, s.person, s.key))


def by_schedule(shifts: Iterable[Shift]) -> list[Shift]:
    """Shifts by schedule, then start, then person."""
    return sorted(shifts, key=lambda s: (s.schedule, s.starts_at, s.person, s.key))
