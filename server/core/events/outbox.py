"""The transactional outbox: events are numbered once their transaction commits, then announced.

Domains may react to events in the transaction that appends them (``react``):
a reaction runs last in a writing transaction that appended events of its types,
adds to that transaction, and may leave work to do once it has committed (e.g.
notifications created with the alert that fired, sent as soon as both are
stored). A reaction that fails fails the transaction: nothing is half-written.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.bus import EventBus
from server.core.db import Database
from server.core.events.feed import EventFeed
from server.core.events.rounds import Rounds
from server.core.events.service import (
    APPENDED,
    APPENDED_TYPES,
    assign_sequence,
    sequence_pending,
)

logger = logging.getLogger(__name__)

BUS_TIMEOUT_SECONDS = 1.0
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0

#: Work a reaction leaves for after the commit (it must not block: e.g. start a task).
AfterCommit = Callable[[], None]
#: Adds to a writing transaction that appended events of its types.
Reaction = Callable[[AsyncSession], Awaitable[AfterCommit | None]]


class Outbox:
    def __init__(self, db: Database, bus: EventBus, feed: EventFeed) -> None:
        self._db = db
        self._bus = bus
        self._feed = feed
        self._unannounced = 0
        self._retrying: asyncio.Task[None] | None = None
        self._sequencing = Rounds(self.announce)
        self._reactions: list[tuple[frozenset[str], Reaction]] = []

    def react(self, types: Iterable[str], reaction: Reaction) -> None:
        """Run ``reaction`` last in every transaction of this outbox that appends
        events of one of these types (as ``service.note_appended`` says)."""
        self._reactions.append((frozenset(types), reaction))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction whose events have their cursors and are announced
        by the time it returns.

        On PostgreSQL the events are numbered after the commit, by a short
        sequencing transaction that the writers of this process share (see
        ``service.sequence_pending``): writers never wait for each other's
        commits, only for a round of sequencing. SQLite has one writer anyway:
        there they are numbered inside the transaction itself.
        """
        newest = None
        appended = False
        after_commit: list[AfterCommit] = []
        async with self._db.transaction() as session:
            yield session
            after_commit = await self._react(session)
            appended = session.info.pop(APPENDED, False)
            if appended and self._db.is_sqlite:
                await session.flush()
                newest = await sequence_pending(session)
        for work in after_commit:
            work()
        if newest is not None:
            await self._published(newest)
        elif appended and not self._db.is_sqlite:
            await self._sequencing.request()

    async def _react(self, session: AsyncSession) -> list[AfterCommit]:
        appended: set[str] = session.info.pop(APPENDED_TYPES, set())
        after_commit = []
        for types, reaction in self._reactions:
            if types & appended:
                work = await reaction(session)
                if work is not None:
                    after_commit.append(work)
        return after_commit

    async def announce(self) -> None:
        """Sequence and announce committed events that have no cursor yet."""
        try:
            seq = await assign_sequence(self._db)
        except Exception:
            logger.exception("could not sequence committed events; the feed will retry")
            return
        if seq is not None:
            await self._published(seq)

    async def _published(self, seq: int) -> None:
        """Never raises: an event not announced now is announced once the bus is back,
        and found by the feeds' polls meanwhile."""
        self._feed.published(seq)
        self._unannounced = max(self._unannounced, seq)
        if self._retrying is None and not await self._notify():
            self._retrying = asyncio.create_task(self._notify_until_delivered())

    async def _notify(self) -> bool:
        """Announce the newest cursor; True once no newer one is waiting."""
        seq = self._unannounced
        try:
            async with asyncio.timeout(BUS_TIMEOUT_SECONDS):
                await self._bus.notify(seq)
        except Exception as error:
            # Said once until the bus takes an announcement again.
            log = logger.debug if self._retrying is not None else logger.warning
            log("could not announce events up to %s on the bus: %r; retrying", seq, error)
            return False
        # Events committed while we were sending skipped their own announcement
        # if a retry was under way: announce them too before stopping.
        return seq == self._unannounced or await self._notify()

    async def _notify_until_delivered(self) -> None:
        """Keep announcing the newest cursor until the bus takes it again.

        Otherwise other replicas would learn of events committed while the bus
        was down only at their next poll.
        """
        delay = RETRY_FIRST_SECONDS
        try:
            while True:
                await asyncio.sleep(delay)
                if await self._notify():
                    logger.warning("announcing events on the bus again")
                    return
                delay = min(delay * 2, RETRY_MAX_SECONDS)
        finally:
            self._retrying = None

    async def stop(self) -> None:
        await self._sequencing.stop()
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
