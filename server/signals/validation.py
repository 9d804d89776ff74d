"""Checks one signal sample; pure, so a batch reports every bad item at once."""

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from server.matchers import LABEL_NAME

MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_LABELS = 32
MAX_LABEL_VALUE = 256
# Used with fullmatch: "$" would also accept a trailing newline.
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_.:]{0,199}")
# Label names already found valid: a batch repeats a handful of names thousands of
# times. Bounded, as the names come from clients.
_VALID_LABEL_NAMES_KEPT = 10_000
_valid_label_names: set[str] = set()


class SampleLike(Protocol):
    """What validate_sample reads: a SampleInput, or the GraphQL input as it is."""

    @property
    def service(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def ts(self) -> datetime | None: ...
    @property
    def labels(self) -> Any: ...


@dataclass(frozen=True)
class SampleInput:
    service: str
    name: str
    value: float
    ts: datetime | None
    labels: Any


@dataclass(frozen=True)
class Sample:
    service: str
    name: str
    value: float
    ts: datetime
    labels: dict[str, str]


class SampleRejected(ValueError):
    pass


def validate_sample(item: SampleLike, *, now: datetime) -> Sample:
    if not _SERVICE.fullmatch(item.service):
        raise SampleRejected("service must be 1-100 characters of letters, digits and _.:/-")
    if not _NAME.fullmatch(item.name):
        raise SampleRejected("name must be a metric name: letters, digits, _ . and :")
    if not math.isfinite(item.value):
        raise SampleRejected("value must be a finite number")
    return Sample(
        service=item.service,
        name=item.name,
        value=item.value,
        ts=_validate_ts(item.ts, now=now),
        labels=validate_labels(item.labels),
    )


def _validate_ts(ts: datetime | None, *, now: datetime) -> datetime:
    if ts is None:
        return now
    if ts.tzinfo is None:
        raise SampleRejected("ts must carry a timezone offset, e.g. 2026-01-01T00:00:00Z")
    if ts - now > MAX_FUTURE_SKEW:
        raise SampleRejected("ts lies more than 5 minutes in the future")
    return ts


def validate_labels(labels: Any) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise SampleRejected("labels must be an object of label names to string values")
    if len(labels) > MAX_LABELS:
        raise SampleRejected(f"at most {MAX_LABELS} labels are allowed")
    clean: dict[str, str] = {}
    for key, value in labels.items():
        if key not in _valid_label_names:
            if not LABEL_NAME.fullmatch(key):
                raise SampleRejected(f"label name {key!r} is invalid")
            if len(_valid_label_names) < _VALID_LABEL_NAMES_KEPT:
                _valid_label_names.add(key)
        if type(value) is str:  # nearly always: skip the isinstance checks
            text = value
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SampleRejected(f"label {key!r} must have a string value")
        else:
            text = str(value)
        if len(text) > MAX_LABEL_VALUE:
            raise SampleRejected(f"label {key!r} is longer than {MAX_LABEL_VALUE} characters")
        clean[key] = text
    return clean
