"""Checking what a source raises: an alert draft, valid or refused as a whole batch."""

import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from server.core.errors import InvalidInput
from server.core.labels import InvalidLabels, validate_labels
from server.core.text import require_service_name


class Severity(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    PAGE = "PAGE"


class AlertSource(StrEnum):
    SLO = "SLO"
    RULE = "RULE"
    EXTERNAL = "EXTERNAL"


class AlertStatus(StrEnum):
    FIRING = "FIRING"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


MAX_SUMMARY = 1000
#: Fingerprints of alerts opsgraph raises itself (``slo:<policy>:<pair>``).
RESERVED_PREFIX = "slo:"
_FINGERPRINT = re.compile(r"[\x21-\x7e]{1,128}")


class AlertInputLike(Protocol):
    @property
    def service(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def labels(self) -> Any: ...
    @property
    def fingerprint(self) -> str | None: ...
    @property
    def source(self) -> AlertSource | None: ...


@dataclass(frozen=True, slots=True)
class AlertDraft:
    service: str
    summary: str
    severity: Severity
    source: AlertSource
    labels: dict[str, str]
    fingerprint: str
    #: Stored, not notified: a more urgent alert of the same source fires.
    inhibited: bool = False

    @property
    def match_labels(self) -> dict[str, str]:
        """What matchers see: the labels, and ``service`` for the alert's service."""
        return {**self.labels, "service": self.service}


def default_fingerprint(service: str, labels: dict[str, str]) -> str:
    """A stable hash of the service and the sorted labels."""
    canonical = json.dumps([service, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def validate_draft(item: AlertInputLike, *, field: str) -> AlertDraft:
    require_service_name(item.service, field=f"{field}.service")
    summary = item.summary.strip()
    if not summary or len(summary) > MAX_SUMMARY or "\x00" in summary:
        raise InvalidInput(
            f"summary must be 1-{MAX_SUMMARY} characters, without NUL", field=f"{field}.summary"
        )
    try:
        labels = validate_labels(item.labels)
    except InvalidLabels as error:
        raise InvalidInput(str(error), field=f"{field}.labels") from error
    fingerprint = item.fingerprint
    if item.source == AlertSource.SLO or (fingerprint or "").startswith(RESERVED_PREFIX):
        # Only the SLO evaluator raises these: a client's raise would take over an
        # SLO's alert (the fingerprint deduplicates).
        raise InvalidInput(
            f"source SLO and fingerprints starting with {RESERVED_PREFIX!r} are reserved "
            "for opsgraph's SLO evaluator",
            field=f"{field}.source" if item.source == AlertSource.SLO else f"{field}.fingerprint",
        )
    if fingerprint is None:
        fingerprint = default_fingerprint(item.service, labels)
    elif not _FINGERPRINT.fullmatch(fingerprint):
        raise InvalidInput(
            "fingerprint must be 1-128 printable ASCII characters without spaces",
            field=f"{field}.fingerprint",
        )
    return AlertDraft(
        service=item.service,
        summary=summary,
        severity=Severity(item.severity),
        source=AlertSource(item.source) if item.source else AlertSource.EXTERNAL,
        labels=labels,
        fingerprint=fingerprint,
    )


def validate_drafts(items: list[Any], *, max_batch: int, field: str) -> list[AlertDraft]:
    """Every item checked; the first bad one refuses the batch (nothing is stored)."""
    if not items:
        raise InvalidInput("give at least one alert", field=field)
    if len(items) > max_batch:
        raise InvalidInput(f"a batch holds at most {max_batch} alerts", field=field)
    return [validate_draft(item, field=f"{field}[{index}]") for index, item in enumerate(items)]
