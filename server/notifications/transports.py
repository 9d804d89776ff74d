"""One attempt on the wire: a signed webhook POST or an email through SMTP.

The webhook body is versioned JSON, ``{"type": "opsgraph.notification.v1",
"timestamp", "data": {"alert", "reason", "route", "messageId", "deliveryId",
"attempt"}}``, signed per Standard Webhooks (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``) with the route's secret. The URL
is checked again before each send and the request goes to the address that
passed the check (the host name stays in ``Host`` and TLS's SNI). Redirects are
not followed: a 3xx is a failure, as is anything but a 2xx; 410 Gone also
disables the route.
"""

import json
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from math import floor
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
import httpx
from standardwebhooks.webhooks import Webhook

from server.core.clock import Clock
from server.core.settings import Settings
from server.notifications import targets
from server.notifications.messages import DeliveryStatus, describe
from server.notifications.models import (
    NotificationDelivery,
    NotificationMessage,
    NotificationRoute,
)
from server.notifications.routes import Channel

BODY_TYPE = "opsgraph.notification.v1"
USER_AGENT = "opsgraph-notifications/1"


@dataclass(frozen=True)
class Attempt:
    """What a sender needs of a claimed attempt, read before the claim commits."""

    delivery_id: int
    message_id: int
    workspace_id: int
    alert_id: int | None
    attempt: int
    channel: Channel
    target: str
    webhook_id: str
    secret: str | None
    route_name: str | None
    recipient: str | None
    alert: dict[str, Any]
    reason: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status: DeliveryStatus
    http_status: int | None = None
    error: str | None = None
    latency_ms: int | None = None
    #: The receiver answered 410 Gone: its route is disabled.
    gone: bool = False


def webhook_body(
    delivery: NotificationDelivery, message: NotificationMessage, route: NotificationRoute | None
) -> bytes:
    document = {
        "type": BODY_TYPE,
        "timestamp": message.created_at.isoformat(),
        "data": {
            "alert": message.alert,
            "reason": message.reason,
            "route": {"id": str(route.id), "name": route.name} if route else None,
            "messageId": str(message.id),
            "deliveryId": str(delivery.id),
            "attempt": delivery.attempt,
        },
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def attempt_for(
    delivery: NotificationDelivery, message: NotificationMessage, route: NotificationRoute | None
) -> Attempt:
    channel = Channel(message.channel or Channel.IN_APP.value)
    target = message.target or ""
    return Attempt(
        delivery_id=delivery.id,
        message_id=message.id,
        workspace_id=message.workspace_id,
        alert_id=message.alert_id,
        attempt=delivery.attempt,
        channel=channel,
        target=target,
        webhook_id=message.webhook_id,
        secret=route.secret if route else None,
        route_name=route.name if route else None,
        recipient=target if channel is Channel.EMAIL else (route.name if route else None),
        alert=message.alert,
        reason=message.reason,
        body=webhook_body(delivery, message, route),
    )


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def signed_headers(attempt: Attempt, *, at: datetime) -> dict[str, str]:
    assert attempt.secret is not None
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": attempt.webhook_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": Webhook(attempt.secret).sign(attempt.webhook_id, at, attempt.body),
    }


def _judge(response: httpx.Response, latency_ms: int) -> Outcome:
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(DeliveryStatus.SUCCEEDED, http_status=code, latency_ms=latency_ms)
    if code == 410:
        error = "410 Gone: the receiver asked for no more notifications; route disabled"
        return Outcome(DeliveryStatus.FAILED, code, error, latency_ms, gone=True)
    if 300 <= code < 400:
        location = response.headers.get("location", "?")
        error = f"HTTP {code}: redirect to {location[:300]} not followed"
        return Outcome(DeliveryStatus.FAILED, code, error, latency_ms)
    return Outcome(DeliveryStatus.FAILED, code, f"HTTP {code}", latency_ms)


async def send_webhook(
    attempt: Attempt, *, client: httpx.AsyncClient, settings: Settings, wall_clock: Clock
) -> Outcome:
    try:
        resolved = await targets.check_webhook_url(
            attempt.target, allow_loopback=settings.allow_loopback_webhooks
        )
    except targets.TargetRefused as refused:
        return Outcome(DeliveryStatus.FAILED, error=f"target refused: {refused}")
    headers = signed_headers(attempt, at=wall_clock.now())
    headers["host"] = urlsplit(attempt.target).netloc
    extensions = {} if targets.is_ip_literal(resolved.host) else {"sni_hostname": resolved.host}
    started = time.perf_counter()
    try:
        response = await client.post(
            resolved.pinned_url, content=attempt.body, headers=headers, extensions=extensions
        )
    except httpx.TimeoutException:
        error = f"timed out after {settings.notification_timeout_seconds:g} s"
        return Outcome(DeliveryStatus.FAILED, error=error, latency_ms=_elapsed_ms(started))
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"
        return Outcome(DeliveryStatus.FAILED, error=error, latency_ms=_elapsed_ms(started))
    return _judge(response, _elapsed_ms(started))


def email_message(attempt: Attempt, *, sender: str) -> EmailMessage:
    title, body = describe(attempt.alert, attempt.reason)
    email = EmailMessage()
    email["From"] = sender
    email["To"] = attempt.target
    email["Subject"] = title
    # The same on every attempt, as the webhook-id: mail clients drop repeats.
    email["Message-ID"] = f"<{attempt.webhook_id}@opsgraph>"
    email["X-Opsgraph-Delivery-Id"] = str(attempt.delivery_id)
    email.set_content(body)
    return email


async def send_email(attempt: Attempt, *, settings: Settings) -> Outcome:
    if not settings.smtp_host:
        error = "no SMTP server is configured (set OPSGRAPH_SMTP_HOST)"
        return Outcome(DeliveryStatus.FAILED, error=error)
    try:
        await targets.check_email(attempt.target, allow_loopback=settings.allow_loopback_webhooks)
    except targets.TargetRefused as refused:
        return Outcome(DeliveryStatus.FAILED, error=f"target refused: {refused}")
    started = time.perf_counter()
    try:
        await aiosmtplib.send(
            email_message(attempt, sender=settings.smtp_from),
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            use_tls=settings.smtp_tls == "tls",
            start_tls={"auto": None, "starttls": True}.get(settings.smtp_tls, False),
            timeout=settings.notification_timeout_seconds,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as failure:
        error = f"SMTP: {type(failure).__name__}: {failure}"
        return Outcome(DeliveryStatus.FAILED, error=error, latency_ms=_elapsed_ms(started))
    return Outcome(DeliveryStatus.SUCCEEDED, latency_ms=_elapsed_ms(started))


async def send(
    attempt: Attempt, *, client: httpx.AsyncClient, settings: Settings, wall_clock: Clock
) -> Outcome:
    if attempt.channel is Channel.WEBHOOK:
        return await send_webhook(attempt, client=client, settings=settings, wall_clock=wall_clock)
    if attempt.channel is Channel.EMAIL:
        return await send_email(attempt, settings=settings)
    return Outcome(DeliveryStatus.UNDELIVERABLE, error=f"nothing sends {attempt.channel.value}")
