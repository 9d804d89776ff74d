"""The notifications domain's periodic jobs: dispatch fired alerts, send due attempts."""

import random
from collections.abc import Callable

from server.core.services import Services
from server.notifications import alert_feed
from server.notifications.sending import Sender


async def dispatch(services: Services) -> int:
    """Turn the alerts fired since the last run into messages; how many."""
    return await alert_feed.dispatch(services.outbox, now=services.clock.now())


def sender(services: Services, *, uniform: Callable[[], float] = random.random) -> Sender:
    return Sender(
        outbox=services.outbox,
        settings=services.settings,
        clock=services.clock,
        owner=services.runner.owner,
        uniform=uniform,
    )


async def send(services: Services, *, uniform: Callable[[], float] = random.random) -> int:
    """Send the attempts due now; how many."""
    return await sender(services, uniform=uniform).run()


def register(services: Services) -> None:
    interval = services.settings.notification_interval
    the_sender = sender(services)

    async def dispatch_fired_alerts() -> None:
        await dispatch(services)

    async def send_due_attempts() -> None:
        await the_sender.run()

    services.runner.register_periodic("notification_dispatch", interval, dispatch_fired_alerts)
    services.runner.register_periodic("notification_send", interval, send_due_attempts)
