"""Creating, changing and deleting shifts, rotations and overrides (checked drafts in)."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import get_in_workspace
from server.oncall.drafts import CheckedRotation, ShiftDraft
from server.oncall.models import OncallOverride, OncallRotation, OncallShift
from server.oncall.timeline import ensure_schedule


async def _schedule_id(session: AsyncSession, workspace_id: int, name: str, now: datetime) -> int:
    schedule = await ensure_schedule(session, workspace_id=workspace_id, name=name, now=now)
    return schedule.id


async def add_shift(
    session: AsyncSession, *, workspace_id: int, draft: ShiftDraft, now: datetime
) -> OncallShift:
    row = OncallShift(
        workspace_id=workspace_id,
        schedule_id=await _schedule_id(session, workspace_id, draft.schedule, now),
        person=draft.person,
        contact=draft.contact,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def change_shift(
    session: AsyncSession, *, workspace_id: int, shift_id: int, draft: ShiftDraft, now: datetime
) -> OncallShift:
    row = await get_in_workspace(
        session, OncallShift, shift_id, workspace_id=workspace_id, what="shift", for_update=True
    )
    row.schedule_id = await _schedule_id(session, workspace_id, draft.schedule, now)
    row.person, row.contact = draft.person, draft.contact
    row.starts_at, row.ends_at = draft.starts_at, draft.ends_at
    row.updated_at = now
    await session.flush()
    return row


async def add_rotation(
    session: AsyncSession, *, workspace_id: int, checked: CheckedRotation, now: datetime
) -> OncallRotation:
    row = OncallRotation(workspace_id=workspace_id, created_at=now)
    await _fill_rotation(session, row, checked, now)
    session.add(row)
    await session.flush()
    return row


async def change_rotation(
    session: AsyncSession,
    *,
    workspace_id: int,
    rotation_id: int,
    checked: CheckedRotation,
    now: datetime,
) -> OncallRotation:
    row = await get_in_workspace(
        session,
        OncallRotation,
        rotation_id,
        workspace_id=workspace_id,
        what="rotation",
        for_update=True,
    )
    await _fill_rotation(session, row, checked, now)
    await session.flush()
    return row


async def _fill_rotation(
    session: AsyncSession, row: OncallRotation, checked: CheckedRotation, now: datetime
) -> None:
    draft = checked.draft
    row.schedule_id = await _schedule_id(session, row.workspace_id, draft.schedule, now)
    row.name = draft.name
    row.participants = [{"person": p.person, "contact": p.contact} for p in draft.participants]
    row.shift_length_hours = draft.shift_length_hours
    row.handoff_minute = checked.handoff_minute
    row.time_zone = draft.time_zone
    row.starts_at, row.ends_at = draft.starts_at, draft.ends_at
    row.updated_at = now


async def add_override(
    session: AsyncSession, *, workspace_id: int, draft: ShiftDraft, now: datetime
) -> OncallOverride:
    row = OncallOverride(
        workspace_id=workspace_id,
        schedule_id=await _schedule_id(session, workspace_id, draft.schedule, now),
        person=draft.person,
        contact=draft.contact,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row
