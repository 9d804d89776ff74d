"""Capacity: policies per meter, forecasts on demand (tasks) and the forecasts stored."""

from datetime import datetime

import strawberry

from schema.audited import audited_mutation
from schema.context import Info
from schema.ids import to_id
from schema.matchers import MatcherInput, MatcherType, to_matchers
from schema.pagination import Connection, connection
from schema.permissions import CanRead
from schema.tasks import TaskType
from server.capacity import service as capacity_service
from server.core.auth import Permission


@strawberry.input
class CapacityPolicyInput:
    meter_key: str = strawberry.field(
        description="The policy's name, unique in the workspace: 1-200 printable "
        "ASCII characters without spaces, e.g. checkout/disk_used."
    )
    service: str
    signal: str = strawberry.field(description="The signal name of the meter's samples.")
    labels: list[MatcherInput] | None = strawberry.field(
        default=None, description="Which samples of the signal; all when omitted."
    )
    capacity: float = strawberry.field(description="The value the meter must stay below; > 0.")
    warning_ratio: float = strawberry.field(
        description="Warn at capacity x warningRatio; 0 < warningRatio <= 1."
    )
    horizon_days: int = strawberry.field(description="How far to forecast, 1 to 365 days.")

    def to_draft(self) -> capacity_service.PolicyDraft:
        return capacity_service.PolicyDraft(
            meter_key=self.meter_key,
            service=self.service,
            signal=self.signal,
            capacity=self.capacity,
            warning_ratio=self.warning_ratio,
            horizon_days=self.horizon_days,
            matchers=to_matchers(self.labels),
        )


@strawberry.type(name="CapacityPolicy")
class CapacityPolicyType:
    id: strawberry.ID
    meter_key: str
    service: str
    signal: str
    labels: list[MatcherType]
    capacity: float
    warning_ratio: float
    horizon_days: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: capacity_service.CapacityPolicy) -> "CapacityPolicyType":
        return cls(
            id=to_id(row.id),
            meter_key=row.meter_key,
            service=row.service,
            signal=row.signal,
            labels=[MatcherType.from_matcher(m) for m in capacity_service.policy_matchers(row)],
            capacity=row.capacity,
            warning_ratio=row.warning_ratio,
            horizon_days=row.horizon_days,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(name="CapacityForecast")
class CapacityForecastType:
    id: strawberry.ID
    policy_id: strawberry.ID
    meter_key: str
    method: str = strawberry.field(
        description='The terms fitted, e.g. "linear", "linear+daily(2)+level_shift(1)".'
    )
    current_value: float = strawberry.field(description="The newest hour's average.")
    predicted_value: float = strawberry.field(description="At createdAt + horizonDays.")
    lower: float = strawberry.field(description="80 % prediction interval, lower bound.")
    upper: float = strawberry.field(description="80 % prediction interval, upper bound.")
    time_to_warning: datetime | None = strawberry.field(
        description="When the forecast reaches capacity x warningRatio; null: not within "
        "4 x horizonDays."
    )
    time_to_exhaustion: datetime | None = strawberry.field(
        description="When the forecast reaches the capacity; null: not within 4 x horizonDays."
    )
    points: int = strawberry.field(description="Samples of the history fitted.")
    buckets: int = strawberry.field(description="Hourly averages the fit was made of.")
    trend_per_day: float
    seasonality: list[str] = strawberry.field(description='Cycles fitted: "daily", "weekly".')
    level_shift_at: datetime | None = strawberry.field(
        description="The most recent level shift found; the projection starts after it."
    )
    capacity: float
    warning_ratio: float
    horizon_days: int
    created_at: datetime

    @classmethod
    def from_model(cls, row: capacity_service.CapacityForecast) -> "CapacityForecastType":
        return cls(
            id=to_id(row.id),
            policy_id=to_id(row.policy_id),
            meter_key=row.meter_key,
            method=row.method,
            current_value=row.current_value,
            predicted_value=row.predicted_value,
            lower=row.lower,
            upper=row.upper,
            time_to_warning=row.time_to_warning,
            time_to_exhaustion=row.time_to_exhaustion,
            points=row.points,
            buckets=row.buckets,
            trend_per_day=row.slope_per_day,
            seasonality=list(row.seasonality),
            level_shift_at=row.level_shift_at,
            capacity=row.capacity,
            warning_ratio=row.warning_ratio,
            horizon_days=row.horizon_days,
            created_at=row.created_at,
        )


@strawberry.type
class CapacityQuery:
    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def capacity_policies(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CapacityPolicyType]:
        listing = capacity_service.list_policies(workspace_id=info.context.principal.workspace_id)
        return await connection(
            info, listing, CapacityPolicyType.from_model, first=first, after=after
        )

    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def capacity_forecasts(
        self,
        info: Info,
        meter_key: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[CapacityForecastType]:
        listing = capacity_service.list_forecasts(
            workspace_id=info.context.principal.workspace_id, meter_key=meter_key
        )
        return await connection(
            info, listing, CapacityForecastType.from_model, first=first, after=after
        )


@strawberry.type
class CapacityMutation:
    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Create the capacity policy of a meter, or replace its settings.",
    )
    async def upsert_capacity_policy(
        self, info: Info, input: CapacityPolicyInput
    ) -> CapacityPolicyType:
        context = info.context
        async with context.session() as session:
            row = await capacity_service.upsert_policy(
                session,
                workspace_id=context.principal.workspace_id,
                draft=input.to_draft(),
                clock=context.services.clock,
            )
        return CapacityPolicyType.from_model(row)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Forecast a meter now, as a task; its result names the stored forecast.",
    )
    async def forecast_capacity(self, info: Info, meter_key: str) -> TaskType:
        context = info.context
        async with context.session() as session:
            task = await capacity_service.start_forecast(
                session,
                workspace_id=context.principal.workspace_id,
                meter_key=meter_key,
                created_by_key_id=context.principal.key_id,
                clock=context.services.clock,
            )
        context.after_commit(context.services.runner.wake)
        return TaskType.from_model(task)
