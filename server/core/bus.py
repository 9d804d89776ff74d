"""The broadcast bus: ``memory://`` in the embedded mode, ``redis://`` across replicas.

The bus only wakes replicas up ("events up to cursor N are committed"); the
events themselves are read from the database, so a message lost while Redis is
down costs latency, never an event. broadcaster's stock Redis backend is
replaced: it marks itself ready before SUBSCRIBE completes (with redis-py 8 its
listener then parks for good) and its listener dies silently when Redis
restarts. ``ResilientRedisBackend`` subscribes first and reconnects with backoff.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from broadcaster import Broadcast, BroadcastBackend, Event
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

WAKEUP_CHANNEL = "opsgraph.events"
RECONNECTED = "reconnected"
FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 5.0
CLOSE_TIMEOUT_SECONDS = 1.0


class ResilientRedisBackend(BroadcastBackend):
    def __init__(self, url: str) -> None:
        self._url = url
        self._publisher: Redis = Redis.from_url(url)
        self._channels: set[str] = set()
        self._subscribed = asyncio.Event()
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=10_000)
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: Any = None

    async def connect(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever(), name="redis-bus-listener")

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            # Bounded: redis-py 8 can hold a cancellation back while its pub/sub
            # read is pending (seen when stopped just after subscribing).
            _, pending = await asyncio.wait({self._listener}, timeout=CLOSE_TIMEOUT_SECONDS)
            if pending:
                logger.warning("redis bus listener did not stop when cancelled: %r", self._listener)
        await self._publisher.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if self._pubsub is not None:
            with contextlib.suppress(
                RedisConnectionError, RedisTimeoutError, OSError, TimeoutError
            ):
                async with asyncio.timeout(1.0):
                    await self._pubsub.subscribe(channel)
        self._subscribed.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if not self._channels:
            self._subscribed.clear()
        if self._pubsub is not None:
            with contextlib.suppress(
                RedisConnectionError, RedisTimeoutError, OSError, TimeoutError
            ):
                async with asyncio.timeout(1.0):
                    await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        await self._publisher.publish(channel, message)

    async def next_published(self) -> Event:
        return await self._queue.get()

    async def _listen_forever(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        first = True
        while True:
            await self._subscribed.wait()
            if not self._channels:  # the last channel went away: wait for a new one
                self._subscribed.clear()
                continue
            try:
                await self._listen(announce=not first)
            except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                # Said once per outage; the attempts that follow are debug lines.
                log = logger.warning if backoff == FIRST_BACKOFF_SECONDS else logger.debug
                log(
                    "redis bus disconnected (%s); reconnecting every %.1fs at most",
                    error,
                    MAX_BACKOFF_SECONDS,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                first = False
                continue
            backoff = FIRST_BACKOFF_SECONDS

    async def _listen(self, *, announce: bool) -> None:
        client: Redis = Redis.from_url(self._url)
        pubsub = client.pubsub()
        try:
            # SUBSCRIBE completes before anything is read: no race with the listener.
            await pubsub.subscribe(*self._channels)
            self._pubsub = pubsub
            if announce:
                for channel in self._channels:
                    self._offer(Event(channel=channel, message=RECONNECTED))
                logger.warning("redis bus reconnected")
            async for message in pubsub.listen():
                if message["type"] == "message":
                    self._offer(
                        Event(channel=message["channel"].decode(), message=message["data"].decode())
                    )
        finally:
            self._pubsub = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    def _offer(self, event: Event) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a wake-up is enough; drop extras
            self._queue.put_nowait(event)


def is_redis_url(url: str) -> bool:
    """Whether ``url`` names a Redis server (else the bus is this process's memory)."""
    return url.startswith(("redis://", "rediss://"))


class EventBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_redis = is_redis_url(url)
        if self.is_redis:
            self.broadcast = Broadcast(backend=ResilientRedisBackend(url))
            self._redis: Redis | None = Redis.from_url(url)
        else:
            self.broadcast = Broadcast(url)
            self._redis = None

    async def connect(self) -> None:
        await self.broadcast.connect()

    async def disconnect(self) -> None:
        await self.broadcast.disconnect()
        if self._redis is not None:
            await self._redis.aclose()

    async def notify(self, seq: int) -> None:
        """Tell every replica that events up to ``seq`` are committed."""
        await self.broadcast.publish(WAKEUP_CHANNEL, str(seq))

    @contextlib.asynccontextmanager
    async def wakeups(self) -> AsyncIterator[Any]:
        async with self.broadcast.subscribe(WAKEUP_CHANNEL) as subscriber:
            yield subscriber

    async def ping(self) -> bool:
        if self._redis is None:
            return True
        try:
            return bool(await self._redis.ping())
        except Exception:
            logger.warning("bus ping failed", exc_info=True)
            return False
