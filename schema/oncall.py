"""On-call: schedules, shifts, rotations, overrides, coverage and the feed token."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import strawberry

from schema.audited import audited_mutation
from schema.context import Info
from schema.ids import parse_id
from schema.oncall_types import (
    From,
    OncallOverrideInput,
    OncallOverrideType,
    OncallRotationInput,
    OncallRotationType,
    OncallScheduleInput,
    OncallScheduleType,
    OncallShiftInput,
    OncallShiftType,
    ScheduleCoverage,
    ScheduleFeedToken,
)
from schema.pagination import Connection, connection
from schema.permissions import CanRead
from server.core.auth import Permission
from server.oncall import service as oncall

T = TypeVar("T")


def _now(info: Info) -> datetime:
    return info.context.services.clock.now()


async def _in_workspace(info: Info, operation: Callable[..., Awaitable[T]], **arguments: Any) -> T:
    """``operation(session, workspace_id=<the caller's>, **arguments)``."""
    context = info.context
    async with context.session() as session:
        return await operation(session, workspace_id=context.principal.workspace_id, **arguments)


@strawberry.type
class OncallQuery:
    @strawberry.field(
        permission_classes=[CanRead],
        description="Everyone on call in [from, to): explicit shifts, overrides and the "
        "rotations' turns (overrides applied), each whole, by start.",
    )
    async def shifts(
        self, info: Info, schedule: str, from_: From, to: datetime
    ) -> list[OncallShiftType]:
        found = await _in_workspace(info, oncall.shifts, schedule=schedule, start=from_, end=to)
        return [OncallShiftType.from_shift(shift) for shift in found]

    @strawberry.field(
        permission_classes=[CanRead],
        description="The shifts on now, in one schedule or in every schedule, by "
        "schedule, start and person.",
    )
    async def oncall_now(self, info: Info, schedule: str | None = None) -> list[OncallShiftType]:
        found = await _in_workspace(info, oncall.oncall_now, schedule=schedule, now=_now(info))
        return [OncallShiftType.from_shift(shift) for shift in found]

    @strawberry.field(permission_classes=[CanRead])
    async def schedule_coverage(
        self, info: Info, schedule: str, from_: From, to: datetime
    ) -> ScheduleCoverage:
        found = await _in_workspace(
            info, oncall.schedule_coverage, schedule=schedule, start=from_, end=to
        )
        return ScheduleCoverage.from_coverage(found)

    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def oncall_schedules(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[OncallScheduleType]:
        listing = oncall.list_schedules(workspace_id=info.context.principal.workspace_id)
        return await connection(
            info, listing, OncallScheduleType.from_model, first=first, after=after
        )

    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def oncall_rotations(
        self,
        info: Info,
        schedule: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[OncallRotationType]:
        listing = oncall.list_rotations(
            workspace_id=info.context.principal.workspace_id, schedule=schedule
        )
        return await connection(
            info, listing, OncallRotationType.from_model, first=first, after=after
        )

    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def oncall_overrides(
        self,
        info: Info,
        schedule: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[OncallOverrideType]:
        listing = oncall.list_overrides(
            workspace_id=info.context.principal.workspace_id, schedule=schedule
        )
        return await connection(
            info, listing, OncallOverrideType.from_model, first=first, after=after
        )


WRITE = Permission.OBSERVABILITY_WRITE


@strawberry.type
class OncallMutation:
    @audited_mutation(WRITE, description="Overlapping shifts put all their people on call.")
    async def create_oncall_shift(self, info: Info, input: OncallShiftInput) -> OncallShiftType:
        shift = await _in_workspace(
            info, oncall.create_shift, draft=input.to_draft(), now=_now(info)
        )
        return OncallShiftType.from_shift(shift)

    @audited_mutation(WRITE)
    async def update_oncall_shift(
        self, info: Info, id: strawberry.ID, input: OncallShiftInput
    ) -> OncallShiftType:
        shift = await _in_workspace(
            info, oncall.update_shift, shift_id=parse_id(id), draft=input.to_draft(), now=_now(info)
        )
        return OncallShiftType.from_shift(shift)

    @audited_mutation(WRITE)
    async def delete_oncall_shift(self, info: Info, id: strawberry.ID) -> OncallShiftType:
        shift = await _in_workspace(info, oncall.delete_shift, shift_id=parse_id(id))
        return OncallShiftType.from_shift(shift)

    @audited_mutation(WRITE, description="Create a schedule or change its settings.")
    async def upsert_oncall_schedule(
        self, info: Info, input: OncallScheduleInput
    ) -> OncallScheduleType:
        draft = oncall.ScheduleDraft(input.name, input.fallback_contact, input.description)
        row = await _in_workspace(info, oncall.upsert_schedule, draft=draft, now=_now(info))
        return OncallScheduleType.from_model(row)

    @audited_mutation(
        Permission.ADMIN,
        description="Issue a new token for the schedule's iCalendar feed; the old one "
        "stops working at once.",
    )
    async def rotate_schedule_feed_token(self, info: Info, schedule: str) -> ScheduleFeedToken:
        issued = await _in_workspace(
            info, oncall.rotate_feed_token, schedule=schedule, now=_now(info)
        )
        return ScheduleFeedToken(
            schedule=OncallScheduleType.from_model(issued.schedule),
            url=issued.path,
            token=issued.token,
        )

    @audited_mutation(WRITE)
    async def create_oncall_rotation(
        self, info: Info, input: OncallRotationInput
    ) -> OncallRotationType:
        row = await _in_workspace(
            info, oncall.create_rotation, draft=input.to_draft(), now=_now(info)
        )
        return OncallRotationType.from_model(row)

    @audited_mutation(WRITE, description="Replace a rotation's settings.")
    async def update_oncall_rotation(
        self, info: Info, id: strawberry.ID, input: OncallRotationInput
    ) -> OncallRotationType:
        row = await _in_workspace(
            info,
            oncall.update_rotation,
            rotation_id=parse_id(id),
            draft=input.to_draft(),
            now=_now(info),
        )
        return OncallRotationType.from_model(row)

    @audited_mutation(WRITE)
    async def delete_oncall_rotation(self, info: Info, id: strawberry.ID) -> OncallRotationType:
        row = await _in_workspace(info, oncall.delete_rotation, rotation_id=parse_id(id))
        return OncallRotationType.from_model(row)

    @audited_mutation(
        WRITE,
        description="Put someone on call in place of whoever the schedule's rotations "
        "name for the period; explicit shifts stay on call.",
    )
    async def create_oncall_override(
        self, info: Info, input: OncallOverrideInput
    ) -> OncallOverrideType:
        row = await _in_workspace(
            info, oncall.create_override, draft=input.to_draft(), now=_now(info)
        )
        return OncallOverrideType.from_model(row)

    @audited_mutation(WRITE)
    async def delete_oncall_override(self, info: Info, id: strawberry.ID) -> OncallOverrideType:
        row = await _in_workspace(info, oncall.delete_override, override_id=parse_id(id))
        return OncallOverrideType.from_model(row)
