"""The process-wide parts every request shares, built once by the app factory."""

from dataclasses import dataclass

from server.auth import KeyAuthenticator
from server.bus import EventBus
from server.clock import Clock
from server.db import Database
from server.ratelimit import RateLimiter
from server.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: EventBus
    clock: Clock
    authenticator: KeyAuthenticator
    rate_limiter: RateLimiter

    @classmethod
    def build(cls, settings: Settings, clock: Clock) -> "Services":
        db = Database(settings.database_url, pool_size=settings.db_pool_size)
        return cls(
            settings=settings,
            db=db,
            bus=EventBus(settings.redis_url),
            clock=clock,
            authenticator=KeyAuthenticator(db, clock, cache_seconds=settings.key_cache_seconds),
            rate_limiter=RateLimiter(per_minute=settings.rate_limit_per_minute),
        )
