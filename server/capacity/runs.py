"""Forecast runs: one policy on demand (the ``forecastCapacity`` task), every
policy on schedule (a periodic job, once per period across replicas).

A run goes in chunks of ``CHUNK`` policies: one transaction rolls their meters
up and reads their histories, the fits run in a worker thread (pure
computation, off the event loop), and a second transaction stores the
forecasts and raises or resolves their alerts. The periodic run reads the next
chunk while the previous one is fitted and stored.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from server.capacity import alerting, history
from server.capacity.forecast import Forecast, History, Limits, NotEnoughHistory, forecast
from server.capacity.models import CapacityForecast, CapacityPolicy
from server.core.clock import Clock
from server.core.db import Database
from server.core.errors import NotFound
from server.core.events.outbox import Outbox
from server.core.jobs import TaskHandler, TaskRun

logger = logging.getLogger(__name__)

TASK_KIND = "capacity_forecast"
CHUNK = 50
DAY_SECONDS = 86_400

Progress = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    policy: CapacityPolicy
    forecast: CapacityForecast | None
    problem: str | None = None


def _limits(policy: CapacityPolicy) -> Limits:
    return Limits(policy.capacity, policy.warning_ratio, policy.horizon_days * DAY_SECONDS)


def _fit_all(
    histories: list[tuple[CapacityPolicy, History]], now: float
) -> list[Forecast | NotEnoughHistory]:
    fitted: list[Forecast | NotEnoughHistory] = []
    for policy, meter_history in histories:
        try:
            fitted.append(forecast(meter_history, _limits(policy), now=now))
        except NotEnoughHistory as problem:
            fitted.append(problem)
    return fitted


def _moment(now: datetime, seconds: float | None) -> datetime | None:
    return None if seconds is None else now + timedelta(seconds=seconds)


def _row(policy: CapacityPolicy, fitted: Forecast, now: datetime) -> CapacityForecast:
    shift = fitted.level_shift_at
    return CapacityForecast(
        workspace_id=policy.workspace_id,
        policy_id=policy.id,
        meter_key=policy.meter_key,
        method=fitted.method,
        current_value=fitted.current_value,
        predicted_value=fitted.predicted_value,
        lower=fitted.lower,
        upper=fitted.upper,
        time_to_warning=_moment(now, fitted.seconds_to_warning),
        time_to_exhaustion=_moment(now, fitted.seconds_to_exhaustion),
        points=fitted.points,
        buckets=fitted.buckets,
        slope_per_day=fitted.slope_per_day,
        seasonality=list(fitted.seasonality),
        level_shift_at=None if shift is None else datetime.fromtimestamp(shift, UTC),
        capacity=policy.capacity,
        warning_ratio=policy.warning_ratio,
        horizon_days=policy.horizon_days,
        created_at=now,
    )


@dataclass(frozen=True)
class _Loaded:
    """A chunk of policies with their histories, read and ready to fit."""

    policies: list[CapacityPolicy]
    histories: dict[int, History]


async def _load(outbox: Outbox, policy_ids: list[int], now: datetime, days: int) -> _Loaded:
    async with outbox.transaction() as session:
        policies = list(
            (
                await session.scalars(
                    select(CapacityPolicy)
                    .where(CapacityPolicy.id.in_(policy_ids))
                    .order_by(CapacityPolicy.id)
                )
            ).all()
        )
        histories = await history.read_histories(session, policies=policies, now=now, days=days)
    return _Loaded(policies, histories)


async def _fit_and_store(outbox: Outbox, loaded: _Loaded, now: datetime) -> list[Outcome]:
    pairs = [(policy, loaded.histories[policy.id]) for policy in loaded.policies]
    fitted = await asyncio.to_thread(_fit_all, pairs, now.timestamp())
    outcomes = [
        Outcome(policy, _row(policy, result, now))
        if isinstance(result, Forecast)
        else Outcome(policy, None, str(result))
        for policy, result in zip(loaded.policies, fitted, strict=True)
    ]
    stored = [(o.policy, o.forecast) for o in outcomes if o.forecast is not None]
    async with outbox.transaction() as session:
        session.add_all([row for _policy, row in stored])
        await session.flush()
        await alerting.apply_alerts(session, forecasts=stored, now=now)
    return outcomes


async def forecast_policies(
    outbox: Outbox,
    *,
    policy_ids: list[int],
    now: datetime,
    history_days: int,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Forecast these policies at ``now``; a policy whose meter has too little
    history gets no forecast, and its outcome says why."""
    loaded = await _load(outbox, policy_ids, now, history_days)
    if progress is not None:
        await progress(0.5)
    return await _fit_and_store(outbox, loaded, now)


def forecast_task_handler(outbox: Outbox, clock: Clock, *, history_days: int) -> TaskHandler:
    """The ``forecastCapacity`` task: one policy's forecast, stored; its id in the result."""

    async def run(task: TaskRun) -> dict[str, Any]:
        policy_id = int(task.params["policyId"])
        outcomes = await forecast_policies(
            outbox,
            policy_ids=[policy_id],
            now=clock.now(),
            history_days=history_days,
            progress=task.progress,
        )
        if not outcomes:
            raise NotFound(f"capacity policy {policy_id} not found")
        outcome = outcomes[0]
        if outcome.forecast is None:
            raise NotEnoughHistory(outcome.problem or "no forecast")
        row = outcome.forecast
        return {
            "forecastId": str(row.id),
            "meterKey": row.meter_key,
            "method": row.method,
            "timeToWarning": row.time_to_warning.isoformat() if row.time_to_warning else None,
            "timeToExhaustion": (
                row.time_to_exhaustion.isoformat() if row.time_to_exhaustion else None
            ),
        }

    return run


async def _policy_ids_after(db: Database, after_id: int) -> list[int]:
    async with db.reader() as session:
        rows = await session.scalars(
            select(CapacityPolicy.id)
            .where(CapacityPolicy.id > after_id)
            .order_by(CapacityPolicy.id)
            .limit(CHUNK)
        )
        return list(rows.all())


async def _forecast_chunk(
    outbox: Outbox, loading: "asyncio.Task[_Loaded]", now: datetime, policy_ids: list[int]
) -> int:
    """How many of the chunk's policies got a forecast; a chunk that fails is logged."""
    try:
        outcomes = await _fit_and_store(outbox, await loading, now)
    except Exception:
        logger.exception(
            "capacity forecasts of policies %s..%s failed", policy_ids[0], policy_ids[-1]
        )
        return 0
    return sum(1 for outcome in outcomes if outcome.forecast is not None)


async def forecast_every_policy(
    db: Database, outbox: Outbox, *, clock: Clock, history_days: int
) -> int:
    """Forecast every policy of every workspace at now; how many got a forecast.
    A chunk that fails is logged and the run goes on with the next.

    The database reads the next chunk while this process fits the previous one
    (the fits hold the interpreter; the roll-ups keep the database busy)."""
    now, after_id, forecast_count = clock.now(), 0, 0
    started: list[asyncio.Task[Any]] = []
    previous: asyncio.Task[int] | None = None
    try:
        while policy_ids := await _policy_ids_after(db, after_id):
            loading = asyncio.create_task(_load(outbox, policy_ids, now, history_days))
            chunk = asyncio.create_task(_forecast_chunk(outbox, loading, now, policy_ids))
            started[:] = [loading, chunk] + ([previous] if previous else [])
            if previous is not None:
                forecast_count += await previous
            previous, after_id = chunk, policy_ids[-1]
        if previous is not None:
            forecast_count += await previous
    finally:
        for task in started:
            task.cancel()
    return forecast_count


async def prune(db: Database, *, now: datetime, history_days: int, retention: timedelta) -> None:
    """Delete forecasts older than the retention and roll-ups older than any history."""
    async with db.transaction() as session:
        await session.execute(
            delete(CapacityForecast).where(CapacityForecast.created_at < now - retention)
        )
        await history.prune(session, now=now, days=history_days)
