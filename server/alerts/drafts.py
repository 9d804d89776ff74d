"""Checking what a source raises: an alert draft, valid or refused as a whole batch."""

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from server.core.clock import require_offset
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
MAX_ANNOTATIONS = 64
MAX_ANNOTATION_NAME = 200
MAX_ANNOTATION_VALUE = 10_000
MAX_GENERATOR_URL = 2048
#: Label sets whose default fingerprints are remembered (the most recently used).
FINGERPRINT_CACHE_SIZE = 4096
#: Fingerprints of alerts opsgraph raises itself (``slo:<policy>:<pair>``,
#: ``capacity:<policy>``), by who raises them: a client's raise of one would
#: deduplicate into, and take over, that alert.
RESERVED_PREFIXES = {"slo:": "SLO evaluator", "capacity:": "capacity forecasts"}
_FINGERPRINT = re.compile(r"[\x21-\x7e]{1,128}")
_GENERATOR_URL = re.compile(r"https?://[^\s/?#]", re.IGNORECASE)


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

    # Optional, read when present: ``annotations`` (an object of strings),
    # ``generator_url`` (str | None) and ``ends_at`` (datetime | None).


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
    annotations: dict[str, str] = field(default_factory=dict)
    generator_url: str | None = None
    #: When the alert ends unless raised again; None: when someone resolves it.
    ends_at: datetime | None = None

    @property
    def match_labels(self) -> dict[str, str]:
        """What matchers see: the labels, and ``service`` for the alert's service."""
        return {**self.labels, "service": self.service}


def default_fingerprint(service: str, labels: dict[str, str]) -> str:
    """A stable hash of the service and the sorted labels; remembered per label
    set, as sources raise the same alerts again and again."""
    return _fingerprint_of(service, tuple(sorted(labels.items())))


@functools.lru_cache(maxsize=FINGERPRINT_CACHE_SIZE)
def _fingerprint_of(service: str, labels: tuple[tuple[str, str], ...]) -> str:
    canonical = json.dumps([service, labels], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def validate_draft(item: AlertInputLike, *, field: str, now: datetime | None = None) -> AlertDraft:
    """The item as a draft; given ``now`` (a client's raise), its end must lie ahead."""
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
    if item.source == AlertSource.SLO:
        raise InvalidInput(
            "source SLO is reserved for opsgraph's SLO evaluator", field=f"{field}.source"
        )
    for prefix, owner in RESERVED_PREFIXES.items():
        if (fingerprint or "").startswith(prefix):
            raise InvalidInput(
                f"fingerprints starting with {prefix!r} are reserved for opsgraph's {owner}",
                field=f"{field}.fingerprint",
            )
    if fingerprint is None:
        fingerprint = default_fingerprint(item.service, labels)
    elif not _FINGERPRINT.fullmatch(fingerprint):
        raise InvalidInput(
            "fingerprint must be 1-128 printable ASCII characters without spaces",
            field=f"{field}.fingerprint",
        )
    draft = AlertDraft(
        service=item.service,
        summary=summary,
        severity=Severity(item.severity),
        source=AlertSource(item.source) if item.source else AlertSource.EXTERNAL,
        labels=labels,
        fingerprint=fingerprint,
        annotations=validate_annotations(
            getattr(item, "annotations", None), field=f"{field}.annotations"
        ),
        generator_url=validate_generator_url(
            getattr(item, "generator_url", None), field=f"{field}.generatorUrl"
        ),
        ends_at=getattr(item, "ends_at", None),
    )
    require_offset(draft.ends_at, field=f"{field}.endsAt")
    if now is not None:
        refuse_past_end(draft, now=now, field=f"{field}.endsAt")
    return draft


def validate_annotations(annotations: Any, *, field: str) -> dict[str, str]:
    """Free text keyed by name: a summary, a description, a runbook link."""
    if annotations is None:
        return {}
    if not isinstance(annotations, dict) or not all(
        isinstance(value, str) for value in annotations.values()
    ):
        raise InvalidInput("annotations must be an object of string values", field=field)
    if len(annotations) > MAX_ANNOTATIONS:
        raise InvalidInput(f"at most {MAX_ANNOTATIONS} annotations are allowed", field=field)
    for name, value in annotations.items():
        if not 0 < len(name) <= MAX_ANNOTATION_NAME or len(value) > MAX_ANNOTATION_VALUE:
            raise InvalidInput(
                f"annotation names are 1-{MAX_ANNOTATION_NAME} characters and values at most "
                f"{MAX_ANNOTATION_VALUE}",
                field=field,
            )
        if "\x00" in name or "\x00" in value:  # PostgreSQL cannot store U+0000 in jsonb
            raise InvalidInput(f"annotation {name!r} contains a NUL character", field=field)
    return dict(annotations)


def validate_generator_url(url: str | None, *, field: str) -> str | None:
    """An http(s) link without spaces or control characters, as dashboards render
    it (never a ``javascript:`` one)."""
    if url is None or url == "":
        return None
    if (
        len(url) > MAX_GENERATOR_URL
        or not _GENERATOR_URL.match(url)
        or any(ord(character) <= 0x20 or character == "\x7f" for character in url)
    ):
        raise InvalidInput(
            f"generatorUrl must be an http or https URL of at most {MAX_GENERATOR_URL} characters",
            field=field,
        )
    return url


def refuse_past_end(draft: AlertDraft, *, now: datetime, field: str) -> None:
    """A client's raise that says it has already ended would open a resolved alert."""
    if draft.ends_at is not None and draft.ends_at <= now:
        raise InvalidInput("endsAt must be in the future", field=field)


def validate_drafts(
    items: list[Any], *, max_batch: int, field: str, now: datetime | None = None
) -> list[AlertDraft]:
    """Every item checked; the first bad one refuses the batch (nothing is stored)."""
    if not items:
        raise InvalidInput("give at least one alert", field=field)
    if len(items) > max_batch:
        raise InvalidInput(f"a batch holds at most {max_batch} alerts", field=field)
    return [
        validate_draft(item, field=f"{field}[{index}]", now=now) for index, item in enumerate(items)
    ]
