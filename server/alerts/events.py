"""The alert events of the ``alertEvents`` stream and of each alert's timeline."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.models import Alert
from server.core.events import service as events
from server.core.events.service import Stream


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
    INHIBITED = "alert.inhibited"
    UNINHIBITED = "alert.uninhibited"
    NEEDS_POSTMORTEM = "alert.needs_postmortem"
    NOTIFIED = "alert.notified"


#: An alert event's payload: each key and the ``Alert`` column it shows.
PAYLOAD_COLUMNS = {
    "alertId": "id",
    "fingerprint": "fingerprint",
    "service": "service",
    "severity": "severity",
    "status": "status",
    "source": "source",
    "summary": "summary",
    "labels": "labels",
    "occurrenceCount": "occurrence_count",
    "silenced": "silenced",
    "noiseSuppressed": "noise_suppressed",
    "inhibited": "inhibited",
    "needsPostmortem": "needs_postmortem",
}


def alert_payload(alert: Alert) -> dict[str, Any]:
    payload = {key: getattr(alert, column) for key, column in PAYLOAD_COLUMNS.items()}
    payload["alertId"] = str(alert.id)
    return payload


def alert_payload_sql(row: str) -> str:
    """The same payload built by PostgreSQL from ``row``, a row of ``alerts``."""
    values = (
        f"'{key}', CAST({row}.{column} AS text)" if key == "alertId" else f"'{key}', {row}.{column}"
        for key, column in PAYLOAD_COLUMNS.items()
    )
    return f"jsonb_build_object({', '.join(values)})"


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
