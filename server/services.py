"""The process-wide parts every request shares, built once by the app factory."""

from dataclasses import dataclass
from datetime import timedelta

from server.alerts import silences
from server.auth import KeyAuthenticator
from server.bus import EventBus
from server.clock import Clock
from server.db import Database
from server.events import service as events
from server.events.feed import EventFeed
from server.events.outbox import Outbox
from server.jobs import JobRunner
from server.ratelimit import RateLimiter
from server.security import inspection
from server.settings import Settings
from server.slo import sweep as slo_sweep


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: EventBus
    feed: EventFeed
    outbox: Outbox
    runner: JobRunner
    clock: Clock
    authenticator: KeyAuthenticator
    rate_limiter: RateLimiter

    @classmethod
    def build(cls, settings: Settings, clock: Clock) -> "Services":
        db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            request_comments=settings.sql_request_comments,
        )
        bus = EventBus(settings.redis_url)
        feed = EventFeed(db, bus, poll_seconds=settings.event_poll_seconds)
        outbox = Outbox(db, bus, feed)
        runner = JobRunner(
            db,
            outbox,
            clock,
            lease=settings.task_lease,
            poll_seconds=settings.job_poll_seconds,
            concurrency=settings.job_concurrency,
        )
        runner.register(inspection.KIND, inspection.inspection_handler(db, settings, clock))
        runner.register(slo_sweep.TASK_KIND, slo_sweep.sweep_task_handler(outbox, clock))

        async def prune_events() -> None:
            await events.prune(db, older_than=clock.now() - settings.event_retention)

        runner.register_periodic("event_retention", timedelta(hours=1), prune_events)

        async def sweep_silences() -> None:
            await silences.sweep(outbox, now=clock.now(), interval=settings.silence_sweep_interval)

        runner.register_periodic("silence_sweep", settings.silence_sweep_interval, sweep_silences)

        async def sweep_slos() -> None:
            await slo_sweep.sweep(outbox, clock=clock)

        runner.register_periodic("slo_sweep", settings.slo_sweep_interval, sweep_slos)

        async def prune_slo_history() -> None:
            now = clock.now()
            await slo_sweep.prune(
                db, now=now, evaluations_older_than=now - settings.slo_evaluation_retention
            )

        runner.register_periodic("slo_retention", timedelta(hours=1), prune_slo_history)
        return cls(
            settings=settings,
            db=db,
            bus=bus,
            feed=feed,
            outbox=outbox,
            runner=runner,
            clock=clock,
            authenticator=KeyAuthenticator(db, clock, cache_seconds=settings.key_cache_seconds),
            rate_limiter=RateLimiter(per_minute=settings.rate_limit_per_minute),
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
        await self.db.dispose()
