"""A subscriber's event stream: replay after a cursor, then live, gap-free, in order."""

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from server.core import metrics
from server.core.clock import Clock
from server.core.db import Database
from server.core.events import service as events
from server.core.events.feed import EventFeed, Predicate
from server.core.events.service import EventRecord, Stream

REPLAY_BATCH = 500


@dataclass(frozen=True)
class Scope:
    """What a subscriber may see: one stream of one workspace, narrowed by a filter."""

    stream: Stream
    workspace_id: int
    accepts: Predicate

    def __call__(self, record: EventRecord) -> bool:
        return (
            record.stream is self.stream
            and record.workspace_id == self.workspace_id
            and self.accepts(record)
        )


async def _replay(db: Database, scope: Scope, after: int) -> AsyncGenerator[EventRecord]:
    while True:
        async with db.reader() as session:
            batch = await events.read_after(
                session,
                after=after,
                limit=REPLAY_BATCH,
                stream=scope.stream,
                workspace_id=scope.workspace_id,
            )
        for record in batch:
            after = record.seq
            if scope.accepts(record):
                yield record
        if len(batch) < REPLAY_BATCH:
            return


async def follow(
    db: Database, feed: EventFeed, clock: Clock, scope: Scope, *, after: int | None
) -> AsyncGenerator[EventRecord]:
    """Events of ``scope`` after ``after`` (or from now), then live ones, each once."""
    with feed.listen(scope) as listener:
        if after is None:
            last = await feed.current_position()
        else:
            async with db.reader() as session:
                await events.check_resumable(session, after=after)
            last = after
            async for record in _replay(db, scope, last):
                last = record.seq
                yield _delivered(record, clock)
        while True:
            if listener.take_lag():
                async for record in _replay(db, scope, last):
                    last = record.seq
                    yield _delivered(record, clock)
            record = await listener.queue.get()
            if record.seq <= last:
                continue
            last = record.seq
            yield _delivered(record, clock)


def _delivered(record: EventRecord, clock: Clock) -> EventRecord:
    metrics.child(metrics.events_delivered, record.stream.value).inc()
    metrics.event_delivery_lag.observe(max((clock.now() - record.occurred_at).total_seconds(), 0.0))
    return record
