"""Request budgets per API key and per workspace, shared by every replica.

Each request takes from two buckets, its key's and its workspace's, of its kind:
reads (queries, subscriptions and websocket messages) or writes (mutations, a
smaller budget, so a mutation costs more). A request without a key takes from
its client address's one budget instead (``hit_anonymous``), so nobody sends
without limit by leaving the key out. The buckets are GCRA timestamps
(``server.core.gcra``): in Redis when the bus is Redis, checked and updated by
one atomic script per request, so N replicas allow the limit once, not N
times; in this process's memory on the embedded default (one process).

Redis' own clock times the buckets, so replicas agree whatever their clocks
say. When Redis cannot be reached, requests are let through (fail open,
``server.core.shared_counts``), each counted in
``opsgraph_rate_limit_fail_open_total``.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from prometheus_client import Counter
from redis.asyncio import Redis

from server.core import metrics
from server.core.auth import Principal
from server.core.gcra import RATE_LIMIT_SCRIPT, Bucket, Verdict, decide, seconds_up
from server.core.outages import Dependency
from server.core.settings import Settings
from server.core.shared_counts import (
    FailOpen,
    deployment_namespace,
    quick_redis,
    uses_redis,
)

fail_open = Counter(
    "opsgraph_rate_limit_fail_open_total",
    "Requests let through without a rate limit check because Redis could not be reached.",
    registry=metrics.registry,
)
refused = Counter(
    "opsgraph_rate_limited_total",
    "Requests refused with RATE_LIMITED, by kind of request.",
    ["kind"],
    registry=metrics.registry,
)

MEMORY_PRUNE_AT = 100_000


class RequestKind(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """What the ``X-RateLimit-*`` headers say: the tightest bucket of the request."""

    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int = 0
    allowed: bool = True

    @property
    def exceeded(self) -> bool:
        return not self.allowed


Check = tuple[str, Bucket]


class BucketStore(Protocol):
    async def take(self, checks: Sequence[Check], cost: int) -> list[Verdict]: ...

    async def close(self) -> None: ...


class MemoryBuckets:
    """The buckets of one process (the embedded default), on the monotonic clock."""

    def __init__(self) -> None:
        self._tats: dict[str, int] = {}

    async def take(self, checks: Sequence[Check], cost: int) -> list[Verdict]:
        now = int(time.monotonic() * 1_000_000)
        decided = [
            decide(bucket, tat_us=self._tats.get(key), now_us=now, cost=cost)
            for key, bucket in checks
        ]
        if all(verdict.allowed for verdict, _ in decided):
            if len(self._tats) > MEMORY_PRUNE_AT:
                self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
            for (key, _), (_, tat) in zip(checks, decided, strict=True):
                self._tats[key] = tat
        return [verdict for verdict, _ in decided]

    async def close(self) -> None:
        self._tats.clear()


class RedisBuckets:
    """The buckets of every replica, in Redis, one script call per request."""

    def __init__(self, settings: Settings) -> None:
        self._redis: Redis = quick_redis(settings)
        self._script = self._redis.register_script(RATE_LIMIT_SCRIPT)

    async def take(self, checks: Sequence[Check], cost: int) -> list[Verdict]:
        keys = [key for key, _ in checks]
        arguments: list[int] = []
        for _, bucket in checks:
            arguments += [bucket.interval_us, bucket.capacity, cost]
        answer = await self._script(keys=keys, args=arguments)
        return [
            Verdict(bool(answer[4 * i]), bucket.capacity, *map(int, answer[4 * i + 1 : 4 * i + 4]))
            for i, (_, bucket) in enumerate(checks)
        ]

    async def close(self) -> None:
        await self._redis.aclose()


@dataclass(frozen=True)
class Budgets:
    """Requests per minute of each kind, for a key and for a workspace, and of
    any kind for a client address sending without a key; 0 is no limit."""

    key_reads: int
    key_writes: int
    workspace_reads: int
    workspace_writes: int
    anonymous: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> "Budgets":
        if settings.rate_limit_per_minute == 0:
            return cls(0, 0, 0, 0)
        factor = settings.rate_limit_workspace_factor
        return cls(
            key_reads=settings.rate_limit_per_minute,
            key_writes=settings.rate_limit_mutations_per_minute,
            workspace_reads=round(settings.rate_limit_per_minute * factor),
            workspace_writes=round(settings.rate_limit_mutations_per_minute * factor),
            anonymous=settings.rate_limit_anonymous_per_minute,
        )

    def buckets(self, kind: RequestKind) -> tuple[Bucket | None, Bucket | None]:
        key, workspace = (
            (self.key_reads, self.workspace_reads)
            if kind is RequestKind.READ
            else (self.key_writes, self.workspace_writes)
        )
        return (
            Bucket(f"key-{kind}", key) if key else None,
            Bucket(f"workspace-{kind}", workspace) if workspace else None,
        )


class RateLimiter:
    def __init__(
        self,
        budgets: Budgets,
        store: BucketStore,
        *,
        namespace: str,
        redis: Dependency | None = None,
    ) -> None:
        self.budgets = budgets
        self._store = store
        self._namespace = namespace
        self._fail_open = FailOpen(fail_open, redis)

    @classmethod
    def from_settings(cls, settings: Settings, *, redis: Dependency) -> "RateLimiter":
        """Buckets in Redis when the bus is Redis; keys carry a digest of the
        database URL, so deployments sharing one Redis keep apart budgets."""
        namespace = deployment_namespace(settings)
        budgets = Budgets.from_settings(settings)
        if uses_redis(settings):
            return cls(budgets, RedisBuckets(settings), namespace=namespace, redis=redis)
        return cls(budgets, MemoryBuckets(), namespace=namespace)

    @property
    def enabled(self) -> bool:
        return any(
            (
                self.budgets.key_reads,
                self.budgets.key_writes,
                self.budgets.workspace_reads,
                self.budgets.workspace_writes,
                self.budgets.anonymous,
            )
        )

    async def hit(
        self, principal: Principal, kind: RequestKind = RequestKind.READ, *, cost: int = 1
    ) -> RateLimitStatus | None:
        """Take ``cost`` from the principal's buckets of this kind; None when
        nothing was checked (no limit of this kind, or Redis unreachable)."""
        return await self._take(self._checks(principal, kind), kind, cost)

    async def hit_anonymous(self, client: str) -> RateLimitStatus | None:
        """Take one request from the budget of a client address sending without
        a key; None when there is no such budget or Redis is unreachable."""
        if not self.budgets.anonymous:
            return None
        key = f"opsgraph:ratelimit:{self._namespace}:client:{client}"
        return await self._take([(key, Bucket("anonymous", self.budgets.anonymous))])

    async def _take(
        self, checks: Sequence[Check], kind: RequestKind = RequestKind.READ, cost: int = 1
    ) -> RateLimitStatus | None:
        if not checks:
            return None
        verdicts = await self._fail_open.attempt(lambda: self._store.take(checks, cost))
        if verdicts is None:
            return None
        status = _tightest(verdicts)
        if not status.allowed:
            metrics.child(refused, kind.value).inc()
        return status

    def _checks(self, principal: Principal, kind: RequestKind) -> list[Check]:
        key_bucket, workspace_bucket = self.budgets.buckets(kind)
        prefix = f"opsgraph:ratelimit:{self._namespace}"
        checks: list[Check] = []
        if key_bucket is not None:
            checks.append((f"{prefix}:key:{principal.key_id}:{kind}", key_bucket))
        if workspace_bucket is not None:
            checks.append((f"{prefix}:workspace:{principal.workspace_id}:{kind}", workspace_bucket))
        return checks

    async def close(self) -> None:
        await self._store.close()


def _tightest(verdicts: Sequence[Verdict]) -> RateLimitStatus:
    """A refusing bucket if any (the one to wait longest for), else the one with least left."""
    refusing = [verdict for verdict in verdicts if not verdict.allowed]
    if refusing:
        worst = max(refusing, key=lambda verdict: verdict.retry_after_us)
    else:
        worst = min(verdicts, key=lambda verdict: (verdict.remaining, -verdict.reset_us))
    return RateLimitStatus(
        limit=worst.capacity,
        remaining=worst.remaining,
        reset_seconds=seconds_up(worst.reset_us),
        retry_after=max(1, seconds_up(worst.retry_after_us)) if not worst.allowed else 0,
        allowed=worst.allowed,
    )
