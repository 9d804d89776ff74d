"""The alert events of the ``alertEvents`` stream and of each alert's timeline."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.models import Alert
from server.events import service as events
from server.events.service import Stream


class AlertEventType(StrEnum):
    FIRED = "alert.fired"
    DEDUPLICATED = "alert.deduplicated"
    ACKNOWLEDGED = "alert.acknowledged"
    RESOLVED = "alert.resolved"
    CLOSED = "alert.closed"
    SUPPRESSED = "alert.suppressed"
    UNSUPPRESSED = "alert.unsuppressed"
    NOISE_SUPPRESSED = "alert.noise_suppressed"
    ESCALATED = "alert.escalated"
    NOTIFIED = "alert.notified"


def alert_payload(alert: Alert) -> dict[str, Any]:
    return {
        "alertId": str(alert.id),
        "fingerprint": alert.fingerprint,
        "service": alert.service,
        "severity": alert.severity,
        "status": alert.status,
        "source": alert.source,
        "summary": alert.summary,
        "labels": alert.labels,
        "occurrenceCount": alert.occurrence_count,
        "silenced": alert.silenced,
        "noiseSuppressed": alert.noise_suppressed,
    }


def alert_event(
    alert: Alert, type_: AlertEventType, now: datetime, **details: Any
) -> dict[str, Any]:
    """The column values of one alert event, for ``emit``."""
    return {
        "workspace_id": alert.workspace_id,
        "stream": Stream.ALERT.value,
        "type": type_.value,
        "subject_id": alert.id,
        "service": alert.service,
        "severity": alert.severity,
        "payload": {**alert_payload(alert), **details},
        "occurred_at": now,
    }


async def emit(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await events.append_many(session, rows)
