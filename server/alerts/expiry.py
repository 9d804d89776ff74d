"""Alerts that end unless raised again: resolved once their ``ends_at`` passes.

Prometheus sends each firing alert again every evaluation with ``endsAt`` a few
resend delays ahead; an alert that stops coming (its rule deleted, Prometheus
gone) ends there, as in Alertmanager. A repeat before then moves ``ends_at``
forward (``raising``); the periodic sweep resolves open alerts past theirs, set-based,
with the ``alert.resolved`` events a manual resolve leaves. The UPDATE checks
``ends_at`` again on the row it changes, so a repeat committed first keeps its
alert open.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import lifecycle
from server.alerts.models import OPEN_STATUSES, Alert
from server.core.events.outbox import Outbox

#: The actor of the resolves the sweep makes, in ``resolvedBy`` and the events.
ACTOR = "alert-expiry"
#: Alerts resolved per transaction: a backlog is taken in bounded steps.
BATCH = 1000


async def expire(session: AsyncSession, *, now: datetime, limit: int = BATCH) -> list[Alert]:
    """Resolve up to ``limit`` open alerts (of any workspace) whose end has passed,
    the earliest ended first."""
    ended = (
        select(Alert.id)
        .where(Alert.status.in_(OPEN_STATUSES), Alert.ends_at.is_not(None), Alert.ends_at <= now)
        .order_by(Alert.ends_at)
        .limit(limit)
    )
    return await lifecycle.apply_where(
        session,
        lifecycle.RESOLVE,
        Alert.id.in_(ended.scalar_subquery()),
        Alert.ends_at <= now,
        actor=ACTOR,
        now=now,
    )


async def sweep(outbox: Outbox, *, now: datetime, batch: int = BATCH) -> int:
    """Resolve every open alert whose end has passed at ``now``; how many were."""
    resolved = 0
    while True:
        async with outbox.transaction() as session:
            step = len(await expire(session, now=now, limit=batch))
        resolved += step
        if step < batch:
            return resolved
