"""Alert transitions: FIRING -> ACKNOWLEDGED -> RESOLVED -> CLOSED.

A FIRING alert may be resolved without an acknowledgement (its source saw it
recover); only a RESOLVED alert may be closed. Each transition is one
conditional UPDATE, so two people acting on one alert at once cannot both
succeed; the loser gets CONFLICT.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.alerts.drafts import AlertStatus
from server.alerts.events import AlertEventType, alert_event, emit
from server.alerts.models import Alert
from server.core.db import get_in_workspace
from server.core.errors import Conflict


@dataclass(frozen=True)
class Transition:
    verb: str
    allowed_from: tuple[AlertStatus, ...]
    to: AlertStatus
    at_column: InstrumentedAttribute[datetime | None]
    by_column: InstrumentedAttribute[str | None]
    event: AlertEventType


ACKNOWLEDGE = Transition(
    "acknowledged",
    (AlertStatus.FIRING,),
    AlertStatus.ACKNOWLEDGED,
    Alert.acknowledged_at,
    Alert.acknowledged_by,
    AlertEventType.ACKNOWLEDGED,
)
RESOLVE = Transition(
    "resolved",
    (AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED),
    AlertStatus.RESOLVED,
    Alert.resolved_at,
    Alert.resolved_by,
    AlertEventType.RESOLVED,
)
CLOSE = Transition(
    "closed",
    (AlertStatus.RESOLVED,),
    AlertStatus.CLOSED,
    Alert.closed_at,
    Alert.closed_by,
    AlertEventType.CLOSED,
)


async def get_alert(session: AsyncSession, *, workspace_id: int, alert_id: int) -> Alert:
    return await get_in_workspace(session, Alert, alert_id, workspace_id=workspace_id, what="alert")


async def apply(
    session: AsyncSession,
    transition: Transition,
    *,
    workspace_id: int,
    alert_id: int,
    actor: str,
    now: datetime,
) -> Alert:
    alert = await session.scalar(
        update(Alert)
        .where(
            Alert.id == alert_id,
            Alert.workspace_id == workspace_id,
            Alert.status.in_([status.value for status in transition.allowed_from]),
        )
        .values(
            {
                Alert.status: transition.to.value,
                transition.at_column: now,
                transition.by_column: actor,
            }
        )
        .returning(Alert)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    if alert is None:
        current = await get_alert(session, workspace_id=workspace_id, alert_id=alert_id)
        allowed = " or ".join(status.value for status in transition.allowed_from)
        raise Conflict(
            f"alert {alert_id} is {current.status}; only a {allowed} alert can be {transition.verb}"
        )
    await emit(session, [alert_event(alert, transition.event, now, actor=actor)])
    return alert


async def apply_where(
    session: AsyncSession,
    transition: Transition,
    *conditions: ColumnElement[bool],
    actor: str,
    now: datetime,
) -> list[Alert]:
    """The transition, set-based: one UPDATE moves every alert that meets
    ``conditions`` and may take it, and each leaves the event ``apply`` leaves.
    Alerts another writer moved first are left out, not refused."""
    moved = await session.scalars(
        update(Alert)
        .where(Alert.status.in_([status.value for status in transition.allowed_from]), *conditions)
        .values(
            {
                Alert.status: transition.to.value,
                transition.at_column: now,
                transition.by_column: actor,
            }
        )
        .returning(Alert)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    alerts = sorted(moved.all(), key=lambda alert: alert.id)
    await emit(
        session, [alert_event(alert, transition.event, now, actor=actor) for alert in alerts]
    )
    return alerts


class EscalationReason(StrEnum):
    ACK_TIMEOUT = "ACK_TIMEOUT"
    REPEAT_TRIGGER = "REPEAT_TRIGGER"
    SHIFT_HANDOVER = "SHIFT_HANDOVER"


async def record_escalation(
    session: AsyncSession,
    *,
    workspace_id: int,
    alert_id: int,
    reason: EscalationReason,
    now: datetime,
    step: int | None = None,
) -> Alert:
    """Note that an alert was escalated (the escalation scheduler calls this).

    The first escalation for want of an acknowledgement marks the alert as
    timeout-escalated, which the SLA overview counts.
    """
    alert = await get_alert(session, workspace_id=workspace_id, alert_id=alert_id)
    if reason is EscalationReason.ACK_TIMEOUT and alert.timeout_escalated_at is None:
        alert.timeout_escalated_at = now
        await session.flush()
    await emit(
        session,
        [alert_event(alert, AlertEventType.ESCALATED, now, reason=reason.value, step=step)],
    )
    return alert
