"""What the escalation domain reads and records of alerts: its named entry point.

It reads the firing alerts (open, not yet acknowledged) as a subquery to join
its own tables to, set-based, with the facts escalation decides on; and it
records escalations: each appends ``alert.escalated``, and the first for want
of an acknowledgement marks the alert as timeout-escalated for the SLA overview.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from server.alerts.drafts import AlertStatus
from server.alerts.events import AlertEventType, alert_event, alert_payload, emit
from server.alerts.lifecycle import EscalationReason as EscalationReason
from server.alerts.lifecycle import record_escalation as record_escalation
from server.alerts.models import Alert
from server.core.matchers import Matcher

__all__ = [
    "Escalation",
    "EscalationReason",
    "firing_alerts",
    "matches",
    "payloads",
    "record_escalation",
    "record_escalations",
]


def firing_alerts() -> Subquery:
    """The FIRING alerts, one row each: ``id``, ``workspace_id``, ``service``,
    ``severity``, ``labels``, ``occurrence_count``, ``first_fired_at`` and ``quiet``
    (silenced, inhibited or noise-suppressed: such an alert is never escalated)."""
    query = select(
        Alert.id,
        Alert.workspace_id,
        Alert.service,
        Alert.severity,
        Alert.labels,
        Alert.occurrence_count,
        Alert.first_fired_at,
        (Alert.silenced | Alert.inhibited | Alert.noise_suppressed).label("quiet"),
    ).where(Alert.status == AlertStatus.FIRING.value)
    return query.subquery("firing_alerts")


def matches(alerts: Subquery, matchers: Sequence[Matcher]) -> ColumnElement[bool]:
    """Whether an alert of ``firing_alerts()`` meets all ``matchers``, in SQL: on its
    labels, where the label names ``service`` and ``severity`` mean its own columns."""
    columns = {"service": alerts.c.service, "severity": alerts.c.severity}
    return and_(true(), *(matcher.to_sql(alerts.c.labels, columns) for matcher in matchers))


async def payloads(session: AsyncSession, *, alert_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The alert event payload of each alert (``alertId``, ``fingerprint``, ``service``, ...)."""
    if not alert_ids:
        return {}
    rows = await session.scalars(select(Alert).where(Alert.id.in_(sorted(set(alert_ids)))))
    return {alert.id: alert_payload(alert) for alert in rows.all()}


@dataclass(frozen=True)
class Escalation:
    alert_id: int
    reason: EscalationReason
    step: int | None
    details: Mapping[str, Any] = field(default_factory=dict)


async def record_escalations(
    session: AsyncSession, *, escalations: Sequence[Escalation], now: datetime
) -> None:
    """``record_escalation`` for many at once: one UPDATE marks the alerts first
    escalated for want of an acknowledgement, one statement appends every
    ``alert.escalated`` event, in the order given."""
    if not escalations:
        return
    timed_out = sorted(
        {e.alert_id for e in escalations if e.reason is EscalationReason.ACK_TIMEOUT}
    )
    if timed_out:
        await session.execute(
            update(Alert)
            .where(Alert.id.in_(timed_out), Alert.timeout_escalated_at.is_(None))
            .values(timeout_escalated_at=now)
            .execution_options(synchronize_session=False)
        )
    rows = await session.scalars(
        select(Alert)
        .where(Alert.id.in_(sorted({e.alert_id for e in escalations})))
        .execution_options(populate_existing=True)
    )
    alerts = {alert.id: alert for alert in rows.all()}
    await emit(
        session,
        [
            alert_event(
                alerts[e.alert_id],
                AlertEventType.ESCALATED,
                now,
                reason=e.reason.value,
                step=e.step,
                **e.details,
            )
            for e in escalations
            if e.alert_id in alerts
        ],
    )
