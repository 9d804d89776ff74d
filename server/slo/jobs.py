"""The SLO domain's task handler (evaluation sweeps) and periodic jobs."""

from datetime import timedelta

from server.core.services import Services
from server.slo import sweep as slo_sweep
from server.slo.service import SWEEP_TASK_KIND


def register(services: Services) -> None:
    settings, clock, runner = services.settings, services.clock, services.runner
    runner.register(SWEEP_TASK_KIND, slo_sweep.sweep_task_handler(services.outbox, clock))

    async def sweep_slos() -> None:
        await slo_sweep.sweep(services.outbox, clock=clock)

    runner.register_periodic("slo_sweep", settings.slo_sweep_interval, sweep_slos)

    async def prune_slo_history() -> None:
        now = clock.now()
        await slo_sweep.prune(
            services.db, now=now, evaluations_older_than=now - settings.slo_evaluation_retention
        )

    runner.register_periodic("slo_retention", timedelta(hours=1), prune_slo_history)
