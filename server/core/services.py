"""The process-wide parts every request shares, built once by the app factory.

Domains add their task handlers and periodic jobs to ``runner`` through their
own ``jobs.register`` (called by ``server.transport.composition``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from server.core.auth import Authenticator
from server.core.bus import EventBus
from server.core.clock import Clock
from server.core.connection_slots import ConnectionSlots
from server.core.db import Database
from server.core.events import service as events
from server.core.events.feed import EventFeed
from server.core.events.outbox import Outbox
from server.core.jobs import JobRunner
from server.core.outages import Dependencies
from server.core.ratelimit import RateLimiter
from server.core.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: EventBus
    feed: EventFeed
    outbox: Outbox
    runner: JobRunner
    clock: Clock
    authenticator: Authenticator
    rate_limiter: RateLimiter
    connection_slots: ConnectionSlots
    dependencies: Dependencies

    @classmethod
    def build(
        cls,
        settings: Settings,
        clock: Clock,
        *,
        authenticator: Callable[[Database], Authenticator],
    ) -> "Services":
        db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            request_comments=settings.sql_request_comments,
        )
        bus = EventBus(settings.redis_url)
        dependencies = Dependencies()
        feed = EventFeed(
            db, bus, poll_seconds=settings.event_poll_seconds, dependencies=dependencies
        )
        outbox = Outbox(db, bus, feed)
        runner = JobRunner(
            db,
            outbox,
            clock,
            lease=settings.task_lease,
            poll_seconds=settings.job_poll_seconds,
            concurrency=settings.job_concurrency,
            dependencies=dependencies,
        )

        async def prune_events() -> None:
            await events.prune(db, older_than=clock.now() - settings.event_retention)

        runner.register_periodic("event_retention", timedelta(hours=1), prune_events)
        return cls(
            settings=settings,
            db=db,
            bus=bus,
            feed=feed,
            outbox=outbox,
            runner=runner,
            clock=clock,
            authenticator=authenticator(db),
            rate_limiter=RateLimiter.from_settings(settings, redis=dependencies.redis),
            connection_slots=ConnectionSlots.from_settings(settings, redis=dependencies.redis),
            dependencies=dependencies,
        )

    async def start(self) -> None:
        await self.bus.connect()
        await self.feed.start()
        if self.settings.run_jobs:
            await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()
        await self.outbox.stop()
        await self.feed.stop()
        await self.bus.disconnect()
        await self.rate_limiter.close()
        await self.connection_slots.close()
        await self.db.dispose()
