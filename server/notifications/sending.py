"""Sending due attempts: claim a round, send it concurrently, record it at once.

Each attempt is sent at most once. A round's attempts are claimed together with
their messages and routes in one statement (``FOR UPDATE OF`` the attempts,
``SKIP LOCKED``, on PostgreSQL; SQLite has one writer): the claim marks them in
flight until ``claim_lease`` and commits before anything is sent, so no other
replica can take them. The outcomes of the round are then recorded in one
transaction, and only for the attempts still claimed by this sender. An attempt
whose claim ran out without an outcome (its sender died) is recorded as FAILED
with an unknown outcome and is never sent again: the next attempt, a new row,
follows with the same ``webhook-id``, so a receiver that did get it can
deduplicate. While a round comes back full, the next is claimed at once.
"""

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Select, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import Clock, SystemClock
from server.core.events import service as events
from server.core.events.outbox import Outbox
from server.core.events.service import Stream
from server.core.settings import Settings
from server.notifications import routes, transports
from server.notifications.backoff import retry_delay
from server.notifications.messages import NOTIFIED, Claim, DeliveryStatus, notified_payload
from server.notifications.models import (
    NotificationDelivery,
    NotificationMessage,
    NotificationRoute,
)
from server.notifications.routes import Channel
from server.notifications.transports import Attempt, Outcome

logger = logging.getLogger(__name__)

UNKNOWN_OUTCOME = "the sender stopped before recording the outcome (it may have been delivered)"
MAX_ERROR = 1000

Finished = tuple[Attempt, Outcome]


def _table(model: type[NotificationDelivery] | type[NotificationMessage]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


DELIVERIES = _table(NotificationDelivery)
MESSAGES = _table(NotificationMessage)

#: One statement for a round's outcomes, run with one set of values per attempt.
_FINISH_DELIVERY = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        finished_at=bindparam("b_finished_at"),
        claimed_until=None,
        error=bindparam("b_error"),
        http_status=bindparam("b_http_status"),
        latency_ms=bindparam("b_latency_ms"),
    )
)
_SET_MESSAGE_STATUS = (
    update(MESSAGES)
    .where(MESSAGES.c.id == bindparam("b_id"))
    .values(status=bindparam("b_status"), updated_at=bindparam("b_updated_at"))
)


def _with_message_and_route(query: Select[Any]) -> Select[Any]:
    """Attempts with their messages and routes, the attempt rows locked and the
    ones another sender holds skipped."""
    return (
        query.add_columns(NotificationMessage, NotificationRoute)
        .join(NotificationMessage, NotificationMessage.id == NotificationDelivery.message_id)
        .outerjoin(NotificationRoute, NotificationRoute.id == NotificationMessage.route_id)
        .with_for_update(of=NotificationDelivery, skip_locked=True)
    )


def due_attempts(now: datetime, *, limit: int) -> Select[Any]:
    return _with_message_and_route(
        select(NotificationDelivery)
        .where(
            NotificationDelivery.status == DeliveryStatus.PENDING.value,
            NotificationDelivery.due_at <= now,
            NotificationDelivery.claimed_until.is_(None),
        )
        .order_by(NotificationDelivery.due_at, NotificationDelivery.id)
        .limit(limit)
    )


async def next_due_at(session: AsyncSession, *, after: datetime) -> datetime | None:
    """When the earliest unclaimed pending attempt due after ``after`` falls due."""
    due: datetime | None = await session.scalar(
        select(func.min(NotificationDelivery.due_at)).where(
            NotificationDelivery.status == DeliveryStatus.PENDING.value,
            NotificationDelivery.claimed_until.is_(None),
            NotificationDelivery.due_at > after,
        )
    )
    return due


async def claimed_attempts(session: AsyncSession, delivery_ids: list[int]) -> list[Attempt]:
    """The attempts just created claimed, ready to send: made in this transaction
    for routes it read as enabled, so sendable."""
    if not delivery_ids:
        return []
    rows = await session.execute(
        select(NotificationDelivery, NotificationMessage, NotificationRoute)
        .join(NotificationMessage, NotificationMessage.id == NotificationDelivery.message_id)
        .outerjoin(NotificationRoute, NotificationRoute.id == NotificationMessage.route_id)
        .where(NotificationDelivery.id.in_(delivery_ids))
        .order_by(NotificationDelivery.id)
    )
    return [transports.attempt_for(delivery, message, route) for delivery, message, route in rows]


def stale_claims(now: datetime) -> Select[Any]:
    return _with_message_and_route(
        select(NotificationDelivery).where(
            NotificationDelivery.status == DeliveryStatus.PENDING.value,
            NotificationDelivery.claimed_until < now,
        )
    )


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
    #: Keep one HTTP client (its connections and TLS context) from round to
    #: round until ``close``, rather than one per ``run``.
    keep_client: bool = False
    _kept: httpx.AsyncClient | None = None
    _limit: asyncio.Semaphore | None = None
    _handed: set[asyncio.Task[bool]] = field(default_factory=set)

    @property
    def batch(self) -> int:
        """Attempts claimed per round."""
        return self.settings.notification_send_concurrency * 4

    def claim_at_creation(self) -> Claim:
        """A claim on attempts created for this sender to send at once."""
        return Claim(self.owner, self.clock.now() + self.settings.notification_claim_lease)

    async def run(self) -> int:
        """Send every attempt due now, round after round; how many were sent."""
        sent = 0
        async with self._client() as client:
            while True:
                attempts, examined = await self._claim(self.clock.now())
                if attempts:
                    await self.record(await self.send_all(attempts, client=client))
                sent += len(attempts)
                if examined < self.batch:
                    return sent

    def hand_off(self, attempts: list[Attempt]) -> asyncio.Task[bool]:
        """Send attempts claimed for this sender now, and record them, in the
        background (``close`` waits for them); the task's result says whether
        they left retries to send later. Should this fail, their claims run out
        and they are given up with an unknown outcome and retried."""
        handed = asyncio.create_task(self._send_handed(attempts))
        self._handed.add(handed)
        handed.add_done_callback(self._handed.discard)
        return handed

    async def _send_handed(self, attempts: list[Attempt]) -> bool:
        try:
            async with self._client() as client:
                return await self.record(await self.send_all(attempts, client=client)) > 0
        except Exception:
            logger.exception("sending %d handed-off attempts failed", len(attempts))
            return True

    async def close(self) -> None:
        """Let the handed-off attempts finish, then close the kept client."""
        if self._handed:
            await asyncio.wait(set(self._handed))
        if self._kept is not None:
            await self._kept.aclose()
            self._kept = None

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        if not self.keep_client:
            async with self._new_client() as client:
                yield client
            return
        if self._kept is None:
            self._kept = self._new_client()
        yield self._kept

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.settings.notification_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            transport=self.transport,
        )

    async def claim(self, now: datetime) -> list[Attempt]:
        """Claim the next round of due attempts for this sender."""
        return (await self._claim(now))[0]

    async def _claim(self, now: datetime) -> tuple[list[Attempt], int]:
        """The attempts claimed, and how many due ones were looked at (the
        unsendable ones among them are recorded UNDELIVERABLE instead)."""
        async with self.outbox.transaction() as session:
            await self._give_up_stale_claims(session, now)
            rows = (await session.execute(due_attempts(now, limit=self.batch))).all()
            claimed = []
            for delivery, message, route in rows:
                stop = _why_not_sendable(message, route)
                if stop is None:
                    claimed.append(transports.attempt_for(delivery, message, route))
                    continue
                _finish(delivery, DeliveryStatus.UNDELIVERABLE, now, error=stop)
                message.status = DeliveryStatus.UNDELIVERABLE.value
                message.updated_at = now
            if claimed:
                await session.execute(
                    update(DELIVERIES)
                    .where(DELIVERIES.c.id.in_([attempt.delivery_id for attempt in claimed]))
                    .values(
                        claimed_until=now + self.settings.notification_claim_lease,
                        claimed_by=self.owner,
                    )
                )
        return claimed, len(rows)

    async def _give_up_stale_claims(self, session: AsyncSession, now: datetime) -> None:
        rows = (await session.execute(stale_claims(now))).all()
        unknown = Outcome(DeliveryStatus.FAILED, error=UNKNOWN_OUTCOME)
        await self._record_locked(
            session,
            [
                (transports.attempt_for(delivery, message, route), unknown)
                for delivery, message, route in rows
            ],
            now,
        )

    async def send_all(
        self, attempts: Sequence[Attempt], *, client: httpx.AsyncClient
    ) -> list[Finished]:
        """Send the attempts, at most ``notification_send_concurrency`` at once
        across this sender's rounds and hand-offs."""
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.settings.notification_send_concurrency)
        limit = self._limit

        async def send_one(attempt: Attempt) -> Finished:
            async with limit:
                try:
                    outcome = await transports.send(
                        attempt, client=client, settings=self.settings, wall_clock=self.wall_clock
                    )
                except Exception as failure:
                    logger.exception("sending attempt %s failed", attempt.delivery_id)
                    error = f"{type(failure).__name__}: {failure}"
                    outcome = Outcome(DeliveryStatus.FAILED, error=error)
            return attempt, outcome

        return list(await asyncio.gather(*(send_one(attempt) for attempt in attempts)))

    async def record(self, finished: Sequence[Finished]) -> int:
        """Record a round's outcomes in one transaction; an attempt given up
        meanwhile (its claim ran out) keeps the outcome it was given. How many
        retries follow."""
        if not finished:
            return 0
        now = self.clock.now()
        async with self.outbox.transaction() as session:
            still_ours = await _lock_still_claimed(
                session, [attempt.delivery_id for attempt, _ in finished], owner=self.owner
            )
            for attempt, _ in finished:
                if attempt.delivery_id not in still_ours:
                    logger.warning(
                        "attempt %s was given up before its outcome", attempt.delivery_id
                    )
            return await self._record_locked(
                session, [pair for pair in finished if pair[0].delivery_id in still_ours], now
            )

    async def _record_locked(
        self, session: AsyncSession, finished: Sequence[Finished], now: datetime
    ) -> int:
        """Record outcomes of attempts this transaction holds: the attempts, their
        messages, the next attempts and the ``alert.notified`` events, each one
        statement. How many next attempts follow."""
        if not finished:
            return 0
        route_of = await _lock_messages(session, [attempt.message_id for attempt, _ in finished])
        await session.execute(_FINISH_DELIVERY, [_finished_row(pair, now) for pair in finished])
        message_rows, next_attempts, notified = [], [], []
        for attempt, outcome in finished:
            route_id = route_of[attempt.message_id]
            status = self._message_status(attempt, outcome, route_id)
            message_rows.append(
                {"b_id": attempt.message_id, "b_status": status, "b_updated_at": now}
            )
            if outcome.status is DeliveryStatus.SUCCEEDED:
                notified.append(_notified_event(attempt, now))
            elif outcome.gone and route_id is not None:
                await routes.disable(
                    session, route_id=route_id, reason=outcome.error or "", now=now
                )
            elif status == DeliveryStatus.PENDING.value:
                next_attempts.append(self._next_attempt(attempt, route_id, now))
        await session.execute(_SET_MESSAGE_STATUS, message_rows)
        if next_attempts:
            await session.execute(insert(DELIVERIES), next_attempts)
        await events.append_many(session, notified)
        return len(next_attempts)

    def _message_status(self, attempt: Attempt, outcome: Outcome, route_id: int | None) -> str:
        """The message's status after this outcome: FAILED once a receiver is gone
        or the last attempt failed, PENDING while another attempt follows."""
        if outcome.status is DeliveryStatus.SUCCEEDED:
            return DeliveryStatus.SUCCEEDED.value
        if outcome.gone and route_id is not None:
            return DeliveryStatus.FAILED.value
        if attempt.attempt >= self.settings.notification_max_attempts:
            return DeliveryStatus.FAILED.value
        return DeliveryStatus.PENDING.value

    def _next_attempt(
        self, attempt: Attempt, route_id: int | None, now: datetime
    ) -> dict[str, Any]:
        delay = retry_delay(
            attempt.attempt,
            base=self.settings.notification_backoff_base,
            cap=self.settings.notification_backoff_cap,
            uniform=self.uniform,
        )
        return {
            "workspace_id": attempt.workspace_id,
            "message_id": attempt.message_id,
            "route_id": route_id,
            "alert_id": attempt.alert_id,
            "channel": attempt.channel.value,
            "status": DeliveryStatus.PENDING.value,
            "attempt": attempt.attempt + 1,
            "due_at": now + delay,
            "created_at": now,
        }


async def _lock_still_claimed(
    session: AsyncSession, delivery_ids: list[int], *, owner: str
) -> set[int]:
    """Lock those of the attempts that ``owner`` still holds; their ids."""
    found = await session.scalars(
        select(NotificationDelivery.id)
        .where(
            NotificationDelivery.id.in_(delivery_ids),
            NotificationDelivery.status == DeliveryStatus.PENDING.value,
            NotificationDelivery.claimed_by == owner,
        )
        .order_by(NotificationDelivery.id)
        .with_for_update()
    )
    return set(found.all())


async def _lock_messages(session: AsyncSession, message_ids: list[int]) -> dict[int, int | None]:
    """Lock the messages (in id order, as every writer of them does); their routes."""
    rows = await session.execute(
        select(NotificationMessage.id, NotificationMessage.route_id)
        .where(NotificationMessage.id.in_(message_ids))
        .order_by(NotificationMessage.id)
        .with_for_update()
    )
    return {row.id: row.route_id for row in rows}


def _finished_row(finished: Finished, now: datetime) -> dict[str, Any]:
    attempt, outcome = finished
    return {
        "b_id": attempt.delivery_id,
        "b_status": outcome.status.value,
        "b_finished_at": now,
        "b_error": outcome.error[:MAX_ERROR] if outcome.error else None,
        "b_http_status": outcome.http_status,
        "b_latency_ms": outcome.latency_ms,
    }


def _notified_event(attempt: Attempt, now: datetime) -> dict[str, Any]:
    """``alert.notified`` on the alert's stream, for an attempt that succeeded."""
    return {
        "workspace_id": attempt.workspace_id,
        "stream": Stream.ALERT.value,
        "type": NOTIFIED,
        "subject_id": attempt.alert_id,
        "service": attempt.alert.get("service"),
        "severity": attempt.alert.get("severity"),
        "payload": notified_payload(
            attempt.alert,
            channel=attempt.channel.value,
            reason=attempt.reason,
            delivery_id=attempt.delivery_id,
            webhook_id=attempt.webhook_id,
            recipient=attempt.recipient,
            route_name=attempt.route_name,
        ),
        "occurred_at": now,
    }


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
    delivery: NotificationDelivery, status: DeliveryStatus, now: datetime, *, error: str
) -> None:
    delivery.status = status.value
    delivery.finished_at = now
    delivery.claimed_until = None
    delivery.error = error[:MAX_ERROR]
