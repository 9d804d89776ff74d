"""Signals: ingestion, listing and time series."""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types.arguments import InputContext
from strawberry.types.base import get_object_definition

from schema import rendering
from schema.audited import audited_mutation
from schema.context import Info
from schema.ids import to_id
from schema.matchers import MatcherInput, to_matchers
from schema.pagination import Connection, connection
from schema.permissions import CanRead
from schema.rendering import RenderedField, RenderedNode
from server.core.auth import Permission
from server.signals import service as signal_service

Aggregate = strawberry.enum(signal_service.Aggregate, name="Aggregate")


@strawberry.input
class SignalInput:
    service: str
    name: str
    value: float
    #: Read leniently (``schema.root``): at run time, the client's value itself
    #: when it is no date-time, which ingest then rejects as that item's fault.
    ts: datetime | None = None
    labels: JSON | None = None


def _signal_from_input(cls: type, value: Mapping[str, Any], _context: InputContext) -> Any:
    """Builds a SignalInput straight from its input value.

    Every field is a scalar graphql-core has already coerced, so Strawberry's
    generic field-by-field conversion (which resolves each field's type again for
    every item) only copied values, yet was the largest part of the server time
    of a large ingestSignals.
    """
    return cls(
        service=value["service"],
        name=value["name"],
        value=value["value"],
        ts=value.get("ts"),
        labels=value.get("labels"),
    )


get_object_definition(SignalInput, strict=True).from_input = _signal_from_input


@strawberry.input
class SignalFilter:
    service: str | None = None
    name: str | None = None
    labels: list[MatcherInput] | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None

    def to_filter(self) -> signal_service.SignalFilter:
        return signal_service.SignalFilter(
            service=self.service,
            name=self.name,
            matchers=to_matchers(self.labels),
            from_=self.from_,
            to=self.to,
        )


@strawberry.type(name="Signal")
class SignalType:
    rendered: ClassVar[RenderedNode]

    id: strawberry.ID
    service: str
    name: str
    value: float
    labels: JSON
    ts: datetime

    @classmethod
    def from_model(cls, row: signal_service.Signal) -> "SignalType":
        return cls(
            id=to_id(row.id),
            service=row.service,
            name=row.name,
            value=row.value,
            labels=JSON(row.labels),
            ts=row.ts,
        )


SignalType.rendered = RenderedNode(
    "Signal",
    {
        "id": RenderedField(signal_service.Signal.id, rendering.ID),
        "service": RenderedField(signal_service.Signal.service),
        "name": RenderedField(signal_service.Signal.name),
        "value": RenderedField(signal_service.Signal.value, rendering.FLOAT),
        "labels": RenderedField(signal_service.Signal.labels),
        "ts": RenderedField(signal_service.Signal.ts, rendering.DATE_TIME),
    },
)


@strawberry.type
class IngestRejection:
    index: int
    reason: str


@strawberry.type
class IngestResult:
    accepted: int
    rejected: list[IngestRejection]

    def audit_target(self) -> str:
        return f"signals:accepted={self.accepted},rejected={len(self.rejected)}"


@strawberry.type
class SeriesPoint:
    ts: datetime = strawberry.field(description="Start of the bucket.")
    value: float
    count: int = strawberry.field(description="Samples in the bucket.")


@strawberry.type
class SignalQuery:
    @strawberry.field(permission_classes=[CanRead])
    async def signals(
        self,
        info: Info,
        filter: SignalFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[SignalType]:
        context = info.context
        filter_ = (filter or SignalFilter()).to_filter()
        async with context.session() as session:
            listing = await signal_service.list_signals(
                session, workspace_id=context.principal.workspace_id, filter_=filter_
            )
        return await connection(
            info,
            listing,
            SignalType.from_model,
            first=first,
            after=after,
            rendered=SignalType.rendered,
        )

    @strawberry.field(permission_classes=[CanRead])
    async def signal_series(
        self,
        info: Info,
        service: str,
        name: str,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        step: Annotated[int, strawberry.argument(description="Bucket width in seconds.")],
        aggregate: Aggregate,  # type: ignore[valid-type]
        labels: list[MatcherInput] | None = None,
    ) -> list[SeriesPoint]:
        request = signal_service.SeriesRequest(
            service=service,
            name=name,
            from_=from_,
            to=to,
            step=step,
            aggregate=aggregate,
            matchers=to_matchers(labels),
        )
        async with info.context.session() as session:
            points = await signal_service.signal_series(
                session, workspace_id=info.context.principal.workspace_id, request=request
            )
        return [SeriesPoint(ts=p.ts, value=p.value, count=p.count) for p in points]


@strawberry.type
class SignalMutation:
    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="Store a batch of samples.")
    async def ingest_signals(self, info: Info, signals: list[SignalInput]) -> IngestResult:
        context = info.context
        async with context.session() as session:
            outcome = await signal_service.ingest(
                session,
                workspace_id=context.principal.workspace_id,
                items=signals,
                clock=context.services.clock,
                max_batch=context.services.settings.max_ingest_batch,
            )
        return IngestResult(
            accepted=outcome.accepted,
            rejected=[IngestRejection(index=r.index, reason=r.reason) for r in outcome.rejected],
        )
