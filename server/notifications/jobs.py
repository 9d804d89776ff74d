"""The notifications domain's loops: dispatch fired alerts, send due attempts.

A replica whose job runner runs makes the messages of the alerts it fires in the
transaction that fires them, and hands their first attempts, claimed, to its
sender as soon as that commits (a reaction of the outbox). The loops run in
every replica and are woken at once when there is work: the
dispatcher, for alerts fired elsewhere (a replica without jobs, a writer that
died), when events are committed here or the event feed finds new ones
committed on another replica; it hands the first attempts it creates, claimed,
straight to this replica's sender. The sender's rounds send what else is due
(retries, attempts made by escalation) when the earliest pending attempt falls
due, and look again as soon as a handed-off send is recorded. ``notification_interval`` bounds every
wait, in case a wake-up is lost. Each message is still made once and each
attempt sent once across replicas: the dispatcher holds the checkpoint row and
the sender claims attempts with ``SKIP LOCKED`` (``alert_feed``, ``sending``).
"""

import asyncio
import random
from collections.abc import Callable
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.events.outbox import AfterCommit
from server.core.services import Services
from server.notifications import alert_feed
from server.notifications.sending import Sender, next_due_at
from server.notifications.transports import Attempt

#: The dispatcher makes the messages of alerts fired where no job runner ran
#: (their own replica makes the others as they fire): under a stream of commits
#: it makes a pass at most this often, each taking what the commits meanwhile
#: brought, rather than one transaction per commit.
DISPATCH_SPACING_SECONDS = 0.2


async def dispatch(services: Services, *, wait: bool = True) -> int:
    """Turn the alerts fired since the last run into messages; how many."""
    return await alert_feed.dispatch(services.outbox, now=services.clock.now(), wait=wait)


def sender(
    services: Services,
    *,
    uniform: Callable[[], float] = random.random,
    keep_client: bool = False,
) -> Sender:
    return Sender(
        outbox=services.outbox,
        settings=services.settings,
        clock=services.clock,
        owner=services.runner.owner,
        uniform=uniform,
        keep_client=keep_client,
    )


async def send(services: Services, *, uniform: Callable[[], float] = random.random) -> int:
    """Send the attempts due now; how many."""
    return await sender(services, uniform=uniform).run()


def register(services: Services) -> None:
    interval = services.settings.notification_interval
    the_sender = sender(services, keep_client=True)
    services.runner.stop_hooks.append(the_sender.close)
    dispatch_wakeup, send_wakeup = asyncio.Event(), asyncio.Event()
    services.feed.on_new_events(dispatch_wakeup.set)

    def wake_for_retries(sent: asyncio.Task[bool]) -> None:
        # A send that left a retry (or did not finish) has a due time the
        # sender's rounds have not seen: they look again. Otherwise they sleep on.
        if sent.cancelled() or sent.result():
            send_wakeup.set()

    def hand_off(attempts: list[Attempt]) -> None:
        the_sender.hand_off(attempts).add_done_callback(wake_for_retries)

    async def dispatch_fired_alerts() -> None:
        # The new attempts go straight to this replica's sender, claimed in the
        # transaction that creates them; its rounds send retries and leftovers.
        await alert_feed.dispatch(
            services.outbox,
            now=services.clock.now(),
            wait=False,
            claim=the_sender.claim_at_creation(),
            hand_off=hand_off,
        )

    async def notify_fired_here(session: AsyncSession) -> AfterCommit | None:
        if not services.runner.running:
            return None  # the dispatcher makes them once it runs
        attempts = await alert_feed.dispatch_own(
            session, now=services.clock.now(), claim=the_sender.claim_at_creation()
        )
        return partial(hand_off, attempts) if attempts else None

    async def send_due_attempts() -> float | None:
        started = services.clock.now()
        await the_sender.run()
        async with services.db.reader() as session:
            due = await next_due_at(session, after=started)
        return None if due is None else (due - services.clock.now()).total_seconds()

    services.outbox.react((alert_feed.FIRED,), notify_fired_here)
    services.runner.register_loop(
        "notification_dispatch",
        interval,
        dispatch_fired_alerts,
        wakeup=dispatch_wakeup,
        spacing=DISPATCH_SPACING_SECONDS,
    )
    services.runner.register_loop(
        "notification_send", interval, send_due_attempts, wakeup=send_wakeup
    )
