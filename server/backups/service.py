"""The backups front door: start backups and drills (each a task), list them.

Backups are of the whole deployment (a dump holds every workspace), so runs and
drills are instance-wide: every admin sees the same ones. The tasks that make
them belong to the workspace of the admin who asked.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.backups.models import BackupRun, BackupStatus, DrillStatus, RestoreDrill, Trigger
from server.core.clock import Clock
from server.core.errors import InvalidInput, NotFound
from server.core.pagination import Listing
from server.core.tasks import service as task_service
from server.core.tasks.models import Task

__all__ = [
    "BACKUP_KIND",
    "DRILL_KIND",
    "BackupRun",
    "BackupStatus",
    "DrillStatus",
    "RestoreDrill",
    "Trigger",
    "backup_runs_by_id",
    "last_backup_started_at",
    "last_drill_started_at",
    "list_backup_runs",
    "list_restore_drills",
    "newest_restorable_run_id",
    "start_backup_run",
    "start_restore_drill",
]

BACKUP_KIND = "backup_run"
DRILL_KIND = "restore_drill"


async def start_backup_run(
    session: AsyncSession, *, workspace_id: int, created_by_key_id: int | None, clock: Clock
) -> Task:
    """Queue a backup; the caller wakes the runner after the commit."""
    return await task_service.enqueue(
        session,
        workspace_id=workspace_id,
        kind=BACKUP_KIND,
        params={},
        created_by_key_id=created_by_key_id,
        clock=clock,
    )


async def start_restore_drill(
    session: AsyncSession,
    *,
    workspace_id: int,
    backup_run_id: int,
    created_by_key_id: int | None,
    clock: Clock,
) -> Task:
    """Queue a drill of a SUCCEEDED backup run; NOT_FOUND for an unknown run, bad
    input for one without a dump (running, failed or expired)."""
    run = await session.get(BackupRun, backup_run_id)
    if run is None:
        raise NotFound(f"backup run {backup_run_id} not found", field="backupRunId")
    if run.status != BackupStatus.SUCCEEDED.value:
        raise InvalidInput(
            f"backup run {backup_run_id} is {run.status}: only a SUCCEEDED run can be restored",
            field="backupRunId",
        )
    return await task_service.enqueue(
        session,
        workspace_id=workspace_id,
        kind=DRILL_KIND,
        params={"backup_run_id": backup_run_id},
        created_by_key_id=created_by_key_id,
        clock=clock,
    )


def list_backup_runs(*, status: BackupStatus | None = None) -> Listing[BackupRun]:
    query = select(BackupRun)
    if status is not None:
        query = query.where(BackupRun.status == status.value)
    return Listing(query, order=[BackupRun.id])


def list_restore_drills(*, backup_run_id: int | None = None) -> Listing[RestoreDrill]:
    query = select(RestoreDrill)
    if backup_run_id is not None:
        query = query.where(RestoreDrill.backup_run_id == backup_run_id)
    return Listing(query, order=[RestoreDrill.id])


async def backup_runs_by_id(
    session: AsyncSession, run_ids: Sequence[int]
) -> list[BackupRun | None]:
    found = {
        run.id: run
        for run in (
            await session.scalars(select(BackupRun).where(BackupRun.id.in_(set(run_ids))))
        ).all()
    }
    return [found.get(run_id) for run_id in run_ids]


async def last_backup_started_at(session: AsyncSession) -> datetime | None:
    """When the newest backup run, of any outcome, began."""
    return await session.scalar(select(func.max(BackupRun.created_at)))


async def last_drill_started_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.max(RestoreDrill.created_at)))


async def newest_restorable_run_id(session: AsyncSession) -> int | None:
    return await session.scalar(
        select(func.max(BackupRun.id)).where(BackupRun.status == BackupStatus.SUCCEEDED.value)
    )
