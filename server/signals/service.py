"""The signals domain's front door: ingestion, listing, series and per-service overview.

The schema calls only this module; ``validation`` checks samples and ``series``
computes buckets in the database. Every query is scoped to the caller's
workspace. Services flush and never commit: the caller's transaction does.
"""

import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import Clock, require_offset
from server.core.db import copy_rows
from server.core.errors import InvalidInput
from server.core.matchers import Matcher, check_patterns_in_database, validate_matchers
from server.core.pagination import Listing
from server.core.text import refuse_nul
from server.signals import series, summaries
from server.signals.models import Signal
from server.signals.series import Aggregate, SeriesPoint, SeriesRequest
from server.signals.summaries import SeriesTally, ServiceSummary
from server.signals.validation import Sample, SampleLike, SampleRejected, validate_sample

__all__ = [
    "Aggregate",
    "IngestOutcome",
    "Rejection",
    "SeriesPoint",
    "SeriesRequest",
    "SeriesTally",
    "ServiceSummary",
    "Signal",
    "SignalFilter",
    "ingest",
    "list_signals",
    "record_series_summaries",
    "service_summaries",
    "signal_series",
]

COPY_COLUMNS = ("workspace_id", "service", "name", "value", "labels", "ts")


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str


@dataclass(frozen=True)
class IngestOutcome:
    accepted: int
    rejected: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class SignalFilter:
    service: str | None = None
    name: str | None = None
    matchers: list[Matcher] = field(default_factory=list)
    from_: datetime | None = None
    to: datetime | None = None


async def ingest(
    session: AsyncSession,
    *,
    workspace_id: int,
    items: Sequence[SampleLike],
    clock: Clock,
    max_batch: int,
    tally: SeriesTally | None = None,
) -> IngestOutcome:
    """Store the valid samples of a batch in the caller's transaction; report the rest.

    On PostgreSQL the samples stream into COPY as they are validated, so the
    database takes in the first rows while the last are still being checked.

    The series summaries take the stored samples in the same transaction. A
    caller that stores several batches in one transaction passes one ``tally``
    to each and records it once, after the last (``record_series_summaries``),
    so that its transaction locks summary rows in key order like every other.
    """
    if len(items) > max_batch:
        raise InvalidInput(f"a batch holds at most {max_batch} signals", field="signals")
    now = clock.now()
    rejected: list[Rejection] = []

    def valid_samples() -> Iterator[Sample]:
        for index, item in enumerate(items):
            try:
                yield validate_sample(item, now=now)
            except SampleRejected as error:
                rejected.append(Rejection(index=index, reason=str(error)))

    batch_tally = SeriesTally() if tally is None else tally
    await _store(session, workspace_id=workspace_id, samples=batch_tally.counting(valid_samples()))
    if tally is None:
        await record_series_summaries(session, workspace_id=workspace_id, tally=batch_tally)
    # The samples are consumed: every item is now accepted or rejected.
    return IngestOutcome(accepted=len(items) - len(rejected), rejected=rejected)


async def record_series_summaries(
    session: AsyncSession, *, workspace_id: int, tally: SeriesTally
) -> None:
    """Add the samples ``tally`` counted to the workspace's series summaries."""
    await summaries.record(session, workspace_id=workspace_id, tally=tally)


async def _store(session: AsyncSession, *, workspace_id: int, samples: Iterator[Sample]) -> None:
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        records = _copy_records(workspace_id, samples)
        await copy_rows(session, Signal.__tablename__, COPY_COLUMNS, records)
        return
    rows = [
        {
            "workspace_id": workspace_id,
            "service": s.service,
            "name": s.name,
            "value": s.value,
            "labels": s.labels,
            "ts": s.ts,
        }
        for s in samples
    ]
    if rows:
        await session.execute(insert(Signal), rows)


def _copy_records(workspace_id: int, samples: Iterator[Sample]) -> Iterator[tuple[object, ...]]:
    # A batch repeats a few label sets many times; json.dumps costs 2.5 µs each.
    encoded: dict[tuple[tuple[str, str], ...], str] = {}
    for s in samples:
        key = tuple(s.labels.items())
        labels = encoded.get(key)
        if labels is None:
            labels = encoded[key] = json.dumps(s.labels)
        yield (workspace_id, s.service, s.name, s.value, labels, s.ts)


@functools.cache
def _signals_query(*, service: bool, name: bool, from_: bool, to: bool) -> Select[Signal]:
    """The samples of a workspace, filtered on the columns named; one kept query
    per shape, its values bound by name."""
    query = select(Signal).where(Signal.workspace_id == bindparam("workspace_id"))
    if service:
        query = query.where(Signal.service == bindparam("service"))
    if name:
        query = query.where(Signal.name == bindparam("name"))
    if from_:
        query = query.where(Signal.ts >= bindparam("from_"))
    if to:
        query = query.where(Signal.ts < bindparam("to"))
    return query


def _signals_listing(*, workspace_id: int, filter_: SignalFilter) -> Listing[Signal]:
    require_offset(filter_.from_, field="filter.from")
    require_offset(filter_.to, field="filter.to")
    refuse_nul(filter_.service, field="filter.service")
    refuse_nul(filter_.name, field="filter.name")
    values = {
        "service": filter_.service,
        "name": filter_.name,
        "from_": filter_.from_,
        "to": filter_.to,
    }
    params = {key: value for key, value in values.items() if value is not None}
    query = _signals_query(**{key: key in params for key in values})
    for matcher in validate_matchers(filter_.matchers, field="filter.labels"):
        query = query.where(matcher.to_sql(Signal.labels))
    return Listing(query, [Signal.ts, Signal.id], params | {"workspace_id": workspace_id})


async def list_signals(
    session: AsyncSession, *, workspace_id: int, filter_: SignalFilter
) -> Listing[Signal]:
    """The workspace's samples matching the filter, newest first."""
    listing = _signals_listing(workspace_id=workspace_id, filter_=filter_)
    await check_patterns_in_database(session, filter_.matchers, field="filter.labels")
    return listing


async def signal_series(
    session: AsyncSession, *, workspace_id: int, request: SeriesRequest
) -> list[SeriesPoint]:
    return await series.compute_series(session, workspace_id=workspace_id, request=request)


async def service_summaries(session: AsyncSession, *, workspace_id: int) -> list[ServiceSummary]:
    """Per service: samples, series names and newest sample time, from the series
    summaries (one row per series), never from the samples themselves."""
    return await summaries.service_summaries(session, workspace_id=workspace_id)
