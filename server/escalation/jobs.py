"""The escalation domain's periodic job: the sweep, once per interval across replicas."""

from server.core.services import Services
from server.escalation.sweep import sweep


def register(services: Services) -> None:
    settings, clock = services.settings, services.clock

    async def sweep_escalations() -> None:
        await sweep(services.outbox, now=clock.now(), batch_size=settings.escalation_batch_size)

    services.runner.register_periodic(
        "escalation_sweep", settings.escalation_sweep_interval, sweep_escalations
    )
