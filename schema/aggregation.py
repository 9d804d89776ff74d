"""Aggregation rules and the alert groups they form."""

from datetime import datetime, timedelta

import strawberry
from strawberry.scalars import JSON

from schema.audited import audited_mutation
from schema.context import Info
from schema.ids import parse_id, to_id
from schema.matchers import MatcherInput, MatcherType, to_matchers
from schema.pagination import Connection, connection
from schema.permissions import CanRead
from server.alerts import service as alerts
from server.core.auth import Permission
from server.core.matchers import Matcher


@strawberry.input
class AggregationRuleInput:
    name: str
    group_by: list[str] = strawberry.field(
        description="Label names; `service` means the alert's service."
    )
    window_seconds: int
    max_notifications: int = strawberry.field(
        description="New alerts notified per group and window; the rest are noise-suppressed."
    )
    matchers: list[MatcherInput] | None = strawberry.field(
        default=None, description="Which alerts the rule groups; all when left out."
    )

    def to_draft(self) -> alerts.AggregationRuleDraft:
        return alerts.AggregationRuleDraft(
            name=self.name,
            group_by=self.group_by,
            window_seconds=self.window_seconds,
            max_notifications=self.max_notifications,
            matchers=to_matchers(self.matchers),
        )


@strawberry.type(name="AggregationRule")
class AggregationRuleType:
    id: strawberry.ID
    name: str
    group_by: list[str]
    window_seconds: int
    max_notifications: int
    matchers: list[MatcherType]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: alerts.AggregationRule) -> "AggregationRuleType":
        return cls(
            id=to_id(row.id),
            name=row.name,
            group_by=list(row.group_by),
            window_seconds=row.window_seconds,
            max_notifications=row.max_notifications,
            matchers=[MatcherType.from_matcher(Matcher.from_dict(m)) for m in row.matchers],
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type
class AlertGroup:
    id: strawberry.ID
    rule_id: strawberry.ID
    group_labels: JSON
    window_started_at: datetime
    window_ends_at: datetime
    window_alerts: int = strawberry.field(description="New alerts in the current window.")
    window_notified: int
    window_suppressed: int
    total_alerts: int
    total_suppressed: int
    last_alert_at: datetime

    @classmethod
    def from_model(cls, row: alerts.AlertGroup, window_seconds: int) -> "AlertGroup":
        return cls(
            id=to_id(row.id),
            rule_id=to_id(row.rule_id),
            group_labels=JSON(row.group_labels),
            window_started_at=row.window_started_at,
            window_ends_at=row.window_started_at + timedelta(seconds=window_seconds),
            window_alerts=row.window_alerts,
            window_notified=row.window_notified,
            window_suppressed=row.window_suppressed,
            total_alerts=row.total_alerts,
            total_suppressed=row.total_suppressed,
            last_alert_at=row.last_alert_at,
        )


@strawberry.type
class AggregationQuery:
    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def aggregation_rules(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AggregationRuleType]:
        listing = alerts.list_aggregation_rules(workspace_id=info.context.principal.workspace_id)
        return await connection(
            info, listing, AggregationRuleType.from_model, first=first, after=after
        )

    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def alert_groups(
        self,
        info: Info,
        rule_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AlertGroup]:
        context = info.context
        async with context.session() as session:
            groups = await alerts.list_alert_groups(
                session,
                workspace_id=context.principal.workspace_id,
                rule_id=parse_id(rule_id, field="ruleId") if rule_id is not None else None,
            )
        return await connection(
            info,
            groups.listing,
            lambda row: AlertGroup.from_model(row, groups.window_seconds[row.rule_id]),
            first=first,
            after=after,
        )


def _workspace(info: Info) -> int:
    return info.context.principal.workspace_id


@strawberry.type
class AggregationMutation:
    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="Limit notifications per group.")
    async def create_aggregation_rule(
        self, info: Info, input: AggregationRuleInput
    ) -> AggregationRuleType:
        async with info.context.session() as session:
            rule = await alerts.create_aggregation_rule(
                session,
                workspace_id=_workspace(info),
                draft=input.to_draft(),
                now=info.context.services.clock.now(),
            )
        return AggregationRuleType.from_model(rule)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE, description="Replace a rule's settings; its groups restart."
    )
    async def update_aggregation_rule(
        self, info: Info, id: strawberry.ID, input: AggregationRuleInput
    ) -> AggregationRuleType:
        async with info.context.session() as session:
            rule = await alerts.update_aggregation_rule(
                session,
                workspace_id=_workspace(info),
                rule_id=parse_id(id),
                draft=input.to_draft(),
                now=info.context.services.clock.now(),
            )
        return AggregationRuleType.from_model(rule)

    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="Delete a rule and its groups.")
    async def delete_aggregation_rule(self, info: Info, id: strawberry.ID) -> AggregationRuleType:
        async with info.context.session() as session:
            rule = await alerts.delete_aggregation_rule(
                session, workspace_id=_workspace(info), rule_id=parse_id(id)
            )
        return AggregationRuleType.from_model(rule)
