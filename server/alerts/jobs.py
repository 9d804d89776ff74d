"""The alerts domain's periodic jobs."""

from server.alerts import expiry, silences
from server.core.services import Services


def register(services: Services) -> None:
    settings, clock = services.settings, services.clock

    async def sweep_silences() -> None:
        await silences.sweep(
            services.outbox, now=clock.now(), interval=settings.silence_sweep_interval
        )

    async def sweep_expired_alerts() -> None:
        await expiry.sweep(services.outbox, now=clock.now())

    services.runner.register_periodic(
        "silence_sweep", settings.silence_sweep_interval, sweep_silences
    )
    services.runner.register_periodic(
        "alert_expiry_sweep", settings.alert_expiry_sweep_interval, sweep_expired_alerts
    )
