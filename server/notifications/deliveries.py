"""Deliveries (one per attempt): listing, sending again, and receipts.

A receipt confirms that a receiver got an attempt: ``confirmDelivery`` over
GraphQL, or the receiver itself posts ``{"deliveryId": "<id>"}`` to
``POST /notifications/receipts`` signed per Standard Webhooks with its route's
secret (``webhook-id``, ``webhook-timestamp`` within five minutes,
``webhook-signature``).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from server.core.db import Database, get_in_workspace
from server.core.errors import Conflict, ErrorCode, InvalidInput, Unauthenticated
from server.core.pagination import MAX_ID
from server.notifications.messages import DeliveryStatus, attempt_of
from server.notifications.models import (
    NotificationDelivery,
    NotificationMessage,
    NotificationRoute,
)
from server.notifications.routes import Channel

RECEIPTS_PATH = "/notifications/receipts"
RECEIPT_REFUSED = "unknown delivery, or a signature that does not verify with its route's secret"


@dataclass(frozen=True)
class DeliveryFilter:
    route_id: int | None = None
    alert_id: int | None = None
    statuses: list[DeliveryStatus] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)


def deliveries_query(*, workspace_id: int, filter_: DeliveryFilter) -> Select[NotificationDelivery]:
    query = select(NotificationDelivery).where(NotificationDelivery.workspace_id == workspace_id)
    if filter_.route_id is not None:
        query = query.where(NotificationDelivery.route_id == filter_.route_id)
    if filter_.alert_id is not None:
        query = query.where(NotificationDelivery.alert_id == filter_.alert_id)
    if filter_.statuses:
        query = query.where(NotificationDelivery.status.in_([s.value for s in filter_.statuses]))
    if filter_.channels:
        query = query.where(NotificationDelivery.channel.in_([c.value for c in filter_.channels]))
    return query


def messages_query(*, workspace_id: int, message_ids: list[int]) -> Select[NotificationMessage]:
    return select(NotificationMessage).where(
        NotificationMessage.workspace_id == workspace_id, NotificationMessage.id.in_(message_ids)
    )


async def get(
    session: AsyncSession, *, workspace_id: int, delivery_id: int
) -> NotificationDelivery:
    return await get_in_workspace(
        session, NotificationDelivery, delivery_id, workspace_id=workspace_id, what="delivery"
    )


async def _refuse_unsendable(session: AsyncSession, message: NotificationMessage) -> None:
    if message.channel not in (Channel.WEBHOOK.value, Channel.EMAIL.value):
        raise Conflict("only webhook and email notifications are sent again")
    if message.person is not None:
        return
    route = await session.get(NotificationRoute, message.route_id) if message.route_id else None
    if route is None:
        raise Conflict("the route of this notification was deleted")
    if not route.enabled:
        raise Conflict(f"route {route.name!r} is disabled; enable it first")


async def redeliver(
    session: AsyncSession, *, workspace_id: int, delivery_id: int, now: datetime
) -> NotificationDelivery:
    """A new attempt of the delivery's message, due now, with the same webhook-id
    (an attempt already waiting is moved to now instead)."""
    delivery = await get(session, workspace_id=workspace_id, delivery_id=delivery_id)
    message = await session.get(NotificationMessage, delivery.message_id, with_for_update=True)
    assert message is not None
    await _refuse_unsendable(session, message)
    waiting = await session.scalar(
        select(NotificationDelivery).where(
            NotificationDelivery.message_id == message.id,
            NotificationDelivery.status == DeliveryStatus.PENDING.value,
        )
    )
    if waiting is not None and waiting.claimed_until is not None:
        raise Conflict(f"attempt {waiting.attempt} of this notification is being sent right now")
    if waiting is not None:
        waiting.due_at = now
        await session.flush()
        return waiting
    last = await session.scalar(
        select(func.max(NotificationDelivery.attempt)).where(
            NotificationDelivery.message_id == message.id
        )
    )
    attempt = attempt_of(message, (last or 0) + 1, due_at=now, now=now)
    session.add(attempt)
    message.status = DeliveryStatus.PENDING.value
    message.updated_at = now
    await session.flush()
    return attempt


def _confirm(delivery: NotificationDelivery, now: datetime) -> NotificationDelivery:
    if delivery.status == DeliveryStatus.UNDELIVERABLE.value:
        raise Conflict(f"delivery {delivery.id} was never sent: nothing to confirm")
    if delivery.confirmed_at is None:
        delivery.confirmed_at = now
    return delivery


async def confirm(
    session: AsyncSession, *, workspace_id: int, delivery_id: int, now: datetime
) -> NotificationDelivery:
    """Record that the receiver got the attempt (the first receipt counts)."""
    delivery = await get(session, workspace_id=workspace_id, delivery_id=delivery_id)
    _confirm(delivery, now)
    await session.flush()
    return delivery


def _receipt_delivery_id(body: bytes) -> int:
    try:
        document = json.loads(body)
        delivery_id = int(str(document["deliveryId"]))
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidInput(
            'a receipt is the JSON body {"deliveryId": "<id>"}', field="deliveryId"
        ) from error
    if not 0 < delivery_id <= MAX_ID:
        raise InvalidInput("deliveryId is out of range", field="deliveryId")
    return delivery_id


async def confirm_signed_receipt(
    session: AsyncSession, *, body: bytes, headers: Mapping[str, str], now: datetime
) -> NotificationDelivery:
    """Confirm the attempt a receiver names in a receipt signed with its route's secret."""
    delivery = await session.get(
        NotificationDelivery, _receipt_delivery_id(body), with_for_update=True
    )
    route = (
        await session.get(NotificationRoute, delivery.route_id)
        if delivery is not None and delivery.route_id is not None
        else None
    )
    if delivery is None or route is None or not route.secret:
        raise Unauthenticated(RECEIPT_REFUSED)
    try:
        Webhook(route.secret).verify(body, dict(headers), json_parse=False)
    except WebhookVerificationError as error:
        raise Unauthenticated(RECEIPT_REFUSED) from error
    _confirm(delivery, now)
    await session.flush()
    return delivery


RECEIPT_STATUS = {
    ErrorCode.BAD_USER_INPUT: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.CONFLICT: 409,
}


async def answer_receipt(
    db: Database, *, body: bytes, headers: Mapping[str, str], now: datetime
) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON answer of a receipt posted by a receiver."""
    try:
        async with db.transaction() as session:
            delivery = await confirm_signed_receipt(session, body=body, headers=headers, now=now)
    except (InvalidInput, Unauthenticated, Conflict) as refused:
        return RECEIPT_STATUS[refused.code], {"error": refused.message}
    confirmed = delivery.confirmed_at.isoformat() if delivery.confirmed_at else None
    return 200, {"deliveryId": str(delivery.id), "confirmedAt": confirmed}
