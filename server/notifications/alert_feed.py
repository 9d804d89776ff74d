"""A route that matches a firing alert is notified when the alert fires.

Messages are made in the transaction that fires the alert, when this replica
runs the jobs (``dispatch_own``, a reaction of the outbox): their attempts are
created claimed by this replica's sender and sent as soon as it commits, with
no poll or second transaction between the alert and its webhook.

The dispatcher is the path that misses nothing: it reads ``alert.fired`` events
(not the ``alert.deduplicated`` repeats) from the events outbox after its
checkpoint, and creates one message per enabled route whose matchers match the
alert and that existed when it fired, unless the firing transaction made that
message already (it committed with the event, so it is visible once the event
is). It locks the checkpoint row, creates the batch's messages set-based and
moves the checkpoint in one transaction: a batch of events becomes messages exactly
once, whichever replica runs it and however often. Cursors only ever grow
(``server.core.events``), so no event can appear behind the checkpoint.

Not notified: alerts silenced, inhibited or noise-suppressed when they fired
(flags in the payload; aggregation suppresses in the same transaction with an
``alert.noise_suppressed`` event, which is looked up too).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.events import service as events
from server.core.events.models import Event
from server.core.events.outbox import Outbox
from server.core.events.service import Stream
from server.notifications import messages, routes, sending
from server.notifications.messages import Claim
from server.notifications.models import NotificationCheckpoint, NotificationMessage
from server.notifications.routes import Channel
from server.notifications.transports import Attempt

FIRED = "alert.fired"
NOISE_SUPPRESSED = "alert.noise_suppressed"
#: Payload flags of an alert that is stored but not notified.
NOT_NOTIFIED_FLAGS = ("silenced", "inhibited", "noiseSuppressed")
FIRED_REASON = "fired"
BATCH = 500
CHECKPOINT_ID = 1


async def _checkpoint(
    session: AsyncSession, now: datetime, *, wait: bool
) -> NotificationCheckpoint | None:
    """The checkpoint row, locked; created at the newest event when missing, so a
    first start does not notify history. Without ``wait``, None while another
    transaction holds it (on PostgreSQL; SQLite has one writer)."""
    lock = {"skip_locked": True} if not wait else True
    found = await session.get(NotificationCheckpoint, CHECKPOINT_ID, with_for_update=lock)
    if found is not None:
        return found
    if not wait and await session.scalar(
        select(NotificationCheckpoint.id).where(NotificationCheckpoint.id == CHECKPOINT_ID)
    ):
        return None
    dialect = (await session.connection()).dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(NotificationCheckpoint)
        .values(id=CHECKPOINT_ID, last_seq=await events.latest_seq(session), updated_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    created = await session.get(
        NotificationCheckpoint, CHECKPOINT_ID, with_for_update=True, populate_existing=True
    )
    assert created is not None
    return created


def notifiable(payload: dict[str, Any]) -> bool:
    return not any(payload.get(flag) for flag in NOT_NOTIFIED_FLAGS)


async def _noise_suppressed(session: AsyncSession, alert_ids: list[int]) -> set[int]:
    if not alert_ids:
        return set()
    rows = await session.scalars(
        select(Event.subject_id).where(
            Event.stream == Stream.ALERT.value,
            Event.type == NOISE_SUPPRESSED,
            Event.subject_id.in_(alert_ids),
        )
    )
    return {subject for subject in rows.all() if subject is not None}


async def _already_notified(session: AsyncSession, fired: Sequence[Event]) -> set[tuple[int, int]]:
    """The (route, alert) pairs among these fired alerts whose messages were made
    in the transaction that fired them (``dispatch_own``)."""
    alert_ids = [event.subject_id for event in fired if event.subject_id is not None]
    if not alert_ids:
        return set()
    rows = await session.execute(
        select(NotificationMessage.route_id, NotificationMessage.alert_id).where(
            NotificationMessage.workspace_id.in_({event.workspace_id for event in fired}),
            NotificationMessage.alert_id.in_(alert_ids),
            NotificationMessage.reason == FIRED_REASON,
            NotificationMessage.route_id.is_not(None),
        )
    )
    return {
        (route_id, alert_id)
        for route_id, alert_id in rows
        if route_id is not None and alert_id is not None
    }


async def _route_drafts(
    session: AsyncSession,
    fired: Sequence[Event],
    *,
    suppressed: set[int] | None = None,
    sequenced: bool = True,
) -> list[messages.MessageDraft]:
    """One message per enabled route that existed when the alert fired and whose
    matchers match it, for each notifiable fired alert. ``suppressed``: the alerts
    noise-suppressed, when known (else looked up). ``sequenced`` events are read
    from the feed: the messages remember their cursors, and the route and alert
    pairs notified when they fired are left out."""
    if not fired:
        return []
    by_workspace = await routes.enabled_routes(
        session, workspace_ids=sorted({event.workspace_id for event in fired})
    )
    # With no route to notify, there is nothing more to read.
    routed = [event for event in fired if by_workspace[event.workspace_id]]
    if not routed:
        return []
    if suppressed is None:
        suppressed = await _noise_suppressed(
            session, [event.subject_id for event in routed if event.subject_id is not None]
        )
    done = await _already_notified(session, routed) if sequenced else set()
    return [
        messages.MessageDraft(
            workspace_id=route.workspace_id,
            channel=Channel(route.channel),
            target=messages.route_target(route),
            alert=event.payload,
            reason=FIRED_REASON,
            route_id=route.id,
            route_name=route.name,
            source_event_seq=event.seq,
        )
        for event in routed
        if notifiable(event.payload) and event.subject_id not in suppressed
        for route in by_workspace[event.workspace_id]
        if route.created_at <= event.occurred_at
        and (route.id, event.subject_id) not in done
        and routes.matches(route, event.payload)
    ]


async def _create_claimed(
    session: AsyncSession,
    drafts: list[messages.MessageDraft],
    *,
    now: datetime,
    claim: Claim | None,
) -> tuple[int, list[Attempt]]:
    """Create the messages; how many, and (with ``claim``) their attempts to send."""
    created = await messages.create_many(session, drafts, now=now, claim=claim)
    if claim is None:
        return len(created), []
    pending = [made.delivery_id for made in created if made.pending]
    return len(created), await sending.claimed_attempts(session, pending)


async def dispatch_own(session: AsyncSession, *, now: datetime, claim: Claim) -> list[Attempt]:
    """In the transaction that fired alerts, before it commits: their messages,
    with their attempts to send created claimed and returned, so that they can be
    sent the moment the alerts are stored. The dispatcher, reading the same
    events later, leaves these alerts and routes alone."""
    own = await events.own_unsequenced(
        session,
        stream=Stream.ALERT,
        types=(FIRED, NOISE_SUPPRESSED),
        workspaces=routes.with_enabled_routes(),
    )
    fired = [event for event in own if event.type == FIRED]
    suppressed = {
        event.subject_id
        for event in own
        if event.type == NOISE_SUPPRESSED and event.subject_id is not None
    }
    drafts = await _route_drafts(session, fired, suppressed=suppressed, sequenced=False)
    return (await _create_claimed(session, drafts, now=now, claim=claim))[1]


@dataclass
class Dispatched:
    """What one batch did: events read, messages created, and the attempts
    claimed for the sender that asked (when it did)."""

    read: int = 0
    created: int = 0
    claimed: list[Attempt] = field(default_factory=list)


async def dispatch_batch(
    outbox: Outbox,
    *,
    now: datetime,
    batch: int = BATCH,
    wait: bool = True,
    claim: Claim | None = None,
) -> Dispatched:
    """Turn the next fired alerts into messages. Without ``wait``, nothing at
    once while another replica is dispatching. With ``claim``, the attempts to
    send are created claimed by its owner and returned, ready to send."""
    async with outbox.transaction() as session:
        checkpoint = await _checkpoint(session, now, wait=wait)
        if checkpoint is None:
            return Dispatched()
        fired = (
            await session.scalars(
                select(Event)
                .where(
                    Event.seq > checkpoint.last_seq,
                    Event.stream == Stream.ALERT.value,
                    Event.type == FIRED,
                )
                .order_by(Event.seq)
                .limit(batch)
            )
        ).all()
        if not fired:
            return Dispatched()
        drafts = await _route_drafts(session, fired)
        created, claimed = await _create_claimed(session, drafts, now=now, claim=claim)
        last = fired[-1].seq
        assert last is not None
        checkpoint.last_seq = last
        checkpoint.updated_at = now
    return Dispatched(len(fired), created, claimed)


async def dispatch(
    outbox: Outbox,
    *,
    now: datetime,
    batch: int = BATCH,
    wait: bool = True,
    claim: Claim | None = None,
    hand_off: Callable[[list[Attempt]], None] | None = None,
) -> int:
    """Dispatch every fired alert not yet dispatched; how many messages were created.
    Without ``wait``, stops as soon as another replica holds the checkpoint: that
    one dispatches what was committed before it took it, and whatever is
    committed later wakes every replica again. With ``claim`` and ``hand_off``,
    each batch's attempts are handed off, claimed, as soon as it commits."""
    created = 0
    while True:
        done = await dispatch_batch(outbox, now=now, batch=batch, wait=wait, claim=claim)
        created += done.created
        if hand_off is not None and done.claimed:
            hand_off(done.claimed)
        if done.read < batch:
            return created
