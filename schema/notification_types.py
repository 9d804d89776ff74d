"""Notification types and inputs: routes, deliveries, in-app notifications."""

from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader

from schema.alerts import AlertType
from schema.context import Context, Info
from schema.ids import parse_id, to_id
from schema.matchers import MatcherInput, MatcherType, to_matchers
from server.alerts import service as alerts
from server.notifications import service as notifications

Channel = strawberry.enum(notifications.Channel, name="Channel")
DeliveryStatus = strawberry.enum(notifications.DeliveryStatus, name="DeliveryStatus")


@strawberry.input
class NotificationRouteInput:
    name: str = strawberry.field(description="Unique in the workspace.")
    channel: Channel  # type: ignore[valid-type]
    url: str | None = strawberry.field(
        default=None,
        description="WEBHOOK: https URL (plain http only to loopback, when allowed).",
    )
    email: str | None = strawberry.field(default=None, description="EMAIL: the address.")
    secret: str | None = strawberry.field(
        default=None,
        description="WEBHOOK: whsec_<base64>; generated when left out (kept on update).",
    )
    matchers: list[MatcherInput] | None = strawberry.field(
        default=None,
        description="All must match; `service` and `severity` mean the alert's. None: every alert.",
    )
    enabled: bool | None = strawberry.field(
        default=None, description="True when left out on create; unchanged on update."
    )

    def to_draft(self) -> notifications.RouteDraft:
        return notifications.RouteDraft(
            name=self.name,
            channel=notifications.Channel(self.channel),
            url=self.url,
            email=self.email,
            secret=self.secret,
            matchers=to_matchers(self.matchers),
            enabled=self.enabled,
        )


@strawberry.type(name="NotificationRoute")
class NotificationRouteType:
    id: strawberry.ID
    name: str
    channel: Channel  # type: ignore[valid-type]
    url: str | None
    email: str | None
    secret: str | None = strawberry.field(
        description="Only in the answer of the mutation that set it (given or generated)."
    )
    has_secret: bool
    matchers: list[MatcherType]
    enabled: bool
    disabled_reason: str | None = strawberry.field(
        description="Why the route turned itself off (its receiver answered 410 Gone)."
    )
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(
        cls, row: notifications.NotificationRoute, *, secret: str | None = None
    ) -> "NotificationRouteType":
        return cls(
            id=to_id(row.id),
            name=row.name,
            channel=notifications.Channel(row.channel),
            url=row.url,
            email=row.email,
            secret=secret,
            has_secret=row.secret is not None,
            matchers=[MatcherType.from_matcher(m) for m in notifications.route_matchers(row)],
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @classmethod
    def written(cls, written: notifications.WrittenRoute) -> "NotificationRouteType":
        return cls.from_model(written.route, secret=written.shown_secret)


async def _load_alerts(context: Context, ids: list[int]) -> list[AlertType | None]:
    found: list[AlertType | None] = []
    async with context.session() as session:
        for alert_id in ids:
            row = await alerts.find_alert(
                session, workspace_id=context.principal.workspace_id, alert_id=alert_id
            )
            found.append(AlertType.from_model(row) if row else None)
    return found


async def _alert(info: Info, alert_id: int | None) -> AlertType | None:
    if alert_id is None:
        return None
    context = info.context
    loader: DataLoader[int, AlertType | None] = context.loader(
        "notification_alerts", lambda ids: _load_alerts(context, ids)
    )
    return await loader.load(alert_id)


async def _load_routes(context: Context, ids: list[int]) -> list[NotificationRouteType | None]:
    async with context.session() as session:
        rows = await notifications.routes_by_id(
            session, workspace_id=context.principal.workspace_id, route_ids=ids
        )
    return [NotificationRouteType.from_model(row) if row else None for row in rows]


async def _load_messages(
    context: Context, ids: list[int]
) -> list[notifications.NotificationMessage | None]:
    async with context.session() as session:
        return await notifications.delivery_details(
            session, workspace_id=context.principal.workspace_id, message_ids=ids
        )


@strawberry.type(name="NotificationDelivery")
class NotificationDeliveryType:
    id: strawberry.ID
    channel: Channel | None = strawberry.field(  # type: ignore[valid-type]
        description="None for a target no channel reaches (UNDELIVERABLE)."
    )
    status: DeliveryStatus  # type: ignore[valid-type]
    attempt: int = strawberry.field(description="1 for the first attempt of its message.")
    http_status: int | None
    error: str | None
    latency_ms: int | None
    created_at: datetime
    due_at: datetime = strawberry.field(description="When the attempt is (was) to be sent.")
    finished_at: datetime | None
    confirmed_at: datetime | None = strawberry.field(
        description="When the receiver confirmed it got the attempt."
    )
    route_id: strawberry.Private[int | None]
    alert_id: strawberry.Private[int | None]
    message_id: strawberry.Private[int]

    @strawberry.field(description="None once the route is deleted, or for a person.")
    async def route(self, info: Info) -> NotificationRouteType | None:
        if self.route_id is None:
            return None
        context = info.context
        loader: DataLoader[int, NotificationRouteType | None] = context.loader(
            "notification_routes", lambda ids: _load_routes(context, ids)
        )
        return await loader.load(self.route_id)

    @strawberry.field
    async def alert(self, info: Info) -> AlertType | None:
        return await _alert(info, self.alert_id)

    async def _message(self, info: Info) -> notifications.NotificationMessage | None:
        context = info.context
        loader: DataLoader[int, notifications.NotificationMessage | None] = context.loader(
            "notification_messages", lambda ids: _load_messages(context, ids)
        )
        return await loader.load(self.message_id)

    @strawberry.field(description="The webhook-id header: the same on every attempt of a message.")
    async def webhook_id(self, info: Info) -> str:
        message = await self._message(info)
        return message.webhook_id if message else ""

    @strawberry.field(description="Why it was sent: fired, or what the escalation said.")
    async def reason(self, info: Info) -> str:
        message = await self._message(info)
        return message.reason if message else ""

    @strawberry.field(description="The URL, email address or in-app recipient.")
    async def target(self, info: Info) -> str | None:
        message = await self._message(info)
        return message.target if message else None

    @classmethod
    def from_model(cls, row: notifications.NotificationDelivery) -> "NotificationDeliveryType":
        return cls(
            id=to_id(row.id),
            channel=notifications.Channel(row.channel) if row.channel else None,
            status=notifications.DeliveryStatus(row.status),
            attempt=row.attempt,
            http_status=row.http_status,
            error=row.error,
            latency_ms=row.latency_ms,
            created_at=row.created_at,
            due_at=row.due_at,
            finished_at=row.finished_at,
            confirmed_at=row.confirmed_at,
            route_id=row.route_id,
            alert_id=row.alert_id,
            message_id=row.message_id,
        )


@strawberry.type(name="Notification")
class NotificationType:
    id: strawberry.ID
    recipient: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
    alert_id: strawberry.Private[int | None]

    @strawberry.field
    async def alert(self, info: Info) -> AlertType | None:
        return await _alert(info, self.alert_id)

    @classmethod
    def from_model(cls, row: notifications.Notification) -> "NotificationType":
        return cls(
            id=to_id(row.id),
            recipient=row.recipient,
            title=row.title,
            body=row.body,
            created_at=row.created_at,
            read_at=row.read_at,
            alert_id=row.alert_id,
        )


@strawberry.input
class DeliveryFilter:
    route_id: strawberry.ID | None = None
    alert_id: strawberry.ID | None = None
    status: list[DeliveryStatus] | None = None  # type: ignore[valid-type]
    channel: list[Channel] | None = None  # type: ignore[valid-type]

    def to_filter(self) -> notifications.DeliveryFilter:
        return notifications.DeliveryFilter(
            route_id=parse_id(self.route_id, field="filter.routeId") if self.route_id else None,
            alert_id=parse_id(self.alert_id, field="filter.alertId") if self.alert_id else None,
            statuses=list(self.status or []),
            channels=list(self.channel or []),
        )
