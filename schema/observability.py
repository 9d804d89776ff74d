"""The per-service overview dashboards start from."""

from datetime import datetime

import strawberry

from schema.context import Info
from schema.permissions import CanRead
from server.signals import service as signal_service


@strawberry.type
class ServiceOverview:
    service: str
    signal_count: int
    series_names: int = strawberry.field(description="Distinct signal names of the service.")
    last_seen_at: datetime | None


@strawberry.type
class ObservabilityOverview:
    generated_at: datetime
    services: list[ServiceOverview]


@strawberry.type
class ObservabilityQuery:
    @strawberry.field(permission_classes=[CanRead])
    async def observability_overview(self, info: Info) -> ObservabilityOverview:
        context = info.context
        async with context.session() as session:
            summaries = await signal_service.service_summaries(
                session, workspace_id=context.principal.workspace_id
            )
        return ObservabilityOverview(
            generated_at=context.services.clock.now(),
            services=[
                ServiceOverview(
                    service=s.service,
                    signal_count=s.signal_count,
                    series_names=s.series_names,
                    last_seen_at=s.last_seen_at,
                )
                for s in summaries
            ],
        )
