"""Notification routes, their deliveries (one per attempt) and in-app notifications."""

from datetime import datetime

import strawberry

from schema.audited import audited_mutation
from schema.context import Info
from schema.ids import parse_id
from schema.notification_types import (
    DeliveryFilter,
    NotificationDeliveryType,
    NotificationRouteInput,
    NotificationRouteType,
    NotificationType,
)
from schema.pagination import Connection, connection
from schema.permissions import CanRead
from server.core.auth import Permission
from server.notifications import service as notifications


def _now(info: Info) -> datetime:
    return info.context.services.clock.now()


@strawberry.type
class NotificationQuery:
    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def notification_routes(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[NotificationRouteType]:
        listing = notifications.list_routes(workspace_id=info.context.principal.workspace_id)
        return await connection(
            info, listing, NotificationRouteType.from_model, first=first, after=after
        )

    @strawberry.field(permission_classes=[CanRead])
    async def notification_route(
        self, info: Info, id: strawberry.ID
    ) -> NotificationRouteType | None:
        context = info.context
        async with context.session() as session:
            row = await notifications.find_route(
                session, workspace_id=context.principal.workspace_id, route_id=parse_id(id)
            )
        return NotificationRouteType.from_model(row) if row else None

    @strawberry.field(permission_classes=[CanRead], description="Every attempt, newest first.")
    async def notification_deliveries(
        self,
        info: Info,
        filter: DeliveryFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[NotificationDeliveryType]:
        listing = notifications.list_deliveries(
            workspace_id=info.context.principal.workspace_id,
            filter_=(filter or DeliveryFilter()).to_filter(),
        )
        return await connection(
            info, listing, NotificationDeliveryType.from_model, first=first, after=after
        )

    @strawberry.field(
        permission_classes=[CanRead], description="In-app notifications, newest first."
    )
    async def notifications(
        self,
        info: Info,
        recipient: str | None = None,
        unread_only: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[NotificationType]:
        listing = notifications.list_notifications(
            workspace_id=info.context.principal.workspace_id,
            recipient=recipient,
            unread_only=bool(unread_only),
        )
        return await connection(
            info, listing, NotificationType.from_model, first=first, after=after
        )


@strawberry.type
class NotificationMutation:
    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="A route: alerts that match are notified in-app, by webhook or by email.",
    )
    async def create_notification_route(
        self, info: Info, input: NotificationRouteInput
    ) -> NotificationRouteType:
        context = info.context
        async with context.session() as session:
            written = await notifications.create_route(
                session,
                workspace_id=context.principal.workspace_id,
                draft=input.to_draft(),
                author=context.principal.key_name,
                now=_now(info),
                allow_loopback=context.services.settings.allow_loopback_webhooks,
            )
        return NotificationRouteType.written(written)

    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="Replace a route's settings.")
    async def update_notification_route(
        self, info: Info, id: strawberry.ID, input: NotificationRouteInput
    ) -> NotificationRouteType:
        context = info.context
        async with context.session() as session:
            written = await notifications.update_route(
                session,
                workspace_id=context.principal.workspace_id,
                route_id=parse_id(id),
                draft=input.to_draft(),
                now=_now(info),
                allow_loopback=context.services.settings.allow_loopback_webhooks,
            )
        return NotificationRouteType.written(written)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Delete a route; its deliveries stay, and its pending ones become "
        "UNDELIVERABLE.",
    )
    async def delete_notification_route(
        self, info: Info, id: strawberry.ID
    ) -> NotificationRouteType:
        context = info.context
        async with context.session() as session:
            route = await notifications.delete_route(
                session, workspace_id=context.principal.workspace_id, route_id=parse_id(id)
            )
        return NotificationRouteType.from_model(route)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="A new attempt of the delivery's message, due now, with the same webhook-id.",
    )
    async def redeliver_notification(
        self, info: Info, delivery_id: strawberry.ID
    ) -> NotificationDeliveryType:
        context = info.context
        async with context.session() as session:
            delivery = await notifications.redeliver(
                session,
                workspace_id=context.principal.workspace_id,
                delivery_id=parse_id(delivery_id, field="deliveryId"),
                now=_now(info),
            )
        return NotificationDeliveryType.from_model(delivery)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE, description="Record that the receiver got the attempt."
    )
    async def confirm_delivery(
        self, info: Info, delivery_id: strawberry.ID
    ) -> NotificationDeliveryType:
        context = info.context
        async with context.session() as session:
            delivery = await notifications.confirm_delivery(
                session,
                workspace_id=context.principal.workspace_id,
                delivery_id=parse_id(delivery_id, field="deliveryId"),
                now=_now(info),
            )
        return NotificationDeliveryType.from_model(delivery)

    @audited_mutation(
        Permission.OBSERVABILITY_READ, description="Mark an in-app notification read."
    )
    async def mark_notification_read(self, info: Info, id: strawberry.ID) -> NotificationType:
        context = info.context
        async with context.session() as session:
            row = await notifications.mark_read(
                session,
                workspace_id=context.principal.workspace_id,
                notification_id=parse_id(id),
                now=_now(info),
            )
        return NotificationType.from_model(row)
