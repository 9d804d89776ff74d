"""The tasks front door: the job runner's queue, kept in core as every domain starts
tasks. Lifecycle: enqueue, claim with a lease, report progress, finish, cancel.

Every status change and progress step appends a task event in the same
transaction. Updates by a worker are conditional on still holding the lease,
so a worker whose lease was taken over can no longer change the task.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import Clock
from server.core.db import find_in_workspace, get_in_workspace
from server.core.errors import Conflict
from server.core.events import service as events
from server.core.events.service import Stream
from server.core.pagination import Listing
from server.core.tasks.models import Task

__all__ = [
    "FINISHED",
    "Task",
    "TaskEventType",
    "TaskStatus",
    "cancel",
    "claim_next",
    "enqueue",
    "find_task",
    "finish",
    "get_task",
    "list_tasks",
    "renew_lease",
    "report_progress",
    "task_payload",
]


class TaskStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


FINISHED = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class TaskEventType(StrEnum):
    QUEUED = "task.queued"
    STARTED = "task.started"
    TAKEN_OVER = "task.taken_over"
    PROGRESS = "task.progress"
    CANCEL_REQUESTED = "task.cancel_requested"
    SUCCEEDED = "task.succeeded"
    FAILED = "task.failed"
    CANCELLED = "task.cancelled"


_FINISHED_EVENT = {
    TaskStatus.SUCCEEDED: TaskEventType.SUCCEEDED,
    TaskStatus.FAILED: TaskEventType.FAILED,
    TaskStatus.CANCELLED: TaskEventType.CANCELLED,
}


def task_payload(task: Task) -> dict[str, Any]:
    return {
        "taskId": str(task.id),
        "kind": task.kind,
        "status": task.status,
        "progress": task.progress,
        "attempts": task.attempts,
        "result": task.result,
        "error": task.error,
    }


def _emit(session: AsyncSession, task: Task, type_: TaskEventType, now: datetime) -> None:
    events.append(
        session,
        workspace_id=task.workspace_id,
        stream=Stream.TASK,
        type=type_.value,
        subject_id=task.id,
        payload=task_payload(task),
        occurred_at=now,
    )


async def enqueue(
    session: AsyncSession,
    *,
    workspace_id: int,
    kind: str,
    params: dict[str, Any],
    created_by_key_id: int | None,
    clock: Clock,
) -> Task:
    now = clock.now()
    task = Task(
        workspace_id=workspace_id,
        kind=kind,
        status=TaskStatus.QUEUED.value,
        params=params,
        progress=0.0,
        attempts=0,
        cancel_requested=False,
        created_by_key_id=created_by_key_id,
        created_at=now,
    )
    session.add(task)
    await session.flush()
    _emit(session, task, TaskEventType.QUEUED, now)
    return task


async def get_task(session: AsyncSession, *, workspace_id: int, task_id: int) -> Task:
    return await get_in_workspace(session, Task, task_id, workspace_id=workspace_id, what="task")


async def find_task(session: AsyncSession, *, workspace_id: int, task_id: int) -> Task | None:
    """The task, or None when it does not exist or belongs to another workspace."""
    return await find_in_workspace(session, Task, task_id, workspace_id=workspace_id)


def list_tasks(*, workspace_id: int, status: TaskStatus | None = None) -> Listing[Task]:
    query = select(Task).where(Task.workspace_id == workspace_id)
    if status is not None:
        query = query.where(Task.status == status.value)
    return Listing(query, order=[Task.id])


async def cancel(session: AsyncSession, *, workspace_id: int, task_id: int, clock: Clock) -> Task:
    task = await get_task(session, workspace_id=workspace_id, task_id=task_id)
    if TaskStatus(task.status) in FINISHED:
        raise Conflict(f"task {task_id} is {task.status} already")
    now = clock.now()
    if task.status == TaskStatus.QUEUED:
        task.status = TaskStatus.CANCELLED.value
        task.finished_at = now
        _emit(session, task, TaskEventType.CANCELLED, now)
    elif not task.cancel_requested:
        task.cancel_requested = True
        _emit(session, task, TaskEventType.CANCEL_REQUESTED, now)
    await session.flush()
    return task


async def claim_next(
    session: AsyncSession, *, owner: str, lease: timedelta, clock: Clock, kinds: frozenset[str]
) -> Task | None:
    """Take the oldest queued task, or a running one whose lease expired."""
    now = clock.now()
    query = (
        select(Task)
        .where(
            Task.kind.in_(kinds),
            or_(
                Task.status == TaskStatus.QUEUED.value,
                (Task.status == TaskStatus.RUNNING.value) & (Task.lease_expires_at < now),
            ),
        )
        .order_by(Task.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    task = await session.scalar(query)
    if task is None:
        return None
    taken_over = task.status == TaskStatus.RUNNING.value
    task.status = TaskStatus.RUNNING.value
    task.lease_owner = owner
    task.lease_expires_at = now + lease
    task.attempts += 1
    task.started_at = task.started_at or now
    await session.flush()
    _emit(session, task, TaskEventType.TAKEN_OVER if taken_over else TaskEventType.STARTED, now)
    return task


async def _owned(session: AsyncSession, task_id: int, owner: str) -> Task | None:
    return await session.scalar(
        select(Task)
        .where(
            Task.id == task_id,
            Task.lease_owner == owner,
            Task.status == TaskStatus.RUNNING.value,
        )
        .with_for_update()
    )


async def report_progress(
    session: AsyncSession,
    *,
    task_id: int,
    owner: str,
    progress: float,
    lease: timedelta,
    clock: Clock,
) -> Task | None:
    """Record progress and renew the lease; None if the lease was lost."""
    task = await _owned(session, task_id, owner)
    if task is None:
        return None
    now = clock.now()
    task.lease_expires_at = now + lease
    if progress != task.progress:
        task.progress = min(max(progress, 0.0), 1.0)
        _emit(session, task, TaskEventType.PROGRESS, now)
    await session.flush()
    return task


async def renew_lease(
    session: AsyncSession, *, task_id: int, owner: str, lease: timedelta, clock: Clock
) -> bool:
    renewed = await session.execute(
        update(Task)
        .where(
            Task.id == task_id,
            Task.lease_owner == owner,
            Task.status == TaskStatus.RUNNING.value,
        )
        .values(lease_expires_at=clock.now() + lease)
    )
    return bool(renewed.rowcount)  # type: ignore[attr-defined]


async def finish(
    session: AsyncSession,
    *,
    task_id: int,
    owner: str,
    status: TaskStatus,
    clock: Clock,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> Task | None:
    """Record the outcome once; None if another worker holds the task now."""
    task = await _owned(session, task_id, owner)
    if task is None:
        return None
    now = clock.now()
    task.status = status.value
    task.finished_at = now
    task.lease_owner = None
    task.lease_expires_at = None
    if status is TaskStatus.SUCCEEDED:
        task.progress = 1.0
        task.result = result
    task.error = error
    await session.flush()
    _emit(session, task, _FINISHED_EVENT[status], now)
    return task
