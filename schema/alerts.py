"""Alerts: raising (deduplicated), the lifecycle, listing and the SLA overview."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types.arguments import InputContext
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_snake_case

from schema import rendering
from schema.alert_enums import AlertSource, AlertStatus, Severity
from schema.audited import audited_mutation
from schema.context import Context, Info
from schema.events import EventEnvelope
from schema.ids import parse_id, to_id
from schema.matchers import MatcherInput, to_matchers
from schema.pagination import Connection, connection
from schema.permissions import CanRead
from schema.rendering import RenderedField, RenderedNode, enum_of
from server.alerts import service as alerts
from server.core.auth import Permission
from server.core.events.service import EventRecord

if TYPE_CHECKING:
    from schema.escalation import EscalationExecutionType


@strawberry.input
class AlertInput:
    service: str
    summary: str
    severity: Severity  # type: ignore[valid-type]
    labels: JSON | None = None
    fingerprint: str | None = strawberry.field(
        default=None,
        description="The deduplication key; by default a hash of the service and the labels.",
    )
    source: AlertSource | None = None  # type: ignore[valid-type]
    annotations: JSON | None = strawberry.field(
        default=None,
        description="Text about the alert by name (summary, description, runbook_url); "
        "a repeat replaces them.",
    )
    generator_url: str | None = strawberry.field(
        default=None, description="An http(s) link to what raised the alert."
    )
    ends_at: datetime | None = strawberry.field(
        default=None,
        description="When the alert ends unless raised again (a repeat moves it later); "
        "it is then resolved. By default it stays open until resolved.",
    )


def _alert_from_input(cls: type, value: Mapping[str, Any], _context: InputContext) -> Any:
    """Builds an AlertInput straight from graphql-core's coerced value (see SignalInput)."""
    source = value.get("source")
    return cls(
        service=value["service"],
        summary=value["summary"],
        severity=alerts.Severity(value["severity"]),
        labels=value.get("labels"),
        fingerprint=value.get("fingerprint"),
        source=alerts.AlertSource(source) if source is not None else None,
        annotations=value.get("annotations"),
        generator_url=value.get("generatorUrl"),
        ends_at=value.get("endsAt"),
    )


get_object_definition(AlertInput, strict=True).from_input = _alert_from_input


@strawberry.input
class AlertFilter:
    service: str | None = None
    status: list[AlertStatus] | None = None  # type: ignore[valid-type]
    severity: list[Severity] | None = None  # type: ignore[valid-type]
    labels: list[MatcherInput] | None = None
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Alerts last fired at or after this."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Alerts first fired before this."
    )
    text: str | None = strawberry.field(
        default=None, description="Case-insensitive text in the summary."
    )

    def to_filter(self) -> alerts.AlertFilter:
        return alerts.AlertFilter(
            service=self.service,
            statuses=list(self.status or []),
            severities=list(self.severity or []),
            matchers=to_matchers(self.labels),
            from_=self.from_,
            to=self.to,
            text=self.text,
        )


async def _load_timelines(context: Context, alert_ids: list[int]) -> list[list[EventRecord]]:
    async with context.session() as session:
        return await alerts.alert_timelines(
            session, workspace_id=context.principal.workspace_id, alert_ids=alert_ids
        )


@strawberry.type(name="Alert")
class AlertType:
    rendered: ClassVar[RenderedNode]

    id: strawberry.ID
    fingerprint: str
    service: str
    summary: str
    severity: Severity  # type: ignore[valid-type]
    status: AlertStatus  # type: ignore[valid-type]
    source: AlertSource  # type: ignore[valid-type]
    labels: JSON
    occurrence_count: int
    silenced: bool = strawberry.field(description="A silence rule matches it: not notified.")
    noise_suppressed: bool = strawberry.field(
        description="Over its aggregation group's notification limit: not notified."
    )
    first_fired_at: datetime
    last_fired_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    timeout_escalated_at: datetime | None
    inhibited: bool = strawberry.field(
        description="A faster burn-rate alert of the same SLO fires: stored, not notified."
    )
    needs_postmortem: bool = strawberry.field(
        description="The incident spent more than 20 % of its SLO's error budget."
    )
    annotations: JSON = strawberry.field(
        description="Text about the alert by name, from its latest raise (Prometheus' annotations)."
    )
    generator_url: str | None = strawberry.field(
        description="A link to what raised the alert (Prometheus' generatorURL)."
    )
    ends_at: datetime | None = strawberry.field(
        description="When the alert ends unless raised again (Prometheus' endsAt): an open "
        "alert past it is resolved. Null: open until resolved."
    )

    @strawberry.field(description="What happened to the alert, oldest first.")
    async def events(self, info: Info) -> list[EventEnvelope]:
        context = info.context
        loader: DataLoader[int, list[EventRecord]] = context.loader(
            "alert_timelines", lambda ids: _load_timelines(context, ids)
        )
        records = await loader.load(int(self.id))
        return [EventEnvelope.from_record(record) for record in records]

    @strawberry.field(description="What escalation did to the alert, oldest first.")
    async def escalation_executions(
        self, info: Info
    ) -> list[Annotated["EscalationExecutionType", strawberry.lazy("schema.escalation")]]:
        # Imported here: schema.escalation imports this module for its Alert type.
        from schema.escalation import executions_of_alert

        return await executions_of_alert(info, int(self.id))

    @classmethod
    def from_model(cls, row: alerts.Alert) -> "AlertType":
        return cls(
            id=to_id(row.id),
            fingerprint=row.fingerprint,
            service=row.service,
            summary=row.summary,
            severity=alerts.Severity(row.severity),
            status=alerts.AlertStatus(row.status),
            source=alerts.AlertSource(row.source),
            labels=JSON(row.labels),
            occurrence_count=row.occurrence_count,
            silenced=row.silenced,
            noise_suppressed=row.noise_suppressed,
            first_fired_at=row.first_fired_at,
            last_fired_at=row.last_fired_at,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
            resolved_at=row.resolved_at,
            resolved_by=row.resolved_by,
            closed_at=row.closed_at,
            closed_by=row.closed_by,
            timeout_escalated_at=row.timeout_escalated_at,
            inhibited=row.inhibited,
            needs_postmortem=row.needs_postmortem,
            annotations=JSON(row.annotations),
            generator_url=row.generator_url,
            ends_at=row.ends_at,
        )


def _alert_fields() -> dict[str, RenderedField]:
    alert = alerts.Alert
    times = "firstFiredAt lastFiredAt acknowledgedAt resolvedAt closedAt timeoutEscalatedAt endsAt"
    plain = (
        "fingerprint service summary labels silenced noiseSuppressed acknowledgedBy"
        " resolvedBy closedBy inhibited needsPostmortem annotations generatorUrl"
    )
    fields = {
        "id": RenderedField(alert.id, rendering.ID),
        "severity": RenderedField(alert.severity, enum_of(alerts.Severity)),
        "status": RenderedField(alert.status, enum_of(alerts.AlertStatus)),
        "source": RenderedField(alert.source, enum_of(alerts.AlertSource)),
        "occurrenceCount": RenderedField(alert.occurrence_count, rendering.INT),
    }
    for name in times.split():
        fields[name] = RenderedField(getattr(alert, to_snake_case(name)), rendering.DATE_TIME)
    for name in plain.split():
        fields[name] = RenderedField(getattr(alert, to_snake_case(name)))
    return fields


AlertType.rendered = RenderedNode("Alert", _alert_fields())


@strawberry.type
class SlaOverview:
    from_: datetime = strawberry.field(name="from")
    to: datetime
    service: str | None
    total: int = strawberry.field(description="Alerts first fired in the range.")
    acknowledged: int
    resolved: int
    closed: int
    timeout_escalated: int = strawberry.field(
        description="Alerts escalated because nobody acknowledged them in time."
    )
    mtta_seconds: float | None = strawberry.field(
        description="Mean time from first firing to acknowledgement."
    )
    mttr_seconds: float | None = strawberry.field(
        description="Mean time from first firing to resolution."
    )
    timeout_escalation_rate: float | None = strawberry.field(
        description="timeoutEscalated / total; null without alerts."
    )

    @classmethod
    def from_figures(
        cls, figures: alerts.SlaFigures, *, from_: datetime, to: datetime, service: str | None
    ) -> "SlaOverview":
        return cls(
            from_=from_.astimezone(UTC),
            to=to.astimezone(UTC),
            service=service,
            total=figures.total,
            acknowledged=figures.acknowledged,
            resolved=figures.resolved,
            closed=figures.closed,
            timeout_escalated=figures.timeout_escalated,
            mtta_seconds=figures.mtta_seconds,
            mttr_seconds=figures.mttr_seconds,
            timeout_escalation_rate=figures.timeout_escalation_rate,
        )


@strawberry.type
class AlertQuery:
    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def alerts(
        self,
        info: Info,
        filter: AlertFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AlertType]:
        context = info.context
        async with context.session() as session:
            listing = await alerts.list_alerts(
                session,
                workspace_id=context.principal.workspace_id,
                filter_=(filter or AlertFilter()).to_filter(),
            )
        return await connection(
            info,
            listing,
            AlertType.from_model,
            first=first,
            after=after,
            rendered=AlertType.rendered,
        )

    @strawberry.field(permission_classes=[CanRead])
    async def alert(self, info: Info, id: strawberry.ID) -> AlertType | None:
        context = info.context
        async with context.session() as session:
            row = await alerts.find_alert(
                session, workspace_id=context.principal.workspace_id, alert_id=parse_id(id)
            )
        return AlertType.from_model(row) if row else None

    @strawberry.field(permission_classes=[CanRead])
    async def sla_overview(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        service: str | None = None,
    ) -> SlaOverview:
        context = info.context
        async with context.session() as session:
            figures = await alerts.sla_overview(
                session,
                workspace_id=context.principal.workspace_id,
                from_=from_,
                to=to,
                service=service,
            )
        return SlaOverview.from_figures(figures, from_=from_, to=to, service=service)


async def _transition(info: Info, move: alerts.Transition, id: strawberry.ID) -> AlertType:
    context = info.context
    principal = context.principal
    async with context.session() as session:
        alert = await alerts.transition(
            session,
            move,
            workspace_id=principal.workspace_id,
            alert_id=parse_id(id),
            actor=principal.key_name,
            now=context.services.clock.now(),
        )
    return AlertType.from_model(alert)


@strawberry.type
class AlertMutation:
    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Raise an alert; an open alert with the same fingerprint is updated.",
    )
    async def raise_alert(self, info: Info, input: AlertInput) -> AlertType:
        context = info.context
        async with context.session() as session:
            alert = await alerts.raise_alert(
                session,
                workspace_id=context.principal.workspace_id,
                item=input,
                now=context.services.clock.now(),
            )
        return AlertType.from_model(alert)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Raise a batch of alerts (all or none): one alert per input, in order.",
    )
    async def raise_alerts(self, info: Info, inputs: list[AlertInput]) -> list[AlertType]:
        context = info.context
        async with context.session() as session:
            raised = await alerts.raise_alerts(
                session,
                workspace_id=context.principal.workspace_id,
                items=inputs,
                max_batch=context.services.settings.max_alert_batch,
                now=context.services.clock.now(),
            )
        return [AlertType.from_model(alert) for alert in raised]

    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="FIRING -> ACKNOWLEDGED.")
    async def acknowledge_alert(self, info: Info, id: strawberry.ID) -> AlertType:
        return await _transition(info, alerts.ACKNOWLEDGE, id)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE, description="FIRING or ACKNOWLEDGED -> RESOLVED."
    )
    async def resolve_alert(self, info: Info, id: strawberry.ID) -> AlertType:
        return await _transition(info, alerts.RESOLVE, id)

    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="RESOLVED -> CLOSED.")
    async def close_alert(self, info: Info, id: strawberry.ID) -> AlertType:
        return await _transition(info, alerts.CLOSE, id)
