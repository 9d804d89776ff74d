"""The named entry point of other domains (security inspections) into the routes:
what an auditor may know of each webhook route, never its secret."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.notifications.models import NotificationRoute
from server.notifications.routes import Channel

__all__ = ["WebhookRouteFacts", "webhook_routes"]


@dataclass(frozen=True)
class WebhookRouteFacts:
    id: int
    name: str
    enabled: bool
    #: The URL's scheme, lower case (``https``, ``http``).
    scheme: str
    has_secret: bool


async def webhook_routes(session: AsyncSession, *, workspace_id: int) -> list[WebhookRouteFacts]:
    """The workspace's WEBHOOK routes, enabled or not, oldest first."""
    rows = await session.execute(
        select(
            NotificationRoute.id,
            NotificationRoute.name,
            NotificationRoute.enabled,
            NotificationRoute.url,
            NotificationRoute.secret,
        )
        .where(
            NotificationRoute.workspace_id == workspace_id,
            NotificationRoute.channel == Channel.WEBHOOK.value,
        )
        .order_by(NotificationRoute.id)
    )
    return [
        WebhookRouteFacts(
            id=row.id,
            name=row.name,
            enabled=row.enabled,
            scheme=urlsplit(row.url or "").scheme.lower(),
            has_secret=bool(row.secret),
        )
        for row in rows
    ]
