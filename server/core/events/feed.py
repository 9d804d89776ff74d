"""One reader of the events table per process, fanning new events out to listeners.

The feed wakes on a bus message or, failing that, on a short poll; either way
it reads the events after its position from the database, in cursor order, and
offers each to the listeners whose predicate accepts it. A listener's queue is
bounded: a listener that falls behind is marked lagged and re-reads from the
database, so a slow client never stalls the feed and never loses an event.
Callers that only need to know that new events were sequenced (not which) add
a wake-up with ``on_new_events``; it is called once per look that moved the
position, however many events that look found, and at once when this process
commits events (``published``), without waiting for that look.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator

from server.core import metrics
from server.core.bus import EventBus
from server.core.db import Database
from server.core.events import service as events
from server.core.events.service import EventRecord
from server.core.outages import Dependencies

logger = logging.getLogger(__name__)

Predicate = Callable[[EventRecord], bool]


class Listener:
    def __init__(self, predicate: Predicate, *, capacity: int) -> None:
        self.predicate = predicate
        self.queue: asyncio.Queue[EventRecord] = asyncio.Queue(maxsize=capacity)
        self.lagged = False

    def offer(self, record: EventRecord) -> None:
        if self.lagged or not self.predicate(record):
            return
        try:
            self.queue.put_nowait(record)
        except asyncio.QueueFull:
            self.lagged = True

    def take_lag(self) -> bool:
        """True once after the listener fell behind; its queue is then emptied."""
        if not self.lagged:
            return False
        while not self.queue.empty():
            self.queue.get_nowait()
        self.lagged = False
        return True


class EventFeed:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 500,
        listener_capacity: int = 1_000,
        dependencies: Dependencies | None = None,
    ) -> None:
        self._dependencies = dependencies or Dependencies()
        self._db = db
        self._bus = bus
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._capacity = listener_capacity
        self._listeners: set[Listener] = set()
        self._wakeups: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = asyncio.Event()
        self.position = 0
        #: The oldest unsequenced event seen at the last look, if any.
        self._waiting: int | None = None
        self._waiting_since = 0.0

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._follow_bus(), name="event-feed-bus"),
            asyncio.create_task(self._run(), name="event-feed"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def current_position(self) -> int:
        """The cursor of the last dispatched event, once the feed has found its place."""
        await self._started.wait()
        return self.position

    def wake(self) -> None:
        self._wake.set()

    def published(self, seq: int) -> None:
        """Events up to ``seq`` were committed by this process: look at once, and
        wake the ``on_new_events`` callers now rather than after that look."""
        self._wake.set()
        if seq > self.position:
            for wakeup in self._wakeups:
                wakeup()

    def on_new_events(self, wakeup: Callable[[], None]) -> None:
        """Call ``wakeup`` (which must not block) whenever the feed finds new
        sequenced events, whether committed by this process or by another."""
        self._wakeups.append(wakeup)

    @contextlib.contextmanager
    def listen(self, predicate: Predicate) -> Iterator[Listener]:
        listener = Listener(predicate, capacity=self._capacity)
        self._listeners.add(listener)
        metrics.live_subscriptions.inc()
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
            metrics.live_subscriptions.dec()

    async def _follow_bus(self) -> None:
        while True:
            try:
                async with self._bus.wakeups() as subscriber:
                    while True:
                        await subscriber.get()
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._dependencies.log_failure(
                    logger, error, "event feed lost the bus; polling until it is back"
                )
                await asyncio.sleep(self._dependencies.redis.backoff_seconds(1.0))

    async def _find_position(self) -> None:
        while True:
            try:
                async with self._db.reader() as session:
                    self.position = await events.latest_seq(session)
            except Exception as error:
                self._dependencies.log_failure(
                    logger, error, "event feed cannot reach the database yet"
                )
                await asyncio.sleep(self._dependencies.database.backoff_seconds(self._poll_seconds))
                continue
            self._started.set()
            return

    async def _run(self) -> None:
        await self._find_position()
        while True:
            pause = self._dependencies.database.backoff_seconds(self._poll_seconds)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._wake.wait()
            self._wake.clear()
            before = self.position
            try:
                await self._catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._dependencies.log_failure(
                    logger, error, "event feed could not read new events"
                )
            else:
                self._dependencies.database.succeeded()
            if self.position > before:
                for wakeup in self._wakeups:
                    wakeup()

    async def _catch_up(self) -> None:
        listened = bool(self._listeners)
        async with self._db.reader() as session:
            waiting, latest = await events.feed_state(session)
        now = asyncio.get_running_loop().time()
        if waiting is None or waiting != self._waiting:
            self._waiting, self._waiting_since = waiting, now
        elif now - self._waiting_since >= self._poll_seconds:
            # Still there a poll later: it was committed without a cursor and
            # its writer did not sequence it (died after its commit, or wrote
            # outside the outbox).
            await events.assign_sequence(self._db)
        if not listened and not self._listeners:
            # Nobody to offer them to: a subscriber that arrives later replays
            # from the database itself, so only the position has to move on;
            # unless one arrived while we asked, then it must get the events.
            self.position = latest
            return
        while True:
            async with self._db.reader() as session:
                batch = await events.read_after(
                    session, after=self.position, limit=self._batch_size
                )
            for record in batch:
                self._dispatch(record)
            if len(batch) < self._batch_size:
                return

    def _dispatch(self, record: EventRecord) -> None:
        self.position = record.seq
        for listener in list(self._listeners):
            listener.offer(record)
