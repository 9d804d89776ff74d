"""The broadcast bus: ``memory://`` in the embedded mode, ``redis://`` across replicas."""

import logging

from broadcaster import Broadcast
from redis.asyncio import Redis

logger = logging.getLogger(__name__)


class EventBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.broadcast = Broadcast(url)
        self._redis: Redis | None = Redis.from_url(url) if url.startswith("redis") else None

    async def connect(self) -> None:
        await self.broadcast.connect()

    async def disconnect(self) -> None:
        await self.broadcast.disconnect()
        if self._redis is not None:
            await self._redis.aclose()

    async def ping(self) -> bool:
        if self._redis is None:
            return True
        try:
            return bool(await self._redis.ping())
        except Exception:
            logger.warning("bus ping failed", exc_info=True)
            return False
