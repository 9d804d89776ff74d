"""Escalation policies and what escalation did to an alert."""

from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader

from schema.alerts import AlertType
from schema.audited import audited_mutation
from schema.context import Context, Info
from schema.ids import parse_id, to_id
from schema.matchers import MatcherInput, MatcherType, to_matchers
from schema.pagination import Connection, connection
from schema.permissions import CanRead
from server.alerts import service as alerts
from server.core.auth import Permission
from server.escalation import service as escalation

EscalationReason = strawberry.enum(
    escalation.EscalationReason,
    name="EscalationReason",
    description="ACK_TIMEOUT: a step's delay passed without acknowledgement; "
    "REPEAT_TRIGGER: the alert fired again refireThreshold times; "
    "SHIFT_HANDOVER: a shift changed in a schedule the escalation had reached.",
)

TARGETS = (
    "`oncall://active` (whoever is on call in any schedule), `oncall://<schedule>` "
    "or `route://<notification route name>`."
)


@strawberry.input
class EscalationStepInput:
    delay_seconds: int = strawberry.field(
        description="Step 0: after the alert first fired; later steps: after the previous step."
    )
    targets: list[str] = strawberry.field(description=TARGETS)

    def to_draft(self) -> escalation.StepDraft:
        return escalation.StepDraft(delay_seconds=self.delay_seconds, targets=self.targets)


@strawberry.input
class EscalationPolicyInput:
    name: str
    matchers: list[MatcherInput] | None = strawberry.field(
        default=None,
        description="All must match the alert's labels; the labels `service` and `severity` "
        "mean the alert's own. Every alert when left out. Where several policies match, "
        "the one with the lowest id governs.",
    )
    steps: list[EscalationStepInput]
    repeat: int | None = strawberry.field(
        default=None,
        description="How many more times the steps run after their first run (default 0).",
    )
    refire_threshold: int | None = strawberry.field(
        default=None,
        description="Re-fires of an unacknowledged alert since its last escalation that "
        "escalate it at once to the current step's targets (REPEAT_TRIGGER); default "
        f"{escalation.DEFAULT_REFIRE_THRESHOLD}.",
    )

    def to_draft(self) -> escalation.PolicyDraft:
        return escalation.PolicyDraft(
            name=self.name,
            steps=[step.to_draft() for step in self.steps],
            matchers=to_matchers(self.matchers),
            repeat=0 if self.repeat is None else self.repeat,
            refire_threshold=escalation.DEFAULT_REFIRE_THRESHOLD
            if self.refire_threshold is None
            else self.refire_threshold,
        )


@strawberry.type
class EscalationStep:
    delay_seconds: int
    targets: list[str]


@strawberry.type(name="EscalationPolicy")
class EscalationPolicyType:
    id: strawberry.ID
    name: str
    matchers: list[MatcherType]
    steps: list[EscalationStep]
    repeat: int
    refire_threshold: int
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: escalation.EscalationPolicy) -> "EscalationPolicyType":
        return cls(
            id=to_id(row.id),
            name=row.name,
            matchers=[MatcherType.from_matcher(m) for m in escalation.policy_matchers(row)],
            steps=[
                EscalationStep(delay_seconds=step["delay_seconds"], targets=list(step["targets"]))
                for step in row.steps
            ],
            repeat=row.repeat,
            refire_threshold=row.refire_threshold,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


async def _load_alerts(context: Context, alert_ids: list[int]) -> list[alerts.Alert | None]:
    async with context.session() as session:
        found = {
            alert_id: await alerts.find_alert(
                session, workspace_id=context.principal.workspace_id, alert_id=alert_id
            )
            for alert_id in dict.fromkeys(alert_ids)
        }
    return [found[alert_id] for alert_id in alert_ids]


@strawberry.type(name="EscalationExecution")
class EscalationExecutionType:
    id: strawberry.ID
    alert_id: strawberry.Private[int]
    step: int = strawberry.field(description="The policy step's index, from 0.")
    cycle: int = strawberry.field(description="The run of the step list, from 0.")
    reason: EscalationReason  # type: ignore[valid-type]
    target: str
    recipients: list[str] = strawberry.field(
        description="Who was notified: people on call by name, `fallback` for a schedule's "
        "fallback contact, or the route target."
    )
    undeliverable: bool = strawberry.field(
        description="Nobody was on call: recorded as an UNDELIVERABLE delivery."
    )
    executed_at: datetime

    @strawberry.field
    async def alert(self, info: Info) -> AlertType | None:
        context = info.context
        loader: DataLoader[int, alerts.Alert | None] = context.loader(
            "escalation_alerts", lambda ids: _load_alerts(context, ids)
        )
        row = await loader.load(self.alert_id)
        return AlertType.from_model(row) if row else None

    @classmethod
    def from_model(cls, row: escalation.EscalationExecution) -> "EscalationExecutionType":
        return cls(
            id=to_id(row.id),
            alert_id=row.alert_id,
            step=row.step,
            cycle=row.cycle,
            reason=escalation.EscalationReason(row.reason),
            target=row.target,
            recipients=list(row.recipients),
            undeliverable=row.undeliverable,
            executed_at=row.executed_at,
        )


async def _load_executions(
    context: Context, alert_ids: list[int]
) -> list[list[escalation.EscalationExecution]]:
    async with context.session() as session:
        return await escalation.executions_of_alerts(
            session, workspace_id=context.principal.workspace_id, alert_ids=alert_ids
        )


async def executions_of_alert(info: Info, alert_id: int) -> list[EscalationExecutionType]:
    """The escalation executions of an alert of the caller's workspace, oldest first."""
    context = info.context
    loader: DataLoader[int, list[escalation.EscalationExecution]] = context.loader(
        "escalation_executions", lambda ids: _load_executions(context, ids)
    )
    return [EscalationExecutionType.from_model(row) for row in await loader.load(alert_id)]


@strawberry.type
class EscalationQuery:
    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def escalation_policies(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[EscalationPolicyType]:
        listing = escalation.list_policies(workspace_id=info.context.principal.workspace_id)
        return await connection(
            info, listing, EscalationPolicyType.from_model, first=first, after=after
        )

    @strawberry.field(permission_classes=[CanRead])
    async def escalation_policy(self, info: Info, id: strawberry.ID) -> EscalationPolicyType | None:
        context = info.context
        async with context.session() as session:
            row = await escalation.find_policy(
                session, workspace_id=context.principal.workspace_id, policy_id=parse_id(id)
            )
        return EscalationPolicyType.from_model(row) if row else None

    @strawberry.field(permission_classes=[CanRead], description="Oldest first.")
    async def escalation_executions(
        self, info: Info, alert_id: strawberry.ID
    ) -> list[EscalationExecutionType]:
        return await executions_of_alert(info, parse_id(alert_id, field="alertId"))


def _now(info: Info) -> datetime:
    return info.context.services.clock.now()


@strawberry.type
class EscalationMutation:
    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="A policy that escalates the firing alerts it matches until acknowledged.",
    )
    async def create_escalation_policy(
        self, info: Info, input: EscalationPolicyInput
    ) -> EscalationPolicyType:
        context = info.context
        async with context.session() as session:
            policy = await escalation.create_policy(
                session,
                workspace_id=context.principal.workspace_id,
                draft=input.to_draft(),
                author=context.principal.key_name,
                now=_now(info),
            )
        return EscalationPolicyType.from_model(policy)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Replace a policy's settings; the alerts it governs keep their progress.",
    )
    async def update_escalation_policy(
        self, info: Info, id: strawberry.ID, input: EscalationPolicyInput
    ) -> EscalationPolicyType:
        context = info.context
        async with context.session() as session:
            policy = await escalation.update_policy(
                session,
                workspace_id=context.principal.workspace_id,
                policy_id=parse_id(id),
                draft=input.to_draft(),
                now=_now(info),
            )
        return EscalationPolicyType.from_model(policy)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Delete a policy; the alerts it governed stop escalating.",
    )
    async def delete_escalation_policy(self, info: Info, id: strawberry.ID) -> EscalationPolicyType:
        context = info.context
        async with context.session() as session:
            policy = await escalation.delete_policy(
                session, workspace_id=context.principal.workspace_id, policy_id=parse_id(id)
            )
        return EscalationPolicyType.from_model(policy)
