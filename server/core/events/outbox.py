"""The transactional outbox: events are numbered once their transaction commits, then announced."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.bus import EventBus
from server.core.db import Database
from server.core.events.feed import EventFeed
from server.core.events.rounds import Rounds
from server.core.events.service import APPENDED, assign_sequence, sequence_pending

logger = logging.getLogger(__name__)

BUS_TIMEOUT_SECONDS = 1.0
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0


class Outbox:
    def __init__(self, db: Database, bus: EventBus, feed: EventFeed) -> None:
        self._db = db
        self._bus = bus
        self._feed = feed
        self._unannounced = 0
        self._retrying: asyncio.Task[None] | None = None
        self._sequencing = Rounds(self.announce)

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
        async with self._db.transaction() as session:
            yield session
            appended = session.info.pop(APPENDED, False)
            if appended and self._db.is_sqlite:
                await session.flush()
                newest = await sequence_pending(session)
        if newest is not None:
            await self._published(newest)
        elif appended and not self._db.is_sqlite:
            await self._sequencing.request()

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
            logger.warning("could not announce events up to %s on the bus: %r", seq, error)
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
