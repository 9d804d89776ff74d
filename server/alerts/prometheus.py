"""Alerts from Prometheus and Alertmanager, raised and resolved like any other.

An alert's identity is its label set: its fingerprint is the one Alertmanager
computes (FNV-1a over the sorted labels), so Prometheus' re-sends of a firing
alert every evaluation interval, and Alertmanager's repeated notifications,
are repeats of one open alert (``raising.raise_alerts`` deduplicates them), and
one alert reaching opsgraph both ways is one alert. Severity and service come
from configurable labels; the summary from the ``summary`` annotation (else
``description``, else the ``alertname`` label). An alert that has ended (its
``endsAt`` has passed, or Alertmanager says "resolved") resolves the open alert
of its fingerprint, and is ignored when there is none: Prometheus re-sends
resolved alerts for a while. A firing alert keeps its annotations, generator
URL and ``endsAt``: one that stops coming is resolved once that passes
(``expiry``).
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import automation, drafts, raising
from server.alerts.drafts import AlertDraft, AlertSource, Severity
from server.alerts.prometheus_payloads import (
    AlertRejection,
    ParsedAlerts,
    PrometheusAlert,
    parse_postable_alerts,
    parse_webhook,
)
from server.core.errors import InvalidInput
from server.core.text import is_service_name

__all__ = [
    "AlertMapping",
    "IntakeOutcome",
    "ParsedAlerts",
    "PrometheusAlert",
    "Severity",
    "labelset_fingerprint",
    "parse_postable_alerts",
    "parse_webhook",
    "receive",
    "to_draft",
]

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_FINGERPRINT_HEX = frozenset("0123456789abcdef")

#: Label values (lower-cased) read as each severity; others get the default.
SEVERITY_NAMES: dict[str, Severity] = {
    **dict.fromkeys(("info", "informational", "none", "low", "debug"), Severity.INFO),
    **dict.fromkeys(("warning", "warn", "medium", "minor"), Severity.WARNING),
    **dict.fromkeys(("critical", "error", "high", "major"), Severity.CRITICAL),
    **dict.fromkeys(("page", "pager", "emergency", "fatal", "disaster"), Severity.PAGE),
}
SUMMARY_ANNOTATIONS = ("summary", "description", "message")


@dataclass(frozen=True)
class AlertMapping:
    """Which labels give an alert's service (first present wins) and severity."""

    service_labels: tuple[str, ...] = ("service", "job")
    default_service: str = "prometheus"
    severity_label: str = "severity"
    default_severity: Severity = Severity.WARNING


@dataclass(frozen=True)
class IntakeOutcome:
    firing: int
    resolved: int
    rejected: list[AlertRejection] = field(default_factory=list)

    def describe_rejections(self) -> str:
        return "; ".join(f"alert {r.index}: {r.reason}" for r in self.rejected[:5])


def labelset_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (Prometheus' ``model.LabelSet``).

    Remembered per label set: senders repeat the same alerts every evaluation,
    and FNV-1a in Python is a loop over every byte."""
    return _sorted_labelset_fingerprint(tuple(sorted(labels.items())))


@functools.lru_cache(maxsize=drafts.FINGERPRINT_CACHE_SIZE)
def _sorted_labelset_fingerprint(pairs: tuple[tuple[str, str], ...]) -> str:
    separator = b"\xff"
    encoded = b"".join(
        name.encode() + separator + value.encode() + separator for name, value in pairs
    )
    value = _FNV_OFFSET
    for byte in encoded:
        value = ((value ^ byte) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


@dataclass(frozen=True)
class _AlertInput:
    """What ``drafts.validate_draft`` reads."""

    service: str
    summary: str
    severity: Severity
    labels: dict[str, str]
    fingerprint: str | None
    source: AlertSource | None
    annotations: dict[str, str]
    generator_url: str | None
    ends_at: datetime | None


def to_draft(alert: PrometheusAlert, mapping: AlertMapping) -> AlertDraft:
    """The alert as opsgraph raises it; InvalidInput when its labels are not storable."""
    labels = alert.labels
    service = next(
        (labels[name] for name in mapping.service_labels if labels.get(name)),
        mapping.default_service,
    )
    if not is_service_name(service):
        service = mapping.default_service
    severity = SEVERITY_NAMES.get(
        labels.get(mapping.severity_label, "").lower(), mapping.default_severity
    )
    item = _AlertInput(
        service=service,
        summary=_summary(alert)[: drafts.MAX_SUMMARY],
        severity=severity,
        labels=labels,
        fingerprint=_fingerprint(alert),
        source=AlertSource.RULE,
        annotations=alert.annotations,
        generator_url=_generator_url(alert.generator_url),
        ends_at=alert.ends_at,
    )
    return drafts.validate_draft(item, field="alert")


def _generator_url(url: str | None) -> str | None:
    """The link if opsgraph can show it; a link it cannot is dropped, not the alert."""
    try:
        return drafts.validate_generator_url(url, field="alert.generatorURL")
    except InvalidInput:
        return None


def _summary(alert: PrometheusAlert) -> str:
    for name in SUMMARY_ANNOTATIONS:
        text = alert.annotations.get(name, "").strip()
        if text:
            return text
    return alert.labels.get("alertname", "").strip() or "Prometheus alert"


def _fingerprint(alert: PrometheusAlert) -> str:
    given = alert.fingerprint
    if given is not None and len(given) == 16 and set(given) <= _FINGERPRINT_HEX:
        return given
    return labelset_fingerprint(alert.labels)


async def receive(
    session: AsyncSession,
    *,
    workspace_id: int,
    parsed: ParsedAlerts,
    mapping: AlertMapping,
    actor: str,
    now: datetime,
) -> IntakeOutcome:
    """Raise the firing alerts and resolve the ended ones, in the caller's transaction.

    The last word on a fingerprint within one request wins; alerts whose labels
    cannot be stored are rejected alone."""
    rejected = list(parsed.rejected)
    latest: dict[str, tuple[AlertDraft, bool]] = {}
    for index, alert in parsed.alerts:
        try:
            draft = to_draft(alert, mapping)
        except InvalidInput as error:
            rejected.append(AlertRejection(index, error.message))
            continue
        latest[draft.fingerprint] = (draft, alert.resolved_at(now))
    firing = [draft for draft, ended in latest.values() if not ended]
    if firing:
        await raising.raise_alerts(session, workspace_id=workspace_id, drafts=firing, now=now)
    ended = [fingerprint for fingerprint, (_, done) in latest.items() if done]
    resolved = await automation.resolve_fingerprints(
        session, workspace_id=workspace_id, fingerprints=ended, actor=actor, now=now
    )
    return IntakeOutcome(
        firing=len(firing), resolved=len(resolved), rejected=sorted(rejected, key=lambda r: r.index)
    )
