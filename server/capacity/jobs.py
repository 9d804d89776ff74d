"""The capacity domain's task handler (forecasts on demand) and periodic jobs."""

from datetime import timedelta

from server.capacity import runs
from server.core.services import Services


def register(services: Services) -> None:
    settings, clock, runner = services.settings, services.clock, services.runner
    days = settings.capacity_history_days
    runner.register(
        runs.TASK_KIND, runs.forecast_task_handler(services.outbox, clock, history_days=days)
    )

    async def forecast_every_policy() -> None:
        await runs.forecast_every_policy(
            services.db, services.outbox, clock=clock, history_days=days
        )

    runner.register_periodic(
        "capacity_forecasts", settings.capacity_forecast_interval, forecast_every_policy
    )

    async def prune_capacity_history() -> None:
        await runs.prune(
            services.db,
            now=clock.now(),
            history_days=days,
            retention=settings.capacity_forecast_retention,
        )

    runner.register_periodic("capacity_retention", timedelta(hours=1), prune_capacity_history)
