"""Checks one signal sample; pure, so a batch reports every bad item at once."""

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from server.core.labels import InvalidLabels, validate_labels
from server.core.text import SERVICE_RULE, RememberingPattern, is_service_name

MAX_FUTURE_SKEW = timedelta(minutes=5)
# Used with fullmatch: "$" would also accept a trailing newline.
_NAME = RememberingPattern(re.compile(r"[A-Za-z_:][A-Za-z0-9_.:]{0,199}"))
TS_RULE = "ts must be an RFC 3339 date-time with a timezone offset, e.g. 2026-01-01T00:00:00Z"


class SampleLike(Protocol):
    """What validate_sample reads: a SampleInput, or the GraphQL input as it is."""

    @property
    def service(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def ts(self) -> object:
        """A datetime, None for the server's time, or the client's value when it was
        no date-time: a bad ``ts`` rejects its own item, never the whole batch."""

    @property
    def labels(self) -> Any: ...


@dataclass(frozen=True)
class SampleInput:
    service: str
    name: str
    value: float
    ts: object
    labels: Any


class Sample(NamedTuple):  # a tuple: built 10,000 times a batch, 3x cheaper than a dataclass
    service: str
    name: str
    value: float
    ts: datetime
    labels: dict[str, str]


class SampleRejected(ValueError):
    pass


def validate_sample(item: SampleLike, *, now: datetime) -> Sample:
    if not is_service_name(item.service):
        raise SampleRejected(SERVICE_RULE)
    if not _NAME.fullmatch(item.name):
        raise SampleRejected("name must be a metric name: letters, digits, _ . and :")
    if not math.isfinite(item.value):
        raise SampleRejected("value must be a finite number")
    return Sample(
        item.service,
        item.name,
        item.value,
        _validate_ts(item.ts, now=now),
        _validate_labels(item.labels),
    )


def _validate_ts(ts: object, *, now: datetime) -> datetime:
    if ts is None:
        return now
    if not isinstance(ts, datetime):
        raise SampleRejected(TS_RULE)
    if ts.utcoffset() is None:
        raise SampleRejected("ts must carry a timezone offset, e.g. 2026-01-01T00:00:00Z")
    if ts - now > MAX_FUTURE_SKEW:
        raise SampleRejected("ts lies more than 5 minutes in the future")
    return ts


def _validate_labels(labels: Any) -> dict[str, str]:
    try:
        return validate_labels(labels)
    except InvalidLabels as error:
        raise SampleRejected(str(error)) from error
