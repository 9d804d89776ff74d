"""The security domain's front door: inspections, each run by the job runner as a task."""

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.clock import Clock
from server.core.errors import NotFound
from server.core.tasks import service as task_service
from server.core.tasks.models import Task
from server.security.inspection import KIND

__all__ = ["KIND", "get_inspection", "start_inspection"]


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
    """The inspection's task, its items in ``result`` once it succeeded; any other
    task, or one of another workspace, is not found."""
    task = await task_service.get_task(session, workspace_id=workspace_id, task_id=task_id)
    if task.kind != KIND:
        raise NotFound(f"security inspection {task_id} not found")
    return task
