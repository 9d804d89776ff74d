"""Prometheus remote-write: time series become signal samples.

A series' ``__name__`` is the signal's name; the first of the configured
service labels that the series carries (``service``, then ``job``, by
default) is its service, and that label leaves the sample's labels; every
other label stays. A series with none of them gets the default service.

The samples go through the very path ``ingestSignals`` takes
(``service.ingest``), in the caller's one transaction, so they are checked by
the same rules. What those rules refuse is rejected per series: the rest of
the request is stored, and the caller answers that some series were refused.
Non-finite values are dropped on purpose, not rejected: Prometheus' staleness
marker (a NaN with the payload ``0x7ff0000000000002``) says that a series
ended, other NaNs are a quantile or ratio with no data, and infinities have no
JSON form for the API to answer with. Samples are counted in
``opsgraph_remote_write_samples_total`` by outcome.
"""

import logging
import math
import struct
from collections import Counter as Counter_
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import metrics
from server.core.clock import Clock
from server.signals import service
from server.signals.validation import SampleInput

logger = logging.getLogger("opsgraph.remote_write")

METRIC_NAME_LABEL = "__name__"
STALE_NAN_BITS = 0x7FF0000000000002
#: At most this many rejected series are described in an answer and a log line.
DESCRIBED_REJECTIONS = 5

samples_received = Counter(
    "opsgraph_remote_write_samples_total",
    "Remote-write samples by outcome: stored, rejected (with their series), or dropped"
    " (dropped_stale: staleness markers, dropped_nan, dropped_infinite).",
    ["outcome"],
    registry=metrics.registry,
)
series_rejected = Counter(
    "opsgraph_remote_write_rejected_series_total",
    "Remote-write series refused, by reason.",
    ["reason"],
    registry=metrics.registry,
)


class RemoteLabel(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...


class RemoteSample(Protocol):
    @property
    def value(self) -> float: ...
    @property
    def timestamp(self) -> int:
        """Milliseconds since the Unix epoch."""


class RemoteSeries(Protocol):
    @property
    def labels(self) -> Sequence[RemoteLabel]: ...
    @property
    def samples(self) -> Sequence[RemoteSample]: ...
    @property
    def histograms(self) -> Sequence[object]: ...


@dataclass(frozen=True)
class SeriesMapping:
    """Which labels name a series' service, in order of preference, and the
    service of a series that has none of them."""

    service_labels: tuple[str, ...] = ("service", "job")
    default_service: str = "prometheus"


@dataclass(frozen=True)
class SeriesRejection:
    series: str
    reason: str


@dataclass(frozen=True)
class RemoteWriteOutcome:
    stored: int
    dropped: int
    rejected_samples: int
    rejected: list[SeriesRejection] = field(default_factory=list)

    def describe_rejections(self) -> str:
        shown = "; ".join(f"{r.series}: {r.reason}" for r in self.rejected[:DESCRIBED_REJECTIONS])
        more = len(self.rejected) - DESCRIBED_REJECTIONS
        return shown + (f"; and {more} more series" if more > 0 else "")


def is_stale_marker(value: float) -> bool:
    """Whether ``value`` is Prometheus' staleness marker, a NaN of its own payload."""
    return math.isnan(value) and _bits(value) == STALE_NAN_BITS


def _bits(value: float) -> int:
    (bits,) = struct.unpack("<Q", struct.pack("<d", value))
    return int(bits)


def series_name(labels: Sequence[RemoteLabel]) -> str:
    """``name{label="value",...}`` as Prometheus writes a series."""
    name = ""
    rest = []
    for label in labels:
        if label.name == METRIC_NAME_LABEL:
            name = label.value
        else:
            rest.append(f'{label.name}="{label.value}"')
    return f"{name}{{{','.join(rest)}}}"


class DropReason(StrEnum):
    STALE = "stale"
    NAN = "nan"
    INFINITE = "infinite"


class RejectReason(StrEnum):
    """Bounded reasons for the rejected-series counter (the log line says more)."""

    NO_NAME = "no_metric_name"
    HISTOGRAM = "native_histogram"
    INVALID = "invalid_sample"


@dataclass
class _Batch:
    """The samples of a request as ``ingest`` takes them, and the series of each."""

    items: list[SampleInput] = field(default_factory=list)
    series_of_item: list[int] = field(default_factory=list)
    dropped: Counter_[DropReason] = field(default_factory=Counter_)
    refused: dict[int, tuple[RejectReason, str]] = field(default_factory=dict)
    rejected_samples: int = 0

    def refuse(self, index: int, reason: RejectReason, text: str, samples: int) -> None:
        self.refused.setdefault(index, (reason, text))
        self.rejected_samples += samples


def drop_reason(value: float) -> DropReason | None:
    """Why a sample value is not stored, or None for a finite value."""
    if math.isfinite(value):
        return None
    if math.isnan(value):
        return DropReason.STALE if is_stale_marker(value) else DropReason.NAN
    return DropReason.INFINITE


def _map_series(batch: _Batch, index: int, series: RemoteSeries, mapping: SeriesMapping) -> None:
    labels = {label.name: label.value for label in series.labels}
    name = labels.pop(METRIC_NAME_LABEL, "")
    samples = series.samples
    if not name:
        batch.refuse(index, RejectReason.NO_NAME, "the series has no __name__ label", len(samples))
        return
    if len(series.histograms):
        text = "native histograms are not stored as signals"
        batch.refuse(index, RejectReason.HISTOGRAM, text, len(series.histograms))
    service_name = mapping.default_service
    for label in mapping.service_labels:
        if labels.get(label):
            service_name = labels.pop(label)
            break
    for sample in samples:
        value = sample.value
        reason = drop_reason(value)
        if reason is not None:
            batch.dropped[reason] += 1
            continue
        try:
            ts = datetime.fromtimestamp(sample.timestamp / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            text = f"timestamp {sample.timestamp} ms is out of range"
            batch.refuse(index, RejectReason.INVALID, text, 1)
            continue
        batch.items.append(SampleInput(service_name, name, value, ts, labels))
        batch.series_of_item.append(index)


async def ingest_series(
    session: AsyncSession,
    *,
    workspace_id: int,
    series: Sequence[RemoteSeries],
    mapping: SeriesMapping,
    clock: Clock,
    max_batch: int,
) -> RemoteWriteOutcome:
    """Store the samples of a remote-write request in the caller's transaction,
    in chunks of at most ``max_batch`` (one transaction all the same), and add
    them to the series summaries once, after the last chunk."""
    batch = _Batch()
    for index, one in enumerate(series):
        _map_series(batch, index, one, mapping)
    stored = 0
    tally = service.SeriesTally()
    for start in range(0, len(batch.items), max_batch):
        chunk = batch.items[start : start + max_batch]
        outcome = await service.ingest(
            session,
            workspace_id=workspace_id,
            items=chunk,
            clock=clock,
            max_batch=max_batch,
            tally=tally,
        )
        stored += outcome.accepted
        for rejection in outcome.rejected:
            index = batch.series_of_item[start + rejection.index]
            batch.refuse(index, RejectReason.INVALID, rejection.reason, 1)
    await service.record_series_summaries(session, workspace_id=workspace_id, tally=tally)
    result = RemoteWriteOutcome(
        stored=stored,
        dropped=sum(batch.dropped.values()),
        rejected_samples=batch.rejected_samples,
        rejected=[
            SeriesRejection(series_name(series[index].labels), text)
            for index, (_, text) in sorted(batch.refused.items())
        ],
    )
    _count(batch, result)
    return result


def _count(batch: _Batch, outcome: RemoteWriteOutcome) -> None:
    metrics.child(samples_received, "stored").inc(outcome.stored)
    metrics.child(samples_received, "rejected").inc(outcome.rejected_samples)
    for dropped, count in batch.dropped.items():
        metrics.child(samples_received, f"dropped_{dropped}").inc(count)
    for refused, _ in batch.refused.values():
        metrics.child(series_rejected, refused.value).inc()
    if outcome.rejected:
        logger.warning(
            "remote write: %d series refused (%d samples): %s",
            len(outcome.rejected),
            outcome.rejected_samples,
            outcome.describe_rejections(),
            extra={"rejected_series": len(outcome.rejected)},
        )
