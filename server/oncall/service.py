"""The on-call domain's front door: schedules, shifts, rotations, overrides, coverage
and the iCalendar feed.

The schema calls only this module. Other domains ask who is on call through
``server.oncall.targets``, the named entry point the import contracts allow them.
Lookups are scoped to the caller's workspace, so a row of another workspace reads
as missing; services flush and never commit.

Who is on call comes from three sources (``rotation.ShiftSource``): explicit
shifts, rotations and overrides. An override replaces the rotations' people for
its period; explicit shifts stay on call beside anyone else, and overlapping
shifts put all their people on call (``server.oncall.rotation``).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import get_in_workspace
from server.core.errors import NotFound
from server.core.pagination import Listing
from server.oncall import changes, drafts, feed
from server.oncall.coverage import Coverage, coverage
from server.oncall.drafts import RotationDraft, ScheduleDraft, ShiftDraft
from server.oncall.models import OncallOverride, OncallRotation, OncallSchedule, OncallShift
from server.oncall.rotation import INSTANT, Participant, Shift, ShiftSource, by_schedule
from server.oncall.timeline import (
    ensure_schedule,
    find_schedule,
    schedules_of,
    shift_of,
    timeline,
)

__all__ = [
    "Coverage",
    "FeedToken",
    "OncallOverride",
    "OncallRotation",
    "OncallSchedule",
    "Participant",
    "RotationDraft",
    "ScheduleDraft",
    "Shift",
    "ShiftDraft",
    "ShiftSource",
    "calendar_feed",
    "create_override",
    "create_rotation",
    "create_shift",
    "delete_override",
    "delete_rotation",
    "delete_shift",
    "list_overrides",
    "list_rotations",
    "list_schedules",
    "oncall_now",
    "rotate_feed_token",
    "rotation_participants",
    "schedule_coverage",
    "schedule_names",
    "shifts",
    "update_rotation",
    "update_shift",
    "upsert_schedule",
]


# Schedules


async def upsert_schedule(
    session: AsyncSession, *, workspace_id: int, draft: ScheduleDraft, now: datetime
) -> OncallSchedule:
    checked = drafts.check_schedule(draft)
    schedule = await ensure_schedule(session, workspace_id=workspace_id, name=checked.name, now=now)
    schedule.fallback_contact = checked.fallback_contact
    schedule.description = checked.description
    schedule.updated_at = now
    await session.flush()
    return schedule


def list_schedules(*, workspace_id: int) -> Listing[OncallSchedule]:
    query = select(OncallSchedule).where(OncallSchedule.workspace_id == workspace_id)
    return Listing(query, (OncallSchedule.id,))


async def schedule_names(
    session: AsyncSession, *, workspace_id: int, schedule_ids: list[int]
) -> list[str]:
    """The names of these schedules, in the order of ``schedule_ids``."""
    rows = await session.execute(
        select(OncallSchedule.id, OncallSchedule.name).where(
            OncallSchedule.workspace_id == workspace_id, OncallSchedule.id.in_(schedule_ids)
        )
    )
    names = {row.id: row.name for row in rows}
    return [names[schedule_id] for schedule_id in schedule_ids]


async def _schedule(session: AsyncSession, *, workspace_id: int, name: str) -> OncallSchedule:
    schedule = await find_schedule(session, workspace_id=workspace_id, name=name)
    if schedule is None:
        raise NotFound(f"schedule {name!r} not found")
    return schedule


# The iCalendar feed


@dataclass(frozen=True)
class FeedToken:
    schedule: OncallSchedule
    token: str
    path: str


async def rotate_feed_token(
    session: AsyncSession, *, workspace_id: int, schedule: str, now: datetime
) -> FeedToken:
    """Issue the schedule's feed token, shown this once; the previous one stops working."""
    row = await _schedule(session, workspace_id=workspace_id, name=schedule)
    token = feed.generate_token()
    row.feed_token_sha256 = feed.token_digest(token)
    row.feed_token_rotated_at = now
    row.updated_at = now
    await session.flush()
    return FeedToken(schedule=row, token=token, path=feed.feed_path(row.name, token))


async def calendar_feed(
    session: AsyncSession, *, schedule: str, token: str, now: datetime
) -> bytes | None:
    """The schedule's shifts from ``FEED_PAST`` before now to ``FEED_FUTURE`` after,
    as iCalendar; None unless the token is the schedule's current one."""
    if not token:
        return None
    row = await session.scalar(
        select(OncallSchedule).where(
            OncallSchedule.feed_token_sha256 == feed.token_digest(token),
            OncallSchedule.name == schedule,
        )
    )
    if row is None:
        return None
    found = await timeline(session, [row], now - feed.FEED_PAST, now + feed.FEED_FUTURE)
    return feed.render(row.name, found, workspace_id=row.workspace_id, now=now)


# Who is on call


async def shifts(
    session: AsyncSession, *, workspace_id: int, schedule: str, start: datetime, end: datetime
) -> list[Shift]:
    """Everyone on call in the schedule during ``[start, end)``, by start."""
    drafts.check_range(start, end)
    drafts.schedule_name(schedule, field="schedule")
    found = await schedules_of(session, workspace_id=workspace_id, name=schedule)
    return await timeline(session, found, start, end)


async def oncall_now(
    session: AsyncSession, *, workspace_id: int, schedule: str | None, now: datetime
) -> list[Shift]:
    """The shifts that cover ``now``, in one schedule or (None) in all of them, by
    schedule, start and person."""
    found = await schedules_of(session, workspace_id=workspace_id, name=schedule)
    covering = [s for s in await timeline(session, found, now, now + INSTANT) if s.covers(now)]
    return by_schedule(covering)


async def schedule_coverage(
    session: AsyncSession, *, workspace_id: int, schedule: str, start: datetime, end: datetime
) -> Coverage:
    found = await shifts(
        session, workspace_id=workspace_id, schedule=schedule, start=start, end=end
    )
    return coverage(found, start, end)


# Explicit shifts


async def create_shift(
    session: AsyncSession, *, workspace_id: int, draft: ShiftDraft, now: datetime
) -> Shift:
    checked = drafts.check_shift(draft)
    row = await changes.add_shift(session, workspace_id=workspace_id, draft=checked, now=now)
    return shift_of(row, checked.schedule)


async def update_shift(
    session: AsyncSession, *, workspace_id: int, shift_id: int, draft: ShiftDraft, now: datetime
) -> Shift:
    checked = drafts.check_shift(draft)
    row = await changes.change_shift(
        session, workspace_id=workspace_id, shift_id=shift_id, draft=checked, now=now
    )
    return shift_of(row, checked.schedule)


async def delete_shift(session: AsyncSession, *, workspace_id: int, shift_id: int) -> Shift:
    row = await get_in_workspace(
        session, OncallShift, shift_id, workspace_id=workspace_id, what="shift"
    )
    (name,) = await schedule_names(
        session, workspace_id=workspace_id, schedule_ids=[row.schedule_id]
    )
    await session.execute(delete(OncallShift).where(OncallShift.id == row.id))
    return shift_of(row, name)


# Rotations


def rotation_participants(row: OncallRotation) -> list[Participant]:
    return [Participant(p["person"], p["contact"]) for p in row.participants]


def _schedule_ids(workspace_id: int, name: str) -> Select[int]:
    return select(OncallSchedule.id).where(
        OncallSchedule.workspace_id == workspace_id, OncallSchedule.name == name
    )


def list_rotations(*, workspace_id: int, schedule: str | None) -> Listing[OncallRotation]:
    query = select(OncallRotation).where(OncallRotation.workspace_id == workspace_id)
    if schedule is not None:
        query = query.where(OncallRotation.schedule_id.in_(_schedule_ids(workspace_id, schedule)))
    return Listing(query, (OncallRotation.id,))


async def create_rotation(
    session: AsyncSession, *, workspace_id: int, draft: RotationDraft, now: datetime
) -> OncallRotation:
    checked = drafts.check_rotation(draft)
    return await changes.add_rotation(session, workspace_id=workspace_id, checked=checked, now=now)


async def update_rotation(
    session: AsyncSession,
    *,
    workspace_id: int,
    rotation_id: int,
    draft: RotationDraft,
    now: datetime,
) -> OncallRotation:
    checked = drafts.check_rotation(draft)
    return await changes.change_rotation(
        session, workspace_id=workspace_id, rotation_id=rotation_id, checked=checked, now=now
    )


async def delete_rotation(
    session: AsyncSession, *, workspace_id: int, rotation_id: int
) -> OncallRotation:
    row = await get_in_workspace(
        session, OncallRotation, rotation_id, workspace_id=workspace_id, what="rotation"
    )
    await session.execute(delete(OncallRotation).where(OncallRotation.id == row.id))
    return row


# Overrides


def list_overrides(*, workspace_id: int, schedule: str | None) -> Listing[OncallOverride]:
    query = select(OncallOverride).where(OncallOverride.workspace_id == workspace_id)
    if schedule is not None:
        query = query.where(OncallOverride.schedule_id.in_(_schedule_ids(workspace_id, schedule)))
    return Listing(query, (OncallOverride.id,))


async def create_override(
    session: AsyncSession, *, workspace_id: int, draft: ShiftDraft, now: datetime
) -> OncallOverride:
    checked = drafts.check_shift(draft)
    return await changes.add_override(session, workspace_id=workspace_id, draft=checked, now=now)


async def delete_override(
    session: AsyncSession, *, workspace_id: int, override_id: int
) -> OncallOverride:
    row = await get_in_workspace(
        session, OncallOverride, override_id, workspace_id=workspace_id, what="override"
    )
    await session.execute(delete(OncallOverride).where(OncallOverride.id == row.id))
    return row
