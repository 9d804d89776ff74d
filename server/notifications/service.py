"""The notifications domain's front door: routes, deliveries, in-app notifications.

The schema and the transport call only this module. The modules beside it hold
the rules (``routes``, ``targets``), messages and their attempts (``messages``,
``deliveries``), the jobs' work (``alert_feed`` turns fired alerts into
messages, ``sending`` sends due attempts through ``transports``) and the entry
point of other domains (``dispatch``). Every lookup is scoped to the caller's
workspace; services flush and never commit.
"""

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import find_in_workspace
from server.core.pagination import Listing
from server.notifications import deliveries, inbox, routes
from server.notifications.deliveries import RECEIPTS_PATH, DeliveryFilter, answer_receipt
from server.notifications.messages import DeliveryStatus
from server.notifications.models import (
    Notification,
    NotificationDelivery,
    NotificationMessage,
    NotificationRoute,
)
from server.notifications.routes import Channel, RouteDraft, WrittenRoute, route_matchers

__all__ = [
    "RECEIPTS_PATH",
    "Channel",
    "DeliveryFilter",
    "DeliveryStatus",
    "Notification",
    "NotificationDelivery",
    "NotificationMessage",
    "NotificationRoute",
    "RouteDraft",
    "WrittenRoute",
    "answer_receipt",
    "confirm_delivery",
    "confirm_signed_receipt",
    "create_route",
    "delete_route",
    "delivery_details",
    "find_route",
    "list_deliveries",
    "list_notifications",
    "list_routes",
    "mark_read",
    "redeliver",
    "route_matchers",
    "routes_by_id",
    "update_route",
]


# Routes


async def create_route(
    session: AsyncSession,
    *,
    workspace_id: int,
    draft: RouteDraft,
    author: str,
    now: datetime,
    allow_loopback: bool,
) -> WrittenRoute:
    return await routes.create(
        session,
        workspace_id=workspace_id,
        draft=draft,
        author=author,
        now=now,
        allow_loopback=allow_loopback,
    )


async def update_route(
    session: AsyncSession,
    *,
    workspace_id: int,
    route_id: int,
    draft: RouteDraft,
    now: datetime,
    allow_loopback: bool,
) -> WrittenRoute:
    return await routes.update(
        session,
        workspace_id=workspace_id,
        route_id=route_id,
        draft=draft,
        now=now,
        allow_loopback=allow_loopback,
    )


async def delete_route(
    session: AsyncSession, *, workspace_id: int, route_id: int
) -> NotificationRoute:
    return await routes.delete(session, workspace_id=workspace_id, route_id=route_id)


def list_routes(*, workspace_id: int) -> Listing[NotificationRoute]:
    return Listing(routes.routes_query(workspace_id=workspace_id), (NotificationRoute.id,))


async def find_route(
    session: AsyncSession, *, workspace_id: int, route_id: int
) -> NotificationRoute | None:
    return await find_in_workspace(session, NotificationRoute, route_id, workspace_id=workspace_id)


async def routes_by_id(
    session: AsyncSession, *, workspace_id: int, route_ids: list[int]
) -> list[NotificationRoute | None]:
    """The routes of ``route_ids``, in that order; None for one that is gone."""
    found = {
        route.id: route
        for route in (
            await session.scalars(
                routes.routes_query(workspace_id=workspace_id).where(
                    NotificationRoute.id.in_(route_ids)
                )
            )
        ).all()
    }
    return [found.get(route_id) for route_id in route_ids]


# Deliveries


def list_deliveries(*, workspace_id: int, filter_: DeliveryFilter) -> Listing[NotificationDelivery]:
    return Listing(
        deliveries.deliveries_query(workspace_id=workspace_id, filter_=filter_),
        (NotificationDelivery.id,),
    )


async def delivery_details(
    session: AsyncSession, *, workspace_id: int, message_ids: list[int]
) -> list[NotificationMessage | None]:
    """The messages of ``message_ids`` (webhook-id, reason, target), in that order."""
    rows = await session.scalars(
        deliveries.messages_query(workspace_id=workspace_id, message_ids=message_ids)
    )
    found = {message.id: message for message in rows.all()}
    return [found.get(message_id) for message_id in message_ids]


async def redeliver(
    session: AsyncSession, *, workspace_id: int, delivery_id: int, now: datetime
) -> NotificationDelivery:
    return await deliveries.redeliver(
        session, workspace_id=workspace_id, delivery_id=delivery_id, now=now
    )


async def confirm_delivery(
    session: AsyncSession, *, workspace_id: int, delivery_id: int, now: datetime
) -> NotificationDelivery:
    return await deliveries.confirm(
        session, workspace_id=workspace_id, delivery_id=delivery_id, now=now
    )


async def confirm_signed_receipt(
    session: AsyncSession, *, body: bytes, headers: Mapping[str, str], now: datetime
) -> NotificationDelivery:
    return await deliveries.confirm_signed_receipt(session, body=body, headers=headers, now=now)


# In-app notifications


def list_notifications(
    *, workspace_id: int, recipient: str | None, unread_only: bool
) -> Listing[Notification]:
    return Listing(
        inbox.notifications_query(
            workspace_id=workspace_id, recipient=recipient, unread_only=unread_only
        ),
        (Notification.id,),
    )


async def mark_read(
    session: AsyncSession, *, workspace_id: int, notification_id: int, now: datetime
) -> Notification:
    return await inbox.mark_read(
        session, workspace_id=workspace_id, notification_id=notification_id, now=now
    )
