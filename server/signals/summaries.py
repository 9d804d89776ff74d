"""Per-series summaries of the samples, kept as the samples are stored.

The overview shows, per service, how many samples it has, how many series
names and when it was last seen. Counting the samples for that would read the
whole samples table of the workspace on every dashboard load; instead each
batch adds what it stored to one row per (service, name) in the same
transaction as the samples, and the overview reads those rows. A batch that
rolls back takes its additions with it.

Rows are upserted in key order, so that concurrent writers of the same series
lock their rows in one order and cannot deadlock.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.signals.models import SeriesSummary
from server.signals.validation import Sample


@dataclass
class _Seen:
    count: int
    first: datetime
    last: datetime


class SeriesTally:
    """The samples of one or more batches per (service, name): count, oldest, newest."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], _Seen] = {}

    def counting(self, samples: Iterator[Sample]) -> Iterator[Sample]:
        """``samples``, unchanged, each counted as it passes."""
        series = self._series
        for sample in samples:
            key = (sample.service, sample.name)
            seen = series.get(key)
            if seen is None:
                series[key] = _Seen(1, sample.ts, sample.ts)
            else:  # comparisons rather than min()/max(): this runs for every sample
                seen.count += 1
                if sample.ts < seen.first:
                    seen.first = sample.ts
                elif sample.ts > seen.last:
                    seen.last = sample.ts
            yield sample

    def rows(self, workspace_id: int) -> list[dict[str, Any]]:
        """One row per series, in key order."""
        return [
            {
                "workspace_id": workspace_id,
                "service": service,
                "name": name,
                "sample_count": seen.count,
                "first_seen_at": seen.first,
                "last_seen_at": seen.last,
            }
            for (service, name), seen in sorted(self._series.items())
        ]


async def record(session: AsyncSession, *, workspace_id: int, tally: SeriesTally) -> None:
    """Add the tallied samples to the workspace's series summaries."""
    rows = tally.rows(workspace_id)
    if not rows:
        return
    postgresql = (await session.connection()).dialect.name == "postgresql"
    insert = postgresql_insert if postgresql else sqlite_insert
    earliest = func.least if postgresql else func.min
    latest = func.greatest if postgresql else func.max
    statement = insert(SeriesSummary)
    new = statement.excluded
    upsert = statement.on_conflict_do_update(
        index_elements=[SeriesSummary.workspace_id, SeriesSummary.service, SeriesSummary.name],
        set_={
            "sample_count": SeriesSummary.sample_count + new.sample_count,
            "first_seen_at": earliest(SeriesSummary.first_seen_at, new.first_seen_at),
            "last_seen_at": latest(SeriesSummary.last_seen_at, new.last_seen_at),
        },
    )
    await session.execute(upsert, rows)


@dataclass(frozen=True)
class ServiceSummary:
    service: str
    signal_count: int
    series_names: int
    last_seen_at: datetime | None


async def service_summaries(session: AsyncSession, *, workspace_id: int) -> list[ServiceSummary]:
    """Per service of the workspace, by name: samples, series names, newest sample time."""
    rows = await session.execute(
        select(
            SeriesSummary.service,
            func.sum(SeriesSummary.sample_count),
            func.count(),
            func.max(SeriesSummary.last_seen_at),
        )
        .where(SeriesSummary.workspace_id == workspace_id)
        .group_by(SeriesSummary.service)
        .order_by(SeriesSummary.service)
    )
    return [
        ServiceSummary(
            service=service,
            signal_count=int(count),
            series_names=names,
            last_seen_at=last_seen,
        )
        for service, count, names, last_seen in rows.all()
    ]
