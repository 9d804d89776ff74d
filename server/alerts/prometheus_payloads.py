"""The JSON bodies Prometheus and Alertmanager send, read into ``PrometheusAlert``s.

Two shapes: the array Prometheus posts to an Alertmanager's ``/api/v2/alerts``
(``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``), and
the notification an Alertmanager webhook receiver gets (payload version "4":
``status`` and ``alerts[]``, each with its own ``status`` and ``fingerprint``).
A body of the wrong shape is refused whole; an alert of the wrong shape is
refused alone, like Alertmanager does, and the others are taken.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.core.errors import InvalidInput

WEBHOOK_VERSION = "4"


@dataclass(frozen=True)
class PrometheusAlert:
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str | None = None
    #: The webhook's ``status``: True for "resolved", False for "firing"; None
    #: where the sender says nothing (Prometheus: ``endsAt`` tells).
    resolved: bool | None = None
    fingerprint: str | None = None

    def resolved_at(self, now: datetime) -> bool:
        """Whether the alert has ended: so its sender says, or ``endsAt`` has passed."""
        if self.resolved is not None:
            return self.resolved
        return self.ends_at is not None and self.ends_at <= now


@dataclass(frozen=True)
class AlertRejection:
    index: int
    reason: str


@dataclass(frozen=True)
class ParsedAlerts:
    alerts: list[tuple[int, PrometheusAlert]]
    rejected: list[AlertRejection]


class AlertShapeError(ValueError):
    pass


def parse_postable_alerts(data: object, *, max_alerts: int) -> ParsedAlerts:
    """``POST /api/v2/alerts``: a JSON array of alerts."""
    if not isinstance(data, list):
        raise InvalidInput("the body must be a JSON array of alerts")
    return _parse_each(data, max_alerts=max_alerts, webhook=False)


def parse_webhook(data: object, *, max_alerts: int) -> ParsedAlerts:
    """An Alertmanager webhook notification, payload version 4."""
    if not isinstance(data, dict):
        raise InvalidInput("the body must be an Alertmanager webhook notification (an object)")
    version = data.get("version")
    if version != WEBHOOK_VERSION:
        raise InvalidInput(f'webhook payload version {version!r} is not supported (only "4")')
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidInput("the notification's alerts must be an array")
    return _parse_each(alerts, max_alerts=max_alerts, webhook=True)


def _parse_each(items: list[Any], *, max_alerts: int, webhook: bool) -> ParsedAlerts:
    if len(items) > max_alerts:
        raise InvalidInput(f"a request holds at most {max_alerts} alerts")
    parsed: list[tuple[int, PrometheusAlert]] = []
    rejected: list[AlertRejection] = []
    for index, item in enumerate(items):
        try:
            parsed.append((index, _alert(item, webhook=webhook)))
        except AlertShapeError as error:
            rejected.append(AlertRejection(index, str(error)))
    return ParsedAlerts(parsed, rejected)


def _alert(item: object, *, webhook: bool) -> PrometheusAlert:
    if not isinstance(item, dict):
        raise AlertShapeError("an alert must be an object")
    labels = _strings(item.get("labels"), "labels")
    if not labels:
        raise AlertShapeError("an alert needs at least one label")
    return PrometheusAlert(
        labels=labels,
        annotations=_strings(item.get("annotations") or {}, "annotations"),
        starts_at=_time(item.get("startsAt"), "startsAt"),
        ends_at=_time(item.get("endsAt"), "endsAt"),
        generator_url=_optional_text(item.get("generatorURL"), "generatorURL"),
        resolved=_status(item.get("status")) if webhook else None,
        fingerprint=_optional_text(item.get("fingerprint"), "fingerprint") if webhook else None,
    )


def _strings(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(text, str) for key, text in value.items()
    ):
        raise AlertShapeError(f"{what} must be an object of string values")
    return value


def _optional_text(value: object, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AlertShapeError(f"{what} must be a string")
    return value


def _time(value: object, what: str) -> datetime | None:
    """An RFC 3339 time; Go's zero time (``0001-01-01T00:00:00Z``) means unset."""
    text = _optional_text(value, what)
    if text is None or text.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise AlertShapeError(f"{what} must be an RFC 3339 date-time") from error
    if parsed.utcoffset() is None:
        raise AlertShapeError(f"{what} must carry a timezone offset")
    return parsed


def _status(value: object) -> bool:
    if value not in ("firing", "resolved"):
        raise AlertShapeError('status must be "firing" or "resolved"')
    return value == "resolved"
