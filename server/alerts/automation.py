"""What automated sources (the SLO evaluator) do to alerts besides raising them:
resolve the open alert of a fingerprint, inhibit alerts while a more urgent one
of the same source fires, and flag incidents that need a postmortem.

Each change is one conditional, set-based UPDATE and leaves an alert event.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import lifecycle
from server.alerts.events import AlertEventType, alert_event, emit
from server.alerts.models import OPEN_STATUSES, Alert
from server.core.errors import Conflict


async def open_alerts(
    session: AsyncSession, *, workspace_id: int, fingerprints: list[str]
) -> list[Alert]:
    """The open (FIRING or ACKNOWLEDGED) alerts of these fingerprints."""
    if not fingerprints:
        return []
    rows = await session.scalars(
        select(Alert)
        .where(
            Alert.workspace_id == workspace_id,
            Alert.fingerprint.in_(fingerprints),
            Alert.status.in_(OPEN_STATUSES),
        )
        .order_by(Alert.id)
    )
    return list(rows.all())


async def resolve(
    session: AsyncSession, *, alert: Alert, actor: str, now: datetime
) -> Alert | None:
    """Resolve an open alert; None if someone resolved it meanwhile."""
    try:
        return await lifecycle.apply(
            session,
            lifecycle.RESOLVE,
            workspace_id=alert.workspace_id,
            alert_id=alert.id,
            actor=actor,
            now=now,
        )
    except Conflict:
        return None


async def resolve_fingerprints(
    session: AsyncSession, *, workspace_id: int, fingerprints: list[str], actor: str, now: datetime
) -> list[Alert]:
    """Resolve the open alerts of these fingerprints in one UPDATE; returns them."""
    if not fingerprints:
        return []
    return await lifecycle.apply_where(
        session,
        lifecycle.RESOLVE,
        Alert.workspace_id == workspace_id,
        Alert.fingerprint.in_(fingerprints),
        actor=actor,
        now=now,
    )


async def set_inhibited(
    session: AsyncSession, *, alerts: list[Alert], inhibited: bool, now: datetime, **details: Any
) -> list[Alert]:
    """Mark (or unmark) open alerts as inhibited; returns those that changed."""
    if not alerts:
        return []
    changed = await _update(
        session,
        alerts,
        Alert.status.in_(OPEN_STATUSES),
        Alert.inhibited.is_(not inhibited),
        inhibited=inhibited,
    )
    type_ = AlertEventType.INHIBITED if inhibited else AlertEventType.UNINHIBITED
    await emit(session, [alert_event(alert, type_, now, **details) for alert in changed])
    return list(changed)


async def flag_needs_postmortem(
    session: AsyncSession, *, alerts: list[Alert], now: datetime, details: dict[int, dict[str, Any]]
) -> list[Alert]:
    """Flag alerts whose incident needs a postmortem (once); ``details`` per alert id
    go into their ``alert.needs_postmortem`` events. Returns those newly flagged."""
    if not alerts:
        return []
    flagged = await _update(
        session, alerts, Alert.needs_postmortem.is_(False), needs_postmortem=True
    )
    await emit(
        session,
        [
            alert_event(alert, AlertEventType.NEEDS_POSTMORTEM, now, **details.get(alert.id, {}))
            for alert in flagged
        ],
    )
    return list(flagged)


async def _update(
    session: AsyncSession, alerts: list[Alert], *conditions: ColumnElement[bool], **values: Any
) -> Sequence[Alert]:
    """Set ``values`` on those of ``alerts`` that meet ``conditions``; returns them."""
    statement = (
        update(Alert)
        .where(Alert.id.in_([alert.id for alert in alerts]), *conditions)
        .values(**values)
        .returning(Alert)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.scalars(statement)).all()
