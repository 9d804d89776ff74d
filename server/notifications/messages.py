"""Messages and their attempts: created here, sent by the job runner.

A WEBHOOK or EMAIL message starts with one PENDING attempt due at once; an
IN_APP message is delivered in the transaction that creates it (a row in the
recipient's inbox). Every delivered notification appends ``alert.notified`` to
the alert's stream, in the transaction that records it.
"""

import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.events import service as events
from server.core.events.service import Stream
from server.notifications.models import (
    Notification,
    NotificationDelivery,
    NotificationMessage,
    NotificationRoute,
)
from server.notifications.routes import Channel

NOTIFIED = "alert.notified"
MAX_TITLE = 300


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNDELIVERABLE = "UNDELIVERABLE"


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def alert_id_of(alert: Mapping[str, Any]) -> int | None:
    value = str(alert.get("alertId") or "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _message(
    *,
    workspace_id: int,
    channel: Channel | None,
    target: str | None,
    alert: Mapping[str, Any],
    reason: str,
    now: datetime,
    route_id: int | None = None,
    person: str | None = None,
    source_event_seq: int | None = None,
) -> NotificationMessage:
    return NotificationMessage(
        workspace_id=workspace_id,
        route_id=route_id,
        person=person,
        channel=channel.value if channel else None,
        target=target,
        alert_id=alert_id_of(alert),
        alert=dict(alert),
        reason=reason[:200],
        webhook_id=new_webhook_id(),
        source_event_seq=source_event_seq,
        status=DeliveryStatus.PENDING.value,
        created_at=now,
        updated_at=now,
    )


def attempt_of(
    message: NotificationMessage, attempt: int, *, due_at: datetime, now: datetime
) -> NotificationDelivery:
    return NotificationDelivery(
        workspace_id=message.workspace_id,
        message_id=message.id,
        route_id=message.route_id,
        alert_id=message.alert_id,
        channel=message.channel,
        status=DeliveryStatus.PENDING.value,
        attempt=attempt,
        due_at=due_at,
        created_at=now,
    )


def append_notified(
    session: AsyncSession,
    message: NotificationMessage,
    delivery: NotificationDelivery,
    *,
    recipient: str | None,
    route_name: str | None,
    now: datetime,
) -> None:
    """``alert.notified`` on the alert's stream: the alert as notified, and to whom."""
    alert = message.alert
    events.append(
        session,
        workspace_id=message.workspace_id,
        stream=Stream.ALERT,
        type=NOTIFIED,
        subject_id=message.alert_id,
        service=alert.get("service"),
        severity=alert.get("severity"),
        payload={
            **alert,
            "recipient": recipient,
            "channel": message.channel,
            "route": route_name,
            "reason": message.reason,
            "deliveryId": str(delivery.id),
            "webhookId": message.webhook_id,
        },
        occurred_at=now,
    )


def describe(alert: Mapping[str, Any], reason: str) -> tuple[str, str]:
    """The title and body of a notification."""
    title = f"[{alert.get('severity')}] {alert.get('service')}: {alert.get('summary')}"
    labels = ", ".join(
        f"{key}={value}" for key, value in sorted((alert.get("labels") or {}).items())
    )
    body = "\n".join(
        (
            str(alert.get("summary") or ""),
            f"reason: {reason}",
            f"status: {alert.get('status')}",
            f"labels: {labels or '-'}",
            f"alert: {alert.get('alertId')} (fingerprint {alert.get('fingerprint')})",
        )
    )
    return title[:MAX_TITLE], body


async def _deliver_in_app(
    session: AsyncSession, message: NotificationMessage, *, route_name: str | None, now: datetime
) -> None:
    recipient = message.target or ""
    title, body = describe(message.alert, message.reason)
    session.add(
        Notification(
            workspace_id=message.workspace_id,
            recipient=recipient,
            message_id=message.id,
            alert_id=message.alert_id,
            title=title,
            body=body,
            created_at=now,
        )
    )
    delivery = attempt_of(message, 1, due_at=now, now=now)
    delivery.status = DeliveryStatus.SUCCEEDED.value
    delivery.latency_ms = 0
    delivery.finished_at = now
    session.add(delivery)
    message.status = DeliveryStatus.SUCCEEDED.value
    await session.flush()
    append_notified(session, message, delivery, recipient=recipient, route_name=route_name, now=now)


async def _start(
    session: AsyncSession,
    message: NotificationMessage,
    *,
    route_name: str | None,
    now: datetime,
) -> NotificationMessage:
    session.add(message)
    await session.flush()
    if message.channel == Channel.IN_APP.value:
        await _deliver_in_app(session, message, route_name=route_name, now=now)
    else:
        session.add(attempt_of(message, 1, due_at=now, now=now))
        await session.flush()
    return message


def route_target(route: NotificationRoute) -> str:
    """Where a route's messages go: its URL, its address, or (IN_APP) the inbox
    named after the route."""
    return route.url or route.email or route.name


async def create_for_route(
    session: AsyncSession,
    *,
    route: NotificationRoute,
    alert: Mapping[str, Any],
    reason: str,
    now: datetime,
    source_event_seq: int | None = None,
) -> NotificationMessage:
    message = _message(
        workspace_id=route.workspace_id,
        channel=Channel(route.channel),
        target=route_target(route),
        alert=alert,
        reason=reason,
        now=now,
        route_id=route.id,
        source_event_seq=source_event_seq,
    )
    return await _start(session, message, route_name=route.name, now=now)


async def create_for_person(
    session: AsyncSession,
    *,
    workspace_id: int,
    person: str,
    channel: Channel,
    target: str,
    alert: Mapping[str, Any],
    reason: str,
    now: datetime,
) -> NotificationMessage:
    message = _message(
        workspace_id=workspace_id,
        channel=channel,
        target=target,
        alert=alert,
        reason=reason,
        now=now,
        person=person,
    )
    return await _start(session, message, route_name=None, now=now)


async def create_undeliverable(
    session: AsyncSession,
    *,
    workspace_id: int,
    alert: Mapping[str, Any],
    target: str,
    reason: str,
    error: str,
    now: datetime,
    channel: Channel | None = None,
    route_id: int | None = None,
    person: str | None = None,
) -> NotificationDelivery:
    """A message that cannot be sent, recorded with one UNDELIVERABLE attempt."""
    message = _message(
        workspace_id=workspace_id,
        channel=channel,
        target=target[:2048],
        alert=alert,
        reason=reason,
        now=now,
        route_id=route_id,
        person=person,
    )
    message.status = DeliveryStatus.UNDELIVERABLE.value
    session.add(message)
    await session.flush()
    delivery = attempt_of(message, 1, due_at=now, now=now)
    delivery.status = DeliveryStatus.UNDELIVERABLE.value
    delivery.error = error[:1000]
    delivery.finished_at = now
    session.add(delivery)
    await session.flush()
    return delivery
