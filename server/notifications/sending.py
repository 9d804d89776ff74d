"""Sending due attempts: claim, send concurrently, record; retry with backoff.

Each attempt is sent at most once. Claiming it (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite has one writer) marks it in flight until ``claim_lease``
and commits before anything is sent, so no other replica can take it; the
outcome is then recorded only by the claimant. An attempt whose claim ran out
without an outcome (its sender died) is recorded as FAILED with an unknown
outcome and is never sent again: the next attempt, a new row, follows with the
same ``webhook-id``, so a receiver that did get it can deduplicate.
"""

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import Clock, SystemClock
from server.core.events.outbox import Outbox
from server.core.settings import Settings
from server.notifications import routes, transports
from server.notifications.backoff import retry_delay
from server.notifications.messages import DeliveryStatus, append_notified, attempt_of
from server.notifications.models import (
    NotificationDelivery,
    NotificationMessage,
    NotificationRoute,
)
from server.notifications.routes import Channel
from server.notifications.transports import Attempt, Outcome

logger = logging.getLogger(__name__)

UNKNOWN_OUTCOME = "the sender stopped before recording the outcome (it may have been delivered)"


@dataclass
class Sender:
    outbox: Outbox
    settings: Settings
    clock: Clock
    owner: str
    #: Signs webhooks: receivers check ``webhook-timestamp`` against their own clocks.
    wall_clock: Clock = field(default_factory=SystemClock)
    uniform: Callable[[], float] = random.random
    transport: httpx.AsyncBaseTransport | None = None

    @property
    def batch(self) -> int:
        return self.settings.notification_send_concurrency * 4

    async def run(self) -> int:
        """Send every attempt due now, in batches; how many were sent."""
        sent = 0
        while True:
            attempts = await self.claim(self.clock.now())
            if attempts:
                await self.send_all(attempts)
            sent += len(attempts)
            if len(attempts) < self.batch:
                return sent

    async def claim(self, now: datetime) -> list[Attempt]:
        async with self.outbox.transaction() as session:
            await self._give_up_stale_claims(session, now)
            due = (
                await session.scalars(
                    select(NotificationDelivery)
                    .where(
                        NotificationDelivery.status == DeliveryStatus.PENDING.value,
                        NotificationDelivery.due_at <= now,
                        NotificationDelivery.claimed_until.is_(None),
                    )
                    .order_by(NotificationDelivery.due_at, NotificationDelivery.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            claimed = []
            for delivery in due:
                attempt = await self._claim_one(session, delivery, now)
                if attempt is not None:
                    claimed.append(attempt)
        return claimed

    async def _claim_one(
        self, session: AsyncSession, delivery: NotificationDelivery, now: datetime
    ) -> Attempt | None:
        message = await session.get(NotificationMessage, delivery.message_id)
        assert message is not None
        route = await session.get(NotificationRoute, message.route_id) if message.route_id else None
        stop = _why_not_sendable(message, route)
        if stop is not None:
            _finish(delivery, DeliveryStatus.UNDELIVERABLE, now, error=stop)
            message.status = DeliveryStatus.UNDELIVERABLE.value
            message.updated_at = now
            return None
        delivery.claimed_until = now + self.settings.notification_claim_lease
        delivery.claimed_by = self.owner
        return transports.attempt_for(delivery, message, route)

    async def _give_up_stale_claims(self, session: AsyncSession, now: datetime) -> None:
        stale = (
            await session.scalars(
                select(NotificationDelivery)
                .where(
                    NotificationDelivery.status == DeliveryStatus.PENDING.value,
                    NotificationDelivery.claimed_until < now,
                )
                .with_for_update(skip_locked=True)
            )
        ).all()
        for delivery in stale:
            message = await session.get(NotificationMessage, delivery.message_id)
            assert message is not None
            _finish(delivery, DeliveryStatus.FAILED, now, error=UNKNOWN_OUTCOME)
            await self._after_failure(session, message, delivery.attempt, now)

    async def send_all(self, attempts: list[Attempt]) -> None:
        limit = asyncio.Semaphore(self.settings.notification_send_concurrency)
        async with httpx.AsyncClient(
            timeout=self.settings.notification_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            transport=self.transport,
        ) as client:

            async def send_and_record(attempt: Attempt) -> None:
                async with limit:
                    outcome = await transports.send(
                        attempt, client=client, settings=self.settings, wall_clock=self.wall_clock
                    )
                try:
                    await self.record(attempt, outcome)
                except Exception:
                    logger.exception("could not record attempt %s", attempt.delivery_id)

            await asyncio.gather(*(send_and_record(attempt) for attempt in attempts))

    async def record(self, attempt: Attempt, outcome: Outcome) -> None:
        now = self.clock.now()
        async with self.outbox.transaction() as session:
            delivery = await session.scalar(
                select(NotificationDelivery)
                .where(
                    NotificationDelivery.id == attempt.delivery_id,
                    NotificationDelivery.status == DeliveryStatus.PENDING.value,
                    NotificationDelivery.claimed_by == self.owner,
                )
                .with_for_update()
            )
            if delivery is None:
                logger.warning("attempt %s was given up before its outcome", attempt.delivery_id)
                return
            message = await session.get(
                NotificationMessage, attempt.message_id, with_for_update=True
            )
            assert message is not None
            _finish(
                delivery,
                outcome.status,
                now,
                error=outcome.error,
                http_status=outcome.http_status,
                latency_ms=outcome.latency_ms,
            )
            if outcome.status is DeliveryStatus.SUCCEEDED:
                message.status = DeliveryStatus.SUCCEEDED.value
                message.updated_at = now
                append_notified(
                    session,
                    message,
                    delivery,
                    recipient=attempt.recipient,
                    route_name=attempt.route_name,
                    now=now,
                )
            elif outcome.gone and message.route_id is not None:
                message.status = DeliveryStatus.FAILED.value
                message.updated_at = now
                await routes.disable(
                    session, route_id=message.route_id, reason=outcome.error or "", now=now
                )
            else:
                await self._after_failure(session, message, delivery.attempt, now)

    async def _after_failure(
        self, session: AsyncSession, message: NotificationMessage, attempt: int, now: datetime
    ) -> None:
        """Schedule the next attempt, or give the message up after the last one."""
        message.updated_at = now
        if attempt >= self.settings.notification_max_attempts:
            message.status = DeliveryStatus.FAILED.value
            return
        delay = retry_delay(
            attempt,
            base=self.settings.notification_backoff_base,
            cap=self.settings.notification_backoff_cap,
            uniform=self.uniform,
        )
        session.add(attempt_of(message, attempt + 1, due_at=now + delay, now=now))
        await session.flush()


def _why_not_sendable(message: NotificationMessage, route: NotificationRoute | None) -> str | None:
    if message.person is not None:
        return None
    if route is None:
        return "its route was deleted"
    if not route.enabled:
        return f"route {route.name!r} is disabled: {route.disabled_reason or 'by its owner'}"
    if message.channel == Channel.WEBHOOK.value and not route.secret:
        return f"route {route.name!r} has no secret to sign with"
    return None


def _finish(
    delivery: NotificationDelivery,
    status: DeliveryStatus,
    now: datetime,
    *,
    error: str | None = None,
    http_status: int | None = None,
    latency_ms: int | None = None,
) -> None:
    delivery.status = status.value
    delivery.finished_at = now
    delivery.claimed_until = None
    delivery.error = error[:1000] if error else None
    delivery.http_status = http_status
    delivery.latency_ms = latency_ms
