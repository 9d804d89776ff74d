"""What the counts shared by every replica (rate-limit buckets, websocket slots) share.

They live in Redis when the bus is Redis (``uses_redis``), in keys namespaced by
the deployment (``deployment_namespace``), through a client that gives up on a
command within ``redis_limits_timeout_seconds`` (half a second by default) and
on a new connection within twice that (``quick_redis``): short enough that an
unreachable Redis costs little, long enough that a busy event loop is not taken
for an outage. When Redis cannot be reached they let work through rather than
refuse it (``FailOpen.attempt``): the outage is logged once
(``server.core.outages``), each pass is counted in a metric, and Redis is asked
again at most once a second meanwhile, so an unreachable Redis costs no waiting.
"""

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.core.bus import is_redis_url
from server.core.outages import Dependency
from server.core.settings import Settings

RETRY_REDIS_SECONDS = 1.0
#: What a call to an unreachable (or failing) Redis raises.
REDIS_FAILURES = (RedisError, OSError)

T = TypeVar("T")


def uses_redis(settings: Settings) -> bool:
    """Whether the bus, and so the shared counts, are in Redis."""
    return is_redis_url(settings.redis_url)


def deployment_namespace(settings: Settings) -> str:
    """A digest of the database URL: deployments sharing one Redis keep apart counts."""
    return hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]


def quick_redis(settings: Settings) -> Redis:
    timeout = settings.redis_limits_timeout_seconds
    return Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=2 * timeout
    )


class FailOpen:
    """Lets work through while Redis cannot be reached, counting each pass in ``passes``."""

    def __init__(self, passes: Counter, redis: Dependency | None) -> None:
        self._passes = passes
        self._redis = redis
        self._skip_until = 0.0

    async def attempt(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """``call``'s answer; None, and the pass counted, when Redis fails it or
        is being left alone after a failure (for a second, then asked again)."""
        if time.monotonic() < self._skip_until:
            self._passes.inc()
            return None
        try:
            answer = await call()
        except REDIS_FAILURES as error:
            self._passes.inc()
            self._skip_until = time.monotonic() + RETRY_REDIS_SECONDS
            self.failed(error)
            return None
        self.succeeded()
        return answer

    def failed(self, error: BaseException) -> None:
        if self._redis is not None:
            self._redis.failed(error)

    def succeeded(self) -> None:
        if self._redis is not None:
            self._redis.succeeded()
