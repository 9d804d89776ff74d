"""On-call types and inputs: schedules, shifts, rotations, overrides, coverage."""

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.dataloader import DataLoader

from schema.context import Context, Info
from schema.ids import to_id
from server.oncall import service as oncall

From = Annotated[datetime, strawberry.argument(name="from")]

ShiftSource = strawberry.enum(oncall.ShiftSource, name="ShiftSource")


@strawberry.input(description="One person on call in a schedule from startsAt to endsAt.")
class OncallShiftInput:
    schedule: str = strawberry.field(description="Created if new: letters, digits, _ . -")
    person: str
    contact: str = strawberry.field(description="How to reach them, e.g. an email address.")
    starts_at: datetime
    ends_at: datetime = strawberry.field(description="Exclusive; after startsAt.")

    def to_draft(self) -> oncall.ShiftDraft:
        return oncall.ShiftDraft(
            self.schedule, self.person, self.contact, self.starts_at, self.ends_at
        )


@strawberry.input(description="Someone in place of the schedule's rotations for a while.")
class OncallOverrideInput(OncallShiftInput):
    pass


@strawberry.input
class ParticipantInput:
    person: str
    contact: str


@strawberry.input(
    description="Participants take turns of shiftLengthHours in order; turns hand off at "
    "handoffTime on the wall clock of timeZone, so a turn across a DST change is an "
    "hour shorter or longer in UTC. The first turn starts at startsAt."
)
class OncallRotationInput:
    schedule: str
    name: str
    participants: list[ParticipantInput]
    shift_length_hours: int
    handoff_time: str = strawberry.field(description="HH:MM local time, e.g. 09:00.")
    time_zone: str = strawberry.field(description="An IANA name, e.g. Europe/Berlin.")
    starts_at: datetime
    ends_at: datetime | None = None

    def to_draft(self) -> oncall.RotationDraft:
        return oncall.RotationDraft(
            schedule=self.schedule,
            name=self.name,
            participants=[oncall.Participant(p.person, p.contact) for p in self.participants],
            shift_length_hours=self.shift_length_hours,
            handoff_time=self.handoff_time,
            time_zone=self.time_zone,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
        )


@strawberry.input
class OncallScheduleInput:
    name: str
    fallback_contact: str = strawberry.field(description="Whom to reach when nobody is on call.")
    description: str | None = None


@strawberry.type(
    name="OncallShift",
    description="Someone on call. The id is stable while its origin does not change: the "
    "shift's own id for SHIFT (to update or delete it), override:<override id> for "
    "OVERRIDE, rotation:<rotation id>:<turn> for a ROTATION turn (turns counted from 0 at "
    "the rotation's start), with :<part> added to each part of a turn an override cuts.",
)
class OncallShiftType:
    id: strawberry.ID
    schedule: str
    person: str
    contact: str
    starts_at: datetime
    ends_at: datetime
    source: ShiftSource  # type: ignore[valid-type]

    @classmethod
    def from_shift(cls, shift: oncall.Shift) -> "OncallShiftType":
        return cls(
            id=strawberry.ID(shift.key),
            schedule=shift.schedule,
            person=shift.person,
            contact=shift.contact,
            starts_at=shift.starts_at,
            ends_at=shift.ends_at,
            source=shift.source,
        )


async def _load_schedule_names(context: Context, ids: list[int]) -> list[str]:
    async with context.session() as session:
        return await oncall.schedule_names(
            session, workspace_id=context.principal.workspace_id, schedule_ids=ids
        )


async def _schedule_name(info: Info, schedule_id: int) -> str:
    context = info.context
    loader: DataLoader[int, str] = context.loader(
        "oncall_schedule_names", lambda ids: _load_schedule_names(context, ids)
    )
    return await loader.load(schedule_id)


@strawberry.type(name="Participant")
class ParticipantType:
    person: str
    contact: str


@strawberry.type(name="OncallRotation")
class OncallRotationType:
    id: strawberry.ID
    schedule_id: strawberry.Private[int]
    name: str
    participants: list[ParticipantType]
    shift_length_hours: int
    handoff_time: str
    time_zone: str
    starts_at: datetime
    ends_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @strawberry.field
    async def schedule(self, info: Info) -> str:
        return await _schedule_name(info, self.schedule_id)

    @classmethod
    def from_model(cls, row: oncall.OncallRotation) -> "OncallRotationType":
        hours, minutes = divmod(row.handoff_minute, 60)
        return cls(
            id=to_id(row.id),
            schedule_id=row.schedule_id,
            name=row.name,
            participants=[
                ParticipantType(person=p.person, contact=p.contact)
                for p in oncall.rotation_participants(row)
            ],
            shift_length_hours=row.shift_length_hours,
            handoff_time=f"{hours:02d}:{minutes:02d}",
            time_zone=row.time_zone,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(name="OncallOverride")
class OncallOverrideType:
    id: strawberry.ID
    schedule_id: strawberry.Private[int]
    person: str
    contact: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime

    @strawberry.field
    async def schedule(self, info: Info) -> str:
        return await _schedule_name(info, self.schedule_id)

    @classmethod
    def from_model(cls, row: oncall.OncallOverride) -> "OncallOverrideType":
        return cls(
            id=to_id(row.id),
            schedule_id=row.schedule_id,
            person=row.person,
            contact=row.contact,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            created_at=row.created_at,
        )


@strawberry.type(name="OncallSchedule")
class OncallScheduleType:
    id: strawberry.ID
    name: str
    description: str | None
    fallback_contact: str | None
    feed_enabled: bool = strawberry.field(description="Whether a feed token was issued.")
    feed_token_rotated_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: oncall.OncallSchedule) -> "OncallScheduleType":
        return cls(
            id=to_id(row.id),
            name=row.name,
            description=row.description,
            fallback_contact=row.fallback_contact,
            feed_enabled=row.feed_token_sha256 is not None,
            feed_token_rotated_at=row.feed_token_rotated_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type
class ScheduleFeedToken:
    schedule: OncallScheduleType
    url: str = strawberry.field(
        description="The feed's path and query on this server, token included: append it "
        "to the server's address to subscribe a calendar."
    )
    token: str = strawberry.field(description="Shown this once; the previous token is void.")

    def audit_target(self) -> str:
        return f"OncallSchedule:{self.schedule.id}"


@strawberry.type
class TimeRange:
    from_: datetime = strawberry.field(name="from")
    to: datetime


@strawberry.type
class PersonHours:
    person: str
    hours: float


@strawberry.type
class ScheduleCoverage:
    gaps: list[TimeRange] = strawberry.field(description="When nobody is on call.")
    people: list[PersonHours] = strawberry.field(description="Hours on call, most first.")

    @classmethod
    def from_coverage(cls, found: oncall.Coverage) -> "ScheduleCoverage":
        return cls(
            gaps=[TimeRange(from_=start, to=end) for start, end in found.gaps],
            people=[PersonHours(person=p.person, hours=p.hours) for p in found.people],
        )
