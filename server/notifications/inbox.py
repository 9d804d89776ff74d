"""In-app notifications: each recipient's inbox, read and marked read."""

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import get_in_workspace
from server.notifications.models import Notification


def notifications_query(
    *, workspace_id: int, recipient: str | None, unread_only: bool
) -> Select[Notification]:
    query = select(Notification).where(Notification.workspace_id == workspace_id)
    if recipient is not None:
        query = query.where(Notification.recipient == recipient)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return query


async def mark_read(
    session: AsyncSession, *, workspace_id: int, notification_id: int, now: datetime
) -> Notification:
    """Mark the notification read; one read already keeps its first reading time."""
    notification = await get_in_workspace(
        session, Notification, notification_id, workspace_id=workspace_id, what="notification"
    )
    if notification.read_at is None:
        notification.read_at = now
        await session.flush()
    return notification
