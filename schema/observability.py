"""The per-service overview dashboards start from."""

from datetime import datetime

import strawberry

from schema.alert_enums import Severity
from schema.context import Info
from schema.permissions import CanRead
from schema.slo import SloStatus
from server.alerts import service as alert_service
from server.signals import service as signal_service
from server.slo import service as slo_service


@strawberry.type
class SeverityCount:
    severity: Severity  # type: ignore[valid-type]
    count: int


@strawberry.type
class ServiceOverview:
    service: str
    signal_count: int
    series_names: int = strawberry.field(description="Distinct signal names of the service.")
    last_seen_at: datetime | None
    open_alerts: int = strawberry.field(description="FIRING or ACKNOWLEDGED alerts.")
    open_alerts_by_severity: list[SeverityCount]
    slo_status: SloStatus | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="The worst newest status among the service's SLO policies "
        "(EXHAUSTED, CRITICAL, WARNING, NO_DATA, HEALTHY); null without evaluated policies.",
    )


def _empty(service: str, slo_status: slo_service.SloStatus | None) -> ServiceOverview:
    return ServiceOverview(
        service=service,
        signal_count=0,
        series_names=0,
        last_seen_at=None,
        open_alerts=0,
        open_alerts_by_severity=[],
        slo_status=slo_status,
    )


@strawberry.type
class ObservabilityOverview:
    generated_at: datetime
    services: list[ServiceOverview]


@strawberry.type
class ObservabilityQuery:
    @strawberry.field(
        permission_classes=[CanRead],
        description="Every service with signals, open alerts or evaluated SLO policies, by name.",
    )
    async def observability_overview(self, info: Info) -> ObservabilityOverview:
        context = info.context
        workspace_id = context.principal.workspace_id
        async with context.session() as session:
            summaries = await signal_service.service_summaries(session, workspace_id=workspace_id)
            open_counts = await alert_service.open_alert_counts(session, workspace_id=workspace_id)
            slo_statuses = await slo_service.service_statuses(session, workspace_id=workspace_id)
        by_service = {
            s.service: ServiceOverview(
                service=s.service,
                signal_count=s.signal_count,
                series_names=s.series_names,
                last_seen_at=s.last_seen_at,
                open_alerts=0,
                open_alerts_by_severity=[],
                slo_status=slo_statuses.get(s.service),
            )
            for s in summaries
        }
        for counted in open_counts:
            service = counted.service
            overview = by_service.setdefault(service, _empty(service, slo_statuses.get(service)))
            overview.open_alerts += counted.count
            overview.open_alerts_by_severity.append(
                SeverityCount(severity=counted.severity, count=counted.count)
            )
        for service, status in slo_statuses.items():
            by_service.setdefault(service, _empty(service, status))
        return ObservabilityOverview(
            generated_at=context.services.clock.now(),
            services=[by_service[name] for name in sorted(by_service)],
        )
