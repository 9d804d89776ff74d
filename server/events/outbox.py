"""The transactional outbox: commit, then sequence and announce the new events."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from server.bus import EventBus
from server.db import Database
from server.events.feed import EventFeed
from server.events.service import APPENDED, assign_sequence

logger = logging.getLogger(__name__)

BUS_TIMEOUT_SECONDS = 1.0


class Outbox:
    def __init__(self, db: Database, bus: EventBus, feed: EventFeed) -> None:
        self._db = db
        self._bus = bus
        self._feed = feed

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction whose events are announced once it has committed."""
        async with self._db.transaction() as session:
            yield session
        if session.info.pop(APPENDED, False):
            await self.announce()

    async def announce(self) -> None:
        """Never raises: an event not announced is still found by the feeds' polls."""
        try:
            seq = await assign_sequence(self._db)
        except Exception:
            logger.exception("could not sequence committed events; the feed will retry")
            return
        if seq is None:
            return
        self._feed.wake()
        try:
            await asyncio.wait_for(self._bus.notify(seq), timeout=BUS_TIMEOUT_SECONDS)
        except Exception as error:
            logger.warning("could not announce events up to %s on the bus: %r", seq, error)
