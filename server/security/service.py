"""The security domain's front door: inspections, each run by the job runner as a
task that stores a run and its items; runs are listed newest first per workspace."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import Clock
from server.core.db import find_in_workspace
from server.core.errors import NotFound
from server.core.pagination import Listing
from server.core.tasks import service as task_service
from server.core.tasks.models import Task
from server.security.checks import InspectionItem, ItemStatus
from server.security.models import SecurityInspectionItem, SecurityInspectionRun

__all__ = [
    "KIND",
    "ItemStatus",
    "SecurityInspectionItem",
    "SecurityInspectionRun",
    "find_run",
    "get_inspection",
    "items_of_runs",
    "list_runs",
    "record_run",
    "run_of_task",
    "start_inspection",
]

KIND = "security_inspection"


async def start_inspection(
    session: AsyncSession, *, workspace_id: int, created_by_key_id: int | None, clock: Clock
) -> Task:
    """Queue an inspection of the workspace; the caller wakes the runner after the commit."""
    return await task_service.enqueue(
        session,
        workspace_id=workspace_id,
        kind=KIND,
        params={},
        created_by_key_id=created_by_key_id,
        clock=clock,
    )


async def get_inspection(session: AsyncSession, *, workspace_id: int, task_id: int) -> Task:
    """The inspection's task; any other task, or one of another workspace, is not found."""
    task = await task_service.get_task(session, workspace_id=workspace_id, task_id=task_id)
    if task.kind != KIND:
        raise NotFound(f"security inspection {task_id} not found")
    return task


async def record_run(
    session: AsyncSession,
    *,
    workspace_id: int,
    task_id: int | None,
    started_at: datetime,
    finished_at: datetime,
    items: Sequence[InspectionItem],
) -> tuple[SecurityInspectionRun, list[SecurityInspectionItem]]:
    statuses = [item.status for item in items]
    run = SecurityInspectionRun(
        workspace_id=workspace_id,
        task_id=task_id,
        started_at=started_at,
        finished_at=finished_at,
        pass_count=statuses.count(ItemStatus.PASS),
        warn_count=statuses.count(ItemStatus.WARN),
        fail_count=statuses.count(ItemStatus.FAIL),
    )
    session.add(run)
    await session.flush()
    rows = [
        SecurityInspectionItem(
            workspace_id=workspace_id,
            run_id=run.id,
            position=position,
            check=item.check,
            status=item.status.value,
            detail=item.detail,
            remediation=item.remediation,
        )
        for position, item in enumerate(items)
    ]
    session.add_all(rows)
    await session.flush()
    return run, rows


async def run_of_task(session: AsyncSession, *, task_id: int) -> SecurityInspectionRun | None:
    return await session.scalar(
        select(SecurityInspectionRun).where(SecurityInspectionRun.task_id == task_id)
    )


def list_runs(*, workspace_id: int) -> Listing[SecurityInspectionRun]:
    return Listing(
        select(SecurityInspectionRun).where(SecurityInspectionRun.workspace_id == workspace_id),
        order=[SecurityInspectionRun.id],
    )


async def find_run(
    session: AsyncSession, *, workspace_id: int, run_id: int
) -> SecurityInspectionRun | None:
    return await find_in_workspace(
        session, SecurityInspectionRun, run_id, workspace_id=workspace_id
    )


async def items_of_runs(
    session: AsyncSession, *, workspace_id: int, run_ids: Sequence[int]
) -> list[list[SecurityInspectionItem]]:
    """Each run's items in the order its checks ran; none for a run of another workspace."""
    rows = await session.scalars(
        select(SecurityInspectionItem)
        .where(
            SecurityInspectionItem.workspace_id == workspace_id,
            SecurityInspectionItem.run_id.in_(set(run_ids)),
        )
        .order_by(SecurityInspectionItem.run_id, SecurityInspectionItem.position)
    )
    found: dict[int, list[SecurityInspectionItem]] = {run_id: [] for run_id in run_ids}
    for row in rows:
        found[row.run_id].append(row)
    return [found[run_id] for run_id in run_ids]
