"""The SLO sweep: every policy evaluated at now, each minute (a periodic job) or
on demand (the ``startSloSweep`` task, for one workspace); and old rows pruned.

Policies go in chunks of ``CHUNK``, one transaction each, in id order. A
policy locked by an evaluation under way elsewhere (``evaluateSlo``) is
skipped (``SKIP LOCKED``): it is being evaluated at this moment anyway.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import Clock
from server.core.db import Database
from server.core.events.outbox import Outbox
from server.core.jobs import TaskHandler, TaskRun
from server.slo import service
from server.slo.models import SloEvaluation, SloPolicy, SloRollup
from server.slo.policies import MAX_WINDOW_DAYS
from server.slo.windows import hour_index

logger = logging.getLogger(__name__)

CHUNK = 100
#: Roll-ups are kept for the longest window, and a day more.
ROLLUP_RETENTION = timedelta(days=MAX_WINDOW_DAYS + 1)


async def _claim_chunk(
    session: AsyncSession, *, after_id: int, workspace_id: int | None, limit: int
) -> list[SloPolicy]:
    query = (
        select(SloPolicy)
        .where(SloPolicy.id > after_id)
        .order_by(SloPolicy.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if workspace_id is not None:
        query = query.where(SloPolicy.workspace_id == workspace_id)
    return list((await session.scalars(query)).all())


async def _evaluate_one_by_one(outbox: Outbox, policy_ids: list[int], *, at: datetime) -> int:
    """After a chunk failed: each of its policies alone, so one cannot stop the others."""
    evaluated = 0
    for policy_id in policy_ids:
        try:
            async with outbox.transaction() as session:
                policies = await _claim_chunk(
                    session, after_id=policy_id - 1, workspace_id=None, limit=1
                )
                if policies and policies[0].id == policy_id:
                    await service.evaluate_locked(session, policies, at=at, now=at)
                    evaluated += 1
        except Exception:
            logger.exception("could not evaluate SLO policy %s", policy_id)
    return evaluated


Progress = Callable[[int], Awaitable[None]]


async def sweep(
    outbox: Outbox,
    *,
    clock: Clock,
    workspace_id: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Evaluate every policy (of one workspace, or of all) at now; how many were.
    ``progress`` hears the running count after each chunk."""
    at = clock.now()
    evaluated, after_id = 0, 0
    while True:
        chunk_ids: list[int] = []
        try:
            async with outbox.transaction() as session:
                chunk = await _claim_chunk(
                    session, after_id=after_id, workspace_id=workspace_id, limit=CHUNK
                )
                chunk_ids = [policy.id for policy in chunk]
                if not chunk:
                    return evaluated
                evaluations = await service.evaluate_locked(session, chunk, at=at, now=at)
            evaluated += len(evaluations)
        except Exception:
            if not chunk_ids:
                raise
            logger.exception("SLO sweep chunk failed; evaluating its policies one by one")
            evaluated += await _evaluate_one_by_one(outbox, chunk_ids, at=at)
        after_id = chunk_ids[-1]
        if progress is not None:
            await progress(evaluated)


def sweep_task_handler(outbox: Outbox, clock: Clock) -> TaskHandler:
    """The ``startSloSweep`` task: a sweep of the task's workspace, on demand."""

    async def run(task: TaskRun) -> dict[str, Any]:
        async with outbox.transaction() as session:
            total = await session.scalar(
                select(func.count()).where(SloPolicy.workspace_id == task.workspace_id)
            )

        async def report(evaluated: int) -> None:
            await task.progress(min(evaluated / total, 1.0) if total else 1.0)

        evaluated = await sweep(
            outbox, clock=clock, workspace_id=task.workspace_id, progress=report
        )
        return {"evaluated": evaluated, "policies": int(total or 0)}

    return run


async def prune(db: Database, *, now: datetime, evaluations_older_than: datetime) -> int:
    """Delete evaluations older than the retention and roll-ups no window reads."""
    async with db.transaction() as session:
        deleted = await session.execute(
            delete(SloEvaluation).where(SloEvaluation.evaluated_at < evaluations_older_than)
        )
        await session.execute(
            delete(SloRollup).where(SloRollup.hour < hour_index(now - ROLLUP_RETENTION))
        )
    return int(deleted.rowcount)  # type: ignore[attr-defined]
