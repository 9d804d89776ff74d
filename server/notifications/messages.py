"""Messages and their attempts: created here, set-based, and sent by the job runner.

A WEBHOOK or EMAIL message starts with one PENDING attempt due at once; an
IN_APP message is delivered in the transaction that creates it (a row in the
recipient's inbox). Every delivered notification appends ``alert.notified`` to
the alert's stream, in the transaction that records it. What cannot be sent is
recorded as a message with one UNDELIVERABLE attempt.
"""

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core import bulk
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
MAX_REASON = 200
MAX_TARGET = 2048
MAX_ERROR = 1000


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNDELIVERABLE = "UNDELIVERABLE"


def new_webhook_id() -> str:
    return f"msg_{secrets.token_hex(16)}"


def alert_id_of(alert: Mapping[str, Any]) -> int | None:
    value = str(alert.get("alertId") or "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


@dataclass(frozen=True, slots=True)
class MessageDraft:
    """One message to create: to a route (``route_id``, ``route_name``), to a
    ``person``, or to a target no channel reaches (``channel`` None).

    ``undeliverable`` says why it cannot be sent: such a message is recorded with
    one UNDELIVERABLE attempt and never sent.
    """

    workspace_id: int
    channel: Channel | None
    target: str
    alert: Mapping[str, Any]
    reason: str
    route_id: int | None = None
    route_name: str | None = None
    person: str | None = None
    source_event_seq: int | None = None
    undeliverable: str | None = None

    @property
    def status(self) -> DeliveryStatus:
        """The status it is created with (an in-app message is delivered at once)."""
        if self.undeliverable is not None:
            return DeliveryStatus.UNDELIVERABLE
        if self.channel is Channel.IN_APP:
            return DeliveryStatus.SUCCEEDED
        return DeliveryStatus.PENDING


@dataclass(frozen=True, slots=True)
class Claim:
    """Whom new attempts are claimed for at creation, and until when: a sender
    handed them straight away sends them without claiming them again."""

    owner: str
    until: datetime


@dataclass(frozen=True, slots=True)
class Created:
    message_id: int
    #: The message's first attempt.
    delivery_id: int
    #: That attempt waits to be sent (not delivered in-app or undeliverable).
    pending: bool


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


def notified_payload(
    alert: Mapping[str, Any],
    *,
    channel: str | None,
    reason: str,
    delivery_id: int,
    webhook_id: str,
    recipient: str | None,
    route_name: str | None,
) -> dict[str, Any]:
    """The ``alert.notified`` payload: the alert as notified, and to whom."""
    return {
        **alert,
        "recipient": recipient,
        "channel": channel,
        "route": route_name,
        "reason": reason,
        "deliveryId": str(delivery_id),
        "webhookId": webhook_id,
    }


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


def route_target(route: NotificationRoute) -> str:
    """Where a route's messages go: its URL, its address, or (IN_APP) the inbox
    named after the route."""
    return route.url or route.email or route.name


def _message_row(draft: MessageDraft, now: datetime) -> dict[str, Any]:
    return {
        "workspace_id": draft.workspace_id,
        "route_id": draft.route_id,
        "person": draft.person,
        "channel": draft.channel.value if draft.channel else None,
        "target": draft.target[:MAX_TARGET],
        "alert_id": alert_id_of(draft.alert),
        "alert": dict(draft.alert),
        "reason": draft.reason[:MAX_REASON],
        "webhook_id": new_webhook_id(),
        "source_event_seq": draft.source_event_seq,
        "status": draft.status.value,
        "created_at": now,
        "updated_at": now,
    }


def _attempt_row(
    message: dict[str, Any], draft: MessageDraft, now: datetime, claim: Claim | None
) -> dict[str, Any]:
    """The first attempt of a message: due now (claimed when ``claim`` says by
    whom), or already finished."""
    status = draft.status
    finished = status is not DeliveryStatus.PENDING
    claimed = claim is not None and not finished
    return {
        "workspace_id": message["workspace_id"],
        "message_id": message["id"],
        "route_id": message["route_id"],
        "alert_id": message["alert_id"],
        "channel": message["channel"],
        "status": status.value,
        "attempt": 1,
        "due_at": now,
        "error": draft.undeliverable[:MAX_ERROR] if draft.undeliverable is not None else None,
        "latency_ms": 0 if status is DeliveryStatus.SUCCEEDED else None,
        "created_at": now,
        "finished_at": now if finished else None,
        "claimed_by": claim.owner if claim is not None and claimed else None,
        "claimed_until": claim.until if claim is not None and claimed else None,
    }


def _notification_row(message: dict[str, Any], now: datetime) -> dict[str, Any]:
    title, body = describe(message["alert"], message["reason"])
    return {
        "workspace_id": message["workspace_id"],
        "recipient": message["target"],
        "message_id": message["id"],
        "alert_id": message["alert_id"],
        "title": title,
        "body": body,
        "created_at": now,
    }


def _notified_event(
    message: dict[str, Any], delivery_id: int, draft: MessageDraft, now: datetime
) -> dict[str, Any]:
    alert = message["alert"]
    return {
        "workspace_id": message["workspace_id"],
        "stream": Stream.ALERT.value,
        "type": NOTIFIED,
        "subject_id": message["alert_id"],
        "service": alert.get("service"),
        "severity": alert.get("severity"),
        "payload": notified_payload(
            alert,
            channel=message["channel"],
            reason=message["reason"],
            delivery_id=delivery_id,
            webhook_id=message["webhook_id"],
            recipient=message["target"],
            route_name=draft.route_name,
        ),
        "occurred_at": now,
    }


async def create_many(
    session: AsyncSession,
    drafts: Sequence[MessageDraft],
    *,
    now: datetime,
    claim: Claim | None = None,
) -> list[Created]:
    """Create the messages, each with its first attempt, and deliver the in-app
    ones: one INSERT of messages, one of attempts, one of inbox rows and one of
    ``alert.notified`` events, however many drafts. Their ids, in the order given.
    With ``claim``, the attempts to send are created claimed by its owner."""
    if not drafts:
        return []
    messages = [_message_row(draft, now) for draft in drafts]
    inserted = await bulk.insert_rows(
        session, NotificationMessage, messages, returning=("webhook_id", "id")
    )
    message_ids: dict[str, int] = dict(inserted)
    for message in messages:
        message["id"] = message_ids[message["webhook_id"]]
    attempts = [
        _attempt_row(message, draft, now, claim)
        for message, draft in zip(messages, drafts, strict=True)
    ]
    attempted = await bulk.insert_rows(
        session, NotificationDelivery, attempts, returning=("message_id", "id")
    )
    delivery_ids: dict[int, int] = dict(attempted)
    in_app = [
        (message, draft)
        for message, draft in zip(messages, drafts, strict=True)
        if draft.status is DeliveryStatus.SUCCEEDED
    ]
    if in_app:
        await bulk.insert_rows(
            session, Notification, [_notification_row(message, now) for message, _ in in_app]
        )
        await events.append_many(
            session,
            [
                _notified_event(message, delivery_ids[message["id"]], draft, now)
                for message, draft in in_app
            ],
        )
    return [
        Created(message["id"], delivery_ids[message["id"]], draft.status is DeliveryStatus.PENDING)
        for message, draft in zip(messages, drafts, strict=True)
    ]
