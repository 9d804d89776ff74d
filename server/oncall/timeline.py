"""The on-call timeline of schedules read from the database: the rows that put
people on call in a period, turned into ``Shift``s by ``server.oncall.rotation``."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.oncall.models import OncallOverride, OncallRotation, OncallSchedule, OncallShift
from server.oncall.rotation import (
    Participant,
    RotationPlan,
    Shift,
    ShiftSource,
    rotation_shifts,
    schedule_shifts,
)

_HOUR = timedelta(hours=1)


async def find_schedule(
    session: AsyncSession, *, workspace_id: int, name: str
) -> OncallSchedule | None:
    found: OncallSchedule | None = await session.scalar(
        select(OncallSchedule).where(
            OncallSchedule.workspace_id == workspace_id, OncallSchedule.name == name
        )
    )
    return found


async def ensure_schedule(
    session: AsyncSession, *, workspace_id: int, name: str, now: datetime
) -> OncallSchedule:
    """The schedule of this name, created (without fallback contact) if new; two
    requests naming a new schedule at once both get the one row."""
    connection = await session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(OncallSchedule)
        .values(workspace_id=workspace_id, name=name, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["workspace_id", "name"])
    )
    schedule = await find_schedule(session, workspace_id=workspace_id, name=name)
    assert schedule is not None
    return schedule


async def schedules_of(
    session: AsyncSession, *, workspace_id: int, name: str | None = None
) -> list[OncallSchedule]:
    """The workspace's schedules by name, or the one named (none if it does not exist)."""
    query = select(OncallSchedule).where(OncallSchedule.workspace_id == workspace_id)
    if name is not None:
        query = query.where(OncallSchedule.name == name)
    return list((await session.scalars(query.order_by(OncallSchedule.name))).all())


def shift_of(row: OncallShift, schedule: str) -> Shift:
    return Shift(
        key=str(row.id),
        schedule=schedule,
        person=row.person,
        contact=row.contact,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        source=ShiftSource.SHIFT,
    )


def override_shift(row: OncallOverride, schedule: str) -> Shift:
    return Shift(
        key=f"override:{row.id}",
        schedule=schedule,
        person=row.person,
        contact=row.contact,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        source=ShiftSource.OVERRIDE,
    )


def rotation_plan(row: OncallRotation, schedule: str) -> RotationPlan:
    hours, minutes = divmod(row.handoff_minute, 60)
    return RotationPlan(
        key=row.id,
        schedule=schedule,
        participants=tuple(Participant(p["person"], p["contact"]) for p in row.participants),
        shift_length=row.shift_length_hours * _HOUR,
        handoff=time(hours, minutes),
        zone=ZoneInfo(row.time_zone),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )


async def _explicit(
    session: AsyncSession, ids: list[int], start: datetime, end: datetime
) -> list[OncallShift]:
    rows = await session.scalars(
        select(OncallShift).where(
            OncallShift.schedule_id.in_(ids),
            OncallShift.starts_at < end,
            OncallShift.ends_at > start,
        )
    )
    return list(rows.all())


async def _rotations(
    session: AsyncSession, ids: list[int], start: datetime, end: datetime
) -> list[OncallRotation]:
    rows = await session.scalars(
        select(OncallRotation).where(
            OncallRotation.schedule_id.in_(ids),
            OncallRotation.starts_at < end,
            or_(OncallRotation.ends_at.is_(None), OncallRotation.ends_at > start),
        )
    )
    return list(rows.all())


async def _overrides(
    session: AsyncSession, ids: list[int], start: datetime, end: datetime
) -> list[OncallOverride]:
    rows = await session.scalars(
        select(OncallOverride).where(
            OncallOverride.schedule_id.in_(ids),
            OncallOverride.starts_at < end,
            OncallOverride.ends_at > start,
        )
    )
    return list(rows.all())


async def timeline(
    session: AsyncSession, schedules: Sequence[OncallSchedule], start: datetime, end: datetime
) -> list[Shift]:
    """Everyone on call in these schedules during ``[start, end)`` (see
    ``rotation.schedule_shifts``), ordered by start."""
    if not schedules:
        return []
    names = {schedule.id: schedule.name for schedule in schedules}
    ids = list(names)
    explicit: dict[int, list[Shift]] = defaultdict(list)
    for row in await _explicit(session, ids, start, end):
        explicit[row.schedule_id].append(shift_of(row, names[row.schedule_id]))
    plans: dict[int, list[RotationPlan]] = defaultdict(list)
    for rotation in await _rotations(session, ids, start, end):
        plans[rotation.schedule_id].append(rotation_plan(rotation, names[rotation.schedule_id]))
    # Turns are returned whole, so overrides that cut them may lie outside the period.
    turns = [s for group in plans.values() for p in group for s in rotation_shifts(p, start, end)]
    reach_start = min([start, *(s.starts_at for s in turns)])
    reach_end = max([end, *(s.ends_at for s in turns)])
    overrides: dict[int, list[Shift]] = defaultdict(list)
    for override in await _overrides(session, ids, reach_start, reach_end):
        overrides[override.schedule_id].append(
            override_shift(override, names[override.schedule_id])
        )
    shifts = [
        shift
        for schedule_id in ids
        for shift in schedule_shifts(
            explicit=explicit[schedule_id],
            rotations=plans[schedule_id],
            overrides=overrides[schedule_id],
            start=start,
            end=end,
        )
    ]
    return sorted(shifts, key=lambda s: (s.starts_at, s.ends_at, s.schedule, s.person, s.key))
