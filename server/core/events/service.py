"""Appending events, numbering them as they commit, reading them back by cursor."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import metrics
from server.core.db import Database
from server.core.errors import ErrorCode, InvalidInput
from server.core.events.models import Event, EventRetention

#: Marks a session that appended events, so its commit is followed by sequencing.
APPENDED = "opsgraph.events_appended"
#: The types of the events a session appended, for the outbox's reactions.
APPENDED_TYPES = "opsgraph.event_types_appended"
#: PostgreSQL advisory lock serialising the sequencer across replicas.
SEQUENCER_LOCK = 0x6F70_7367_7270


class Stream(StrEnum):
    ALERT = "alert"
    TASK = "task"


ENVELOPE_SCHEMAS = {
    Stream.ALERT: "opsgraph.alert-event.v1",
    Stream.TASK: "opsgraph.task-event.v1",
}


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq: int
    workspace_id: int
    stream: Stream
    type: str
    subject_id: int | None
    service: str | None
    severity: str | None
    payload: dict[str, Any]
    occurred_at: datetime

    @property
    def cursor(self) -> str:
        return str(self.seq)

    @property
    def schema(self) -> str:
        return ENVELOPE_SCHEMAS[self.stream]

    @classmethod
    def from_model(cls, row: Event) -> "EventRecord":
        assert row.seq is not None
        return cls(
            seq=row.seq,
            workspace_id=row.workspace_id,
            stream=Stream(row.stream),
            type=row.type,
            subject_id=row.subject_id,
            service=row.service,
            severity=row.severity,
            payload=row.payload,
            occurred_at=row.occurred_at,
        )


def append(
    session: AsyncSession,
    *,
    workspace_id: int,
    stream: Stream,
    type: str,
    payload: dict[str, Any],
    occurred_at: datetime,
    subject_id: int | None = None,
    service: str | None = None,
    severity: str | None = None,
) -> Event:
    """Add an event to the caller's transaction; it is delivered once that commits."""
    event = Event(
        workspace_id=workspace_id,
        stream=stream.value,
        type=type,
        subject_id=subject_id,
        service=service,
        severity=severity,
        payload=payload,
        occurred_at=occurred_at,
    )
    session.add(event)
    note_appended(session, type)
    return event


#: Events travel as one array per column: one statement, prepared once, for
#: any number of them (COPY would cost a catalogue lookup and more round trips).
_INSERT_ARRAYS = text(
    """
    INSERT INTO events (
        workspace_id, stream, type, subject_id, service, severity, payload, occurred_at
    )
    SELECT e.workspace_id, e.stream, e.type, e.subject_id, e.service, e.severity,
           CAST(e.payload AS jsonb), e.occurred_at
    FROM unnest(
        CAST(:workspace_ids AS bigint[]), CAST(:streams AS text[]), CAST(:types AS text[]),
        CAST(:subject_ids AS bigint[]), CAST(:services AS text[]),
        CAST(:severities AS text[]), CAST(:payloads AS text[]),
        CAST(:occurred_ats AS timestamptz[])
    ) WITH ORDINALITY
        AS e(workspace_id, stream, type, subject_id, service, severity, payload, occurred_at, n)
    ORDER BY e.n
    """
)


def note_appended(session: AsyncSession, *types: str) -> None:
    """Say that a statement of the session inserted events by itself, of these
    types among others (the types that reactions of the outbox wait for)."""
    session.info[APPENDED] = True
    if types:
        session.info.setdefault(APPENDED_TYPES, set()).update(types)


async def own_unsequenced(
    session: AsyncSession,
    *,
    stream: Stream,
    types: Sequence[str],
    workspaces: Select[int] | None = None,
) -> list[Event]:
    """The events of these types (of these ``workspaces``, a subquery, when given)
    that the session's own transaction appended and that have no cursor yet, in
    insertion order. On PostgreSQL, rows written by the transaction itself
    (``xmin``: events appended under a savepoint are left out); SQLite has one
    writer, whose events get their cursors before it commits."""
    query = (
        select(Event)
        .where(Event.seq.is_(None), Event.stream == stream.value, Event.type.in_(types))
        .order_by(Event.id)
    )
    if workspaces is not None:
        query = query.where(Event.workspace_id.in_(workspaces))
    if (await session.connection()).dialect.name == "postgresql":
        query = query.where(text("events.xmin = pg_current_xact_id()::xid"))
    return list((await session.scalars(query)).all())


async def append_many(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    """Insert many events (``Event`` column values) set-based, in the order given:
    one statement, not one ORM object per event."""
    if not events:
        return
    note_appended(session, *{event["type"] for event in events})
    if (await session.connection()).dialect.name != "postgresql":
        await session.execute(insert(Event), events)
        return
    await session.execute(
        _INSERT_ARRAYS,
        {
            "workspace_ids": [event["workspace_id"] for event in events],
            "streams": [event["stream"] for event in events],
            "types": [event["type"] for event in events],
            "subject_ids": [event["subject_id"] for event in events],
            "services": [event["service"] for event in events],
            "severities": [event["severity"] for event in events],
            "payloads": [json.dumps(event["payload"]) for event in events],
            "occurred_ats": [event["occurred_at"] for event in events],
        },
    )


async def _lock_sequencer(session: AsyncSession) -> None:
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK})


async def sequence_pending(session: AsyncSession) -> int | None:
    """Give the events without a cursor that the session sees (committed ones,
    and the session's own) the next cursors in insertion order; the highest
    assigned, if any.

    It takes the sequencer lock (an advisory lock on PostgreSQL; SQLite has one
    writer anyway), which the transaction holds until it commits; its
    statement's snapshot, taken after the lock, holds the previous sequencer's
    cursors. So each run numbers after the previous run's cursors are
    committed, and readers only ever see a gap-free prefix of cursors.

    On PostgreSQL it runs in a short transaction of its own after the writers
    commit (``assign_sequence``): a writer never holds the lock, so writers do
    not queue behind each other's commits, and an event committed late gets a
    later cursor than those numbered before it committed. On SQLite the outbox
    runs it last in the writing transaction itself.
    """
    await _lock_sequencer(session)
    numbered = (
        select(Event.id, func.row_number().over(order_by=Event.id).label("offset"))
        .where(Event.seq.is_(None))
        .subquery()
    )
    # One set-based statement however many events the transaction holds; its
    # snapshot, taken after the lock, holds the previous writer's cursors.
    assigned = (
        await session.scalars(
            update(Event)
            .where(Event.id == numbered.c.id)
            .values(seq=_latest_seq_sql(session) + numbered.c.offset)
            .returning(Event.seq)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not assigned:
        return None
    metrics.events_published.inc(len(assigned))
    return max(seq for seq in assigned if seq is not None)


async def assign_sequence(db: Database) -> int | None:
    """Sequence committed events left without cursors: the writers' events
    after their commits, and those whose writer died before sequencing them
    or wrote outside the outbox."""
    async with db.transaction() as session:
        return await sequence_pending(session)


async def feed_state(session: AsyncSession) -> tuple[int | None, int]:
    """In one round trip: the id of the oldest committed event still waiting for
    its cursor, if any, and the newest cursor."""
    waiting = select(func.min(Event.id)).where(Event.seq.is_(None)).scalar_subquery()
    row = (await session.execute(select(waiting, _latest_seq_sql(session)))).one()
    return row[0], int(row[1] or 0)


def _latest_seq_sql(session: AsyncSession) -> ColumnElement[int]:
    """The newest cursor ever given, also when its events were pruned, as SQL:
    cursors never repeat, even once every event has been pruned."""
    highest = func.coalesce(select(func.max(Event.seq)).scalar_subquery(), 0)
    pruned = func.coalesce(select(EventRetention.pruned_through).scalar_subquery(), 0)
    bind = session.get_bind()
    larger = func.greatest if bind.dialect.name == "postgresql" else func.max
    result: ColumnElement[int] = larger(highest, pruned)
    return result


async def latest_seq(session: AsyncSession) -> int:
    """The newest cursor ever given (one round trip)."""
    return int(await session.scalar(select(_latest_seq_sql(session))) or 0)


async def read_after(
    session: AsyncSession,
    *,
    after: int,
    limit: int,
    stream: Stream | None = None,
    workspace_id: int | None = None,
) -> list[EventRecord]:
    query = select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)
    if stream is not None:
        query = query.where(Event.stream == stream.value)
    if workspace_id is not None:
        query = query.where(Event.workspace_id == workspace_id)
    return [EventRecord.from_model(row) for row in (await session.scalars(query)).all()]


async def subject_events(
    session: AsyncSession, *, workspace_id: int, stream: Stream, subject_ids: list[int]
) -> dict[int, list[EventRecord]]:
    """The delivered events of each subject, in cursor order."""
    rows = await session.scalars(
        select(Event)
        .where(
            Event.workspace_id == workspace_id,
            Event.stream == stream.value,
            Event.subject_id.in_(subject_ids),
            Event.seq.is_not(None),
        )
        .order_by(Event.seq)
    )
    timelines: dict[int, list[EventRecord]] = {subject_id: [] for subject_id in subject_ids}
    for row in rows.all():
        assert row.subject_id is not None
        timelines[row.subject_id].append(EventRecord.from_model(row))
    return timelines


async def prune(db: Database, *, older_than: datetime) -> int:
    """Delete sequenced events older than ``older_than``; remember how far we pruned."""
    async with db.transaction() as session:
        await _lock_sequencer(session)
        newest_pruned = await session.scalar(
            select(func.max(Event.seq)).where(Event.occurred_at < older_than)
        )
        if newest_pruned is None:
            return 0
        deleted = await session.execute(delete(Event).where(Event.seq <= newest_pruned))
        retention = await session.get(EventRetention, 1)
        if retention is None:
            session.add(EventRetention(id=1, pruned_through=newest_pruned))
        else:
            retention.pruned_through = max(retention.pruned_through, newest_pruned)
        return int(deleted.rowcount)  # type: ignore[attr-defined]


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19:
        raise InvalidInput("an event cursor is a number received with an event", field="after")
    return int(cursor)


async def check_resumable(session: AsyncSession, *, after: int) -> None:
    """Refuse a cursor older than the retained events, or newer than any event:
    resuming from either would skip events without a word."""
    latest = await latest_seq(session)
    if after > latest:
        # E.g. a cursor of another database, or of this one before a restore:
        # following from it would silently skip events.
        raise InvalidInput(
            f"cursor {after} lies ahead of the newest event ({latest}); "
            "resubscribe without a cursor",
            field="after",
        )
    pruned = await session.scalar(select(EventRetention.pruned_through))
    if pruned is not None and after < pruned:
        raise CursorExpired(
            f"cursor {after} is older than the retained events (pruned through {pruned}); "
            "resubscribe without a cursor and reload the current state",
            field="after",
        )


class CursorExpired(InvalidInput):
    code = ErrorCode.CURSOR_EXPIRED
