"""Who an ``oncall://`` target reaches, and when shifts change hands.

The named entry point of the on-call domain for the others (escalation,
notifications): ``resolve`` at notification time, ``handovers`` for
SHIFT_HANDOVER escalations.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import InvalidInput
from server.oncall.drafts import SCHEDULE_NAME
from server.oncall.rotation import INSTANT, Shift, by_schedule
from server.oncall.timeline import schedules_of, timeline

SCHEME = "oncall://"
ACTIVE = "active"


@dataclass(frozen=True)
class OnCallContact:
    schedule: str
    person: str
    contact: str


@dataclass(frozen=True)
class Resolution:
    contacts: list[OnCallContact]
    fallback_contacts: list[str]


@dataclass(frozen=True)
class Handover:
    schedule: str
    at: datetime
    incoming: list[OnCallContact]


def schedule_of_target(target: str) -> str | None:
    """The schedule a target names, or None for ``oncall://active`` (every schedule)."""
    name = target.removeprefix(SCHEME) if target.startswith(SCHEME) else None
    if name == ACTIVE:
        return None
    if name is None or not SCHEDULE_NAME.fullmatch(name):
        raise InvalidInput(
            f"{target!r} is not an on-call target: oncall://active or oncall://<schedule>",
            field="target",
        )
    return name


def _contacts(shifts: Sequence[Shift]) -> list[OnCallContact]:
    """One contact per schedule, person and contact, in the order given."""
    return list(dict.fromkeys(OnCallContact(s.schedule, s.person, s.contact) for s in shifts))


async def resolve(
    session: AsyncSession, *, workspace_id: int, target: str, at: datetime
) -> Resolution:
    """Everyone on call at ``at`` in the target's schedules (``oncall://active``:
    every schedule), with the fallback contacts of those schedules to reach when
    nobody is. A schedule nobody created resolves to nobody."""
    schedules = await schedules_of(
        session, workspace_id=workspace_id, name=schedule_of_target(target)
    )
    shifts = await timeline(session, schedules, at, at + INSTANT)
    return Resolution(
        contacts=_contacts(by_schedule(s for s in shifts if s.covers(at))),
        fallback_contacts=list(
            dict.fromkeys(s.fallback_contact for s in schedules if s.fallback_contact)
        ),
    )


def _handovers_of(shifts: Sequence[Shift], after: datetime, until: datetime) -> list[Handover]:
    moments = sorted({s.starts_at for s in shifts if after < s.starts_at <= until})
    found = []
    for at in moments:
        before = set(_contacts([s for s in shifts if s.starts_at < at <= s.ends_at]))
        incoming = [c for c in _contacts([s for s in shifts if s.covers(at)]) if c not in before]
        if incoming:
            found.append(Handover(schedule=incoming[0].schedule, at=at, incoming=incoming))
    return found


async def handovers(
    session: AsyncSession, *, workspace_id: int, after: datetime, until: datetime
) -> list[Handover]:
    """The moments in ``(after, until]`` at which someone came on call in a schedule,
    with who came (those on call just before are not incoming), by time then schedule.
    A rotation handing over to the same person again is no handover."""
    if until <= after:
        return []
    schedules = await schedules_of(session, workspace_id=workspace_id)
    shifts = await timeline(session, schedules, after, until + INSTANT)
    found = [
        handover
        for schedule in schedules
        for handover in _handovers_of(
            [s for s in shifts if s.schedule == schedule.name], after, until
        )
    ]
    return sorted(found, key=lambda h: (h.at, h.schedule))
