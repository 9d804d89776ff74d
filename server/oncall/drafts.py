"""What clients send to create or change on-call data, and the checks it must pass.

Errors name the input field they are about (``input.endsAt``), as GraphQL
clients see them.
"""

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.core.clock import require_offset
from server.core.errors import InvalidInput
from server.oncall.rotation import Participant

MAX_PERSON = 200
MAX_CONTACT = 320
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_PARTICIPANTS = 100
MAX_SHIFT_LENGTH_HOURS = 90 * 24
#: The longest period a read of shifts or coverage may span.
MAX_RANGE = timedelta(days=366)
#: Schedule names appear in URLs and in targets (``oncall://<schedule>``).
SCHEDULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_HOUR_MINUTE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True)
class ShiftDraft:
    """An explicit shift, or an override: one person for one period."""

    schedule: str
    person: str
    contact: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class RotationDraft:
    schedule: str
    name: str
    participants: list[Participant]
    shift_length_hours: int
    handoff_time: str
    time_zone: str
    starts_at: datetime
    ends_at: datetime | None = None


@dataclass(frozen=True)
class CheckedRotation:
    draft: RotationDraft
    handoff_minute: int


@dataclass(frozen=True)
class ScheduleDraft:
    name: str
    fallback_contact: str
    description: str | None = None


def schedule_name(name: str, *, field: str) -> str:
    if not SCHEDULE_NAME.fullmatch(name):
        raise InvalidInput(
            "a schedule name is 1 to 100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
            field=field,
        )
    return name


def _text(value: str, *, limit: int, field: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(cleaned) > limit:
        raise InvalidInput(f"{field} must be at most {limit} characters", field=field)
    return cleaned


def period(starts_at: datetime, ends_at: datetime, *, prefix: str) -> None:
    require_offset(starts_at, field=f"{prefix}.startsAt")
    require_offset(ends_at, field=f"{prefix}.endsAt")
    if ends_at <= starts_at:
        raise InvalidInput("endsAt must be after startsAt", field=f"{prefix}.endsAt")


def check_range(start: datetime, end: datetime) -> None:
    """A period to read: ``from`` before ``to``, at most ``MAX_RANGE`` long."""
    require_offset(start, field="from")
    require_offset(end, field="to")
    if end <= start:
        raise InvalidInput("to must be after from", field="to")
    if end - start > MAX_RANGE:
        raise InvalidInput(f"the period may span at most {MAX_RANGE.days} days", field="to")


def check_shift(draft: ShiftDraft) -> ShiftDraft:
    period(draft.starts_at, draft.ends_at, prefix="input")
    return ShiftDraft(
        schedule=schedule_name(draft.schedule, field="input.schedule"),
        person=_text(draft.person, limit=MAX_PERSON, field="input.person"),
        contact=_text(draft.contact, limit=MAX_CONTACT, field="input.contact"),
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
    )


def _participants(participants: list[Participant]) -> list[Participant]:
    if not 1 <= len(participants) <= MAX_PARTICIPANTS:
        raise InvalidInput(f"give 1 to {MAX_PARTICIPANTS} participants", field="input.participants")
    return [
        Participant(
            person=_text(p.person, limit=MAX_PERSON, field=f"input.participants.{i}.person"),
            contact=_text(p.contact, limit=MAX_CONTACT, field=f"input.participants.{i}.contact"),
        )
        for i, p in enumerate(participants)
    ]


def time_zone(name: str, *, field: str = "input.timeZone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(
            f"{name!r} is not an IANA time zone name (e.g. Europe/Berlin)", field=field
        ) from error


def handoff(value: str) -> time:
    found = _HOUR_MINUTE.fullmatch(value)
    if found is None:
        raise InvalidInput("handoffTime must be HH:MM, e.g. 09:00", field="input.handoffTime")
    return time(int(found[1]), int(found[2]))


def check_rotation(draft: RotationDraft) -> CheckedRotation:
    require_offset(draft.starts_at, field="input.startsAt")
    if draft.ends_at is not None:
        period(draft.starts_at, draft.ends_at, prefix="input")
    if not 1 <= draft.shift_length_hours <= MAX_SHIFT_LENGTH_HOURS:
        raise InvalidInput(
            f"shiftLengthHours must be between 1 and {MAX_SHIFT_LENGTH_HOURS}",
            field="input.shiftLengthHours",
        )
    time_zone(draft.time_zone)
    at = handoff(draft.handoff_time)
    checked = RotationDraft(
        schedule=schedule_name(draft.schedule, field="input.schedule"),
        name=_text(draft.name, limit=MAX_NAME, field="input.name"),
        participants=_participants(draft.participants),
        shift_length_hours=draft.shift_length_hours,
        handoff_time=f"{at:%H:%M}",
        time_zone=draft.time_zone,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
    )
    return CheckedRotation(checked, handoff_minute=at.hour * 60 + at.minute)


def check_schedule(draft: ScheduleDraft) -> ScheduleDraft:
    description = draft.description.strip() if draft.description else None
    if description and len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"description must be at most {MAX_DESCRIPTION} characters", field="input.description"
        )
    return ScheduleDraft(
        name=schedule_name(draft.name, field="input.name"),
        fallback_contact=_text(
            draft.fallback_contact, limit=MAX_CONTACT, field="input.fallbackContact"
        ),
        description=description or None,
    )
