"""Silence rules: create, change, expire, delete and list them."""

from datetime import datetime

import strawberry

from schema.audited import audited_mutation
from schema.context import Info
from schema.ids import parse_id, to_id
from schema.matchers import MatcherInput, MatcherType, to_matchers
from schema.pagination import Connection, connection
from schema.permissions import CanRead
from server.alerts import service as alerts
from server.core.auth import Permission

SilenceState = strawberry.enum(alerts.SilenceState, name="SilenceState")
Weekday = strawberry.enum(alerts.Weekday, name="Weekday")


@strawberry.input(description="Weekly windows, in UTC, inside the rule's start and end.")
class RecurrenceInput:
    weekdays: list[Weekday]  # type: ignore[valid-type]
    start_time: str = strawberry.field(description="HH:MM in UTC, e.g. 02:00.")
    duration_minutes: int


@strawberry.input
class SilenceRuleInput:
    matchers: list[MatcherInput] = strawberry.field(
        description="All must match; the label `service` means the alert's service."
    )
    ends_at: datetime
    starts_at: datetime | None = strawberry.field(
        default=None,
        description="Now if left out (on update: the rule keeps its start).",
    )
    comment: str | None = None
    recurrence: RecurrenceInput | None = None

    def to_draft(self) -> alerts.SilenceDraft:
        recurrence = self.recurrence
        return alerts.SilenceDraft(
            matchers=to_matchers(self.matchers),
            ends_at=self.ends_at,
            starts_at=self.starts_at,
            comment=self.comment,
            recurrence=alerts.RecurrenceDraft(
                weekdays=[int(day) for day in recurrence.weekdays],
                start_time=recurrence.start_time,
                duration_minutes=recurrence.duration_minutes,
            )
            if recurrence
            else None,
        )


@strawberry.type
class Recurrence:
    weekdays: list[Weekday]  # type: ignore[valid-type]
    start_time: str
    duration_minutes: int

    @classmethod
    def from_recurrence(cls, recurrence: alerts.Recurrence) -> "Recurrence":
        hours, minutes = divmod(recurrence.start_minute, 60)
        return cls(
            weekdays=[alerts.Weekday(day) for day in recurrence.weekdays],
            start_time=f"{hours:02d}:{minutes:02d}",
            duration_minutes=recurrence.duration_minutes,
        )


@strawberry.type(name="SilenceRule")
class SilenceRuleType:
    id: strawberry.ID
    matchers: list[MatcherType]
    starts_at: datetime
    ends_at: datetime
    recurrence: Recurrence | None
    author: str
    comment: str | None
    created_at: datetime
    updated_at: datetime
    state: SilenceState  # type: ignore[valid-type]
    silencing_now: bool = strawberry.field(
        description="Whether it silences matching alerts at this moment (inside a "
        "recurrence window, if it has one)."
    )

    @classmethod
    def from_model(cls, row: alerts.SilenceRule, now: datetime) -> "SilenceRuleType":
        recurrence = alerts.rule_recurrence(row)
        return cls(
            id=to_id(row.id),
            matchers=[MatcherType.from_matcher(m) for m in alerts.rule_matchers(row)],
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            recurrence=Recurrence.from_recurrence(recurrence) if recurrence else None,
            author=row.author,
            comment=row.comment,
            created_at=row.created_at,
            updated_at=row.updated_at,
            state=alerts.state_at(row, now),
            silencing_now=alerts.silences_at(row, now),
        )


def _now(info: Info) -> datetime:
    return info.context.services.clock.now()


@strawberry.type
class SilenceQuery:
    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def silence_rules(
        self,
        info: Info,
        state: SilenceState | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[SilenceRuleType]:
        now = _now(info)
        listing = alerts.list_silence_rules(
            workspace_id=info.context.principal.workspace_id, state=state, now=now
        )
        return await connection(
            info,
            listing,
            lambda row: SilenceRuleType.from_model(row, now),
            first=first,
            after=after,
        )

    @strawberry.field(permission_classes=[CanRead])
    async def silence_rule(self, info: Info, id: strawberry.ID) -> SilenceRuleType | None:
        context = info.context
        async with context.session() as session:
            row = await alerts.find_silence_rule(
                session, workspace_id=context.principal.workspace_id, rule_id=parse_id(id)
            )
        return SilenceRuleType.from_model(row, _now(info)) if row else None


@strawberry.type
class SilenceMutation:
    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Silence the alerts that match, from startsAt to endsAt.",
    )
    async def create_silence_rule(self, info: Info, input: SilenceRuleInput) -> SilenceRuleType:
        context = info.context
        now = _now(info)
        async with context.session() as session:
            rule = await alerts.create_silence_rule(
                session,
                workspace_id=context.principal.workspace_id,
                draft=input.to_draft(),
                author=context.principal.key_name,
                now=now,
            )
        return SilenceRuleType.from_model(rule, now)

    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="Replace a rule's settings.")
    async def update_silence_rule(
        self, info: Info, id: strawberry.ID, input: SilenceRuleInput
    ) -> SilenceRuleType:
        context = info.context
        now = _now(info)
        async with context.session() as session:
            rule = await alerts.update_silence_rule(
                session,
                workspace_id=context.principal.workspace_id,
                rule_id=parse_id(id),
                draft=input.to_draft(),
                now=now,
            )
        return SilenceRuleType.from_model(rule, now)

    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="End a silence now.")
    async def expire_silence(self, info: Info, id: strawberry.ID) -> SilenceRuleType:
        context = info.context
        now = _now(info)
        async with context.session() as session:
            rule = await alerts.expire_silence_rule(
                session, workspace_id=context.principal.workspace_id, rule_id=parse_id(id), now=now
            )
        return SilenceRuleType.from_model(rule, now)

    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="Delete a rule.")
    async def delete_silence_rule(self, info: Info, id: strawberry.ID) -> SilenceRuleType:
        context = info.context
        now = _now(info)
        async with context.session() as session:
            rule = await alerts.delete_silence_rule(
                session, workspace_id=context.principal.workspace_id, rule_id=parse_id(id), now=now
            )
        return SilenceRuleType.from_model(rule, now)
