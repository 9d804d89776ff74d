"""Websocket connections per API key, counted across every replica.

Each open connection holds a slot: in Redis (when the bus is Redis) an entry of
a per-key sorted set, its connection id scored by when its lease ends. The
process that holds it renews every lease of its own each third of a lease, so a
process that dies leaves only leases that run out: the admitting script drops
every entry past its lease before it counts, in the same atomic step, and no
slot leaks. On the embedded default (one process) the slots are this process's
memory.

When Redis cannot be reached, connections are admitted (fail open, as the rate
limiter does: ``server.core.shared_counts``), each counted in
``opsgraph_websocket_slots_fail_open_total``.
"""

import asyncio
import contextlib
from typing import Protocol

from prometheus_client import Counter
from redis.asyncio import Redis

from server.core import metrics
from server.core.outages import Dependency
from server.core.settings import Settings
from server.core.shared_counts import (
    REDIS_FAILURES,
    FailOpen,
    deployment_namespace,
    quick_redis,
    uses_redis,
)

fail_open = Counter(
    "opsgraph_websocket_slots_fail_open_total",
    "Websocket connections admitted without counting because Redis could not be reached.",
    registry=metrics.registry,
)

#: KEYS[1]: the key's set; ARGV: connection id, most connections, lease in ms.
#: Drops expired leases, then admits (1) or refuses (0), on Redis' own clock.
ADMIT_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1])
    and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
"""

#: KEYS: sets of keys; ARGV[1]: lease in ms, then per key the number of its
#: connection ids followed by them. Extends the lease of each connection still
#: held (XX: one released meanwhile is not brought back).
RENEW_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local lease = tonumber(ARGV[1])
local at = 2
for i = 1, #KEYS do
  local count = tonumber(ARGV[at])
  for j = 1, count do
    redis.call('ZADD', KEYS[i], 'XX', now + lease, ARGV[at + j])
  end
  redis.call('PEXPIRE', KEYS[i], lease)
  at = at + count + 1
end
return 1
"""


class SlotStore(Protocol):
    #: Whether its slots are leases that their holder must renew.
    leased: bool

    async def admit(self, key: str, connection_id: str, limit: int) -> bool: ...

    async def renew(self, held: dict[str, set[str]]) -> None: ...

    async def release(self, key: str, connection_id: str) -> None: ...

    async def close(self) -> None: ...


class MemorySlots:
    """The slots of one process (the embedded default): they end with it."""

    leased = False

    def __init__(self) -> None:
        self._held: dict[str, set[str]] = {}

    async def admit(self, key: str, connection_id: str, limit: int) -> bool:
        held = self._held.setdefault(key, set())
        if connection_id not in held and len(held) >= limit:
            return False
        held.add(connection_id)
        return True

    async def renew(self, held: dict[str, set[str]]) -> None:
        return None

    async def release(self, key: str, connection_id: str) -> None:
        held = self._held.get(key)
        if held is not None:
            held.discard(connection_id)
            if not held:
                del self._held[key]

    async def close(self) -> None:
        self._held.clear()


class RedisSlots:
    """The slots of every replica, leased in Redis."""

    leased = True

    def __init__(self, settings: Settings, *, lease_seconds: float) -> None:
        self._redis: Redis = quick_redis(settings)
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._admit = self._redis.register_script(ADMIT_SCRIPT)
        self._renew = self._redis.register_script(RENEW_SCRIPT)

    async def admit(self, key: str, connection_id: str, limit: int) -> bool:
        answer = await self._admit(keys=[key], args=[connection_id, limit, self._lease_ms])
        return bool(answer)

    async def renew(self, held: dict[str, set[str]]) -> None:
        keys = list(held)
        arguments: list[str | int] = [self._lease_ms]
        for key in keys:
            arguments += [len(held[key]), *sorted(held[key])]
        await self._renew(keys=keys, args=arguments)

    async def release(self, key: str, connection_id: str) -> None:
        await self._redis.zrem(key, connection_id)

    async def close(self) -> None:
        await self._redis.aclose()


class ConnectionSlots:
    """At most ``limit`` websocket connections per API key, across replicas."""

    def __init__(
        self,
        store: SlotStore,
        *,
        limit: int,
        lease_seconds: float,
        namespace: str,
        redis: Dependency | None = None,
    ) -> None:
        self.limit = limit
        self._store = store
        self._lease_seconds = lease_seconds
        self._prefix = f"opsgraph:ws-slots:{namespace}:key"
        self._fail_open = FailOpen(fail_open, redis)
        self._held: dict[str, set[str]] = {}
        self._renewer: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, redis: Dependency) -> "ConnectionSlots":
        """Slots in Redis when the bus is Redis, namespaced by a digest of the
        database URL as the rate limiter's buckets are."""
        namespace = deployment_namespace(settings)
        limit = settings.max_websocket_connections_per_key
        lease = settings.websocket_slot_lease_seconds
        if uses_redis(settings):
            store = RedisSlots(settings, lease_seconds=lease)
            return cls(store, limit=limit, lease_seconds=lease, namespace=namespace, redis=redis)
        return cls(MemorySlots(), limit=limit, lease_seconds=lease, namespace=namespace)

    async def acquire(self, key_id: int, connection_id: str) -> bool:
        """Take a slot of the key for this connection; False when it has none left."""
        key = f"{self._prefix}:{key_id}"
        admitted = await self._fail_open.attempt(
            lambda: self._store.admit(key, connection_id, self.limit)
        )
        if admitted is None:
            return True  # Redis unreachable: let it in
        if admitted:
            self._held.setdefault(key, set()).add(connection_id)
            if self._store.leased:
                self._start_renewing()
        return admitted

    async def release(self, key_id: int, connection_id: str) -> None:
        key = f"{self._prefix}:{key_id}"
        held = self._held.get(key)
        if held is None or connection_id not in held:
            return
        held.discard(connection_id)
        if not held:
            del self._held[key]
        try:
            await self._store.release(key, connection_id)
        except REDIS_FAILURES as error:
            self._fail_open.failed(error)  # its lease runs out instead

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        self._held.clear()
        await self._store.close()

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        """Extend this process's leases every third of a lease while it holds any."""
        while self._held:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                await self._store.renew({key: set(ids) for key, ids in self._held.items()})
            except REDIS_FAILURES as error:
                self._fail_open.failed(error)
            else:
                self._fail_open.succeeded()
