"""Tasks: long operations started by a mutation that returns at once."""

from datetime import datetime
from typing import ClassVar

import strawberry
from strawberry.scalars import JSON

from schema import rendering
from schema.audited import audited_mutation
from schema.context import Info
from schema.ids import parse_id, to_id
from schema.pagination import Connection, connection
from schema.permissions import CanRead
from schema.rendering import RenderedField, RenderedNode, enum_of
from server.core.auth import Permission
from server.core.tasks import service as task_service

TaskStatus = strawberry.enum(task_service.TaskStatus, name="TaskStatus")


@strawberry.type(name="Task")
class TaskType:
    rendered: ClassVar[RenderedNode]

    id: strawberry.ID
    kind: str
    status: TaskStatus  # type: ignore[valid-type]
    progress: float
    result: JSON | None
    error: str | None
    attempts: int
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_model(cls, row: task_service.Task) -> "TaskType":
        return cls(
            id=to_id(row.id),
            kind=row.kind,
            status=task_service.TaskStatus(row.status),
            progress=row.progress,
            result=JSON(row.result) if row.result is not None else None,
            error=row.error,
            attempts=row.attempts,
            cancel_requested=row.cancel_requested,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )


TaskType.rendered = RenderedNode(
    "Task",
    {
        "id": RenderedField(task_service.Task.id, rendering.ID),
        "kind": RenderedField(task_service.Task.kind),
        "status": RenderedField(task_service.Task.status, enum_of(task_service.TaskStatus)),
        "progress": RenderedField(task_service.Task.progress, rendering.FLOAT),
        "result": RenderedField(task_service.Task.result),
        "error": RenderedField(task_service.Task.error),
        "attempts": RenderedField(task_service.Task.attempts, rendering.INT),
        "cancelRequested": RenderedField(task_service.Task.cancel_requested),
        "createdAt": RenderedField(task_service.Task.created_at, rendering.DATE_TIME),
        "startedAt": RenderedField(task_service.Task.started_at, rendering.DATE_TIME),
        "finishedAt": RenderedField(task_service.Task.finished_at, rendering.DATE_TIME),
    },
)


@strawberry.type
class TaskQuery:
    @strawberry.field(permission_classes=[CanRead])
    async def task(self, info: Info, id: strawberry.ID) -> TaskType | None:
        context = info.context
        async with context.session() as session:
            row = await task_service.find_task(
                session, workspace_id=context.principal.workspace_id, task_id=parse_id(id)
            )
        return TaskType.from_model(row) if row else None

    @strawberry.field(permission_classes=[CanRead])
    async def tasks(
        self,
        info: Info,
        status: TaskStatus | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[TaskType]:
        listing = task_service.list_tasks(
            workspace_id=info.context.principal.workspace_id, status=status
        )
        return await connection(
            info, listing, TaskType.from_model, first=first, after=after, rendered=TaskType.rendered
        )


def started_task(info: Info, task: task_service.Task) -> TaskType:
    """A queued task as the mutation answers it; the runner wakes once it is committed."""
    info.context.after_commit(info.context.services.runner.wake)
    return TaskType.from_model(task)


async def start_task(info: Info, kind: str) -> TaskType:
    context = info.context
    async with context.session() as session:
        task = await task_service.enqueue(
            session,
            workspace_id=context.principal.workspace_id,
            kind=kind,
            params={},
            created_by_key_id=context.principal.key_id,
            clock=context.services.clock,
        )
    return started_task(info, task)


@strawberry.type
class TaskMutation:
    @audited_mutation(
        Permission.OBSERVABILITY_WRITE, description="Cancel a queued or running task."
    )
    async def cancel_task(self, info: Info, id: strawberry.ID) -> TaskType:
        context = info.context
        async with context.session() as session:
            task = await task_service.cancel(
                session,
                workspace_id=context.principal.workspace_id,
                task_id=parse_id(id),
                clock=context.services.clock,
            )
        return TaskType.from_model(task)
