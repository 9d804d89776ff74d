"""Security inspections: started as tasks, stored as runs with one item per check."""

from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader

from schema.audited import audited_mutation
from schema.context import Context, Info
from schema.ids import parse_id, to_id
from schema.pagination import Connection, connection
from schema.permissions import IsAdmin
from schema.tasks import TaskType, started_task
from server.core.auth import Permission
from server.security import service as security

InspectionStatus = strawberry.enum(security.ItemStatus, name="InspectionStatus")


@strawberry.type(name="InspectionItem")
class InspectionItemType:
    check: str = strawberry.field(description='A stable name, e.g. "bootstrap_key_active".')
    status: InspectionStatus  # type: ignore[valid-type]
    detail: str = strawberry.field(description="What the check found.")
    remediation: str = strawberry.field(description="What to do about it.")

    @classmethod
    def from_model(cls, row: security.SecurityInspectionItem) -> "InspectionItemType":
        return cls(
            check=row.check,
            status=security.ItemStatus(row.status),
            detail=row.detail,
            remediation=row.remediation,
        )


async def _load_items(
    context: Context, run_ids: list[int]
) -> list[list[security.SecurityInspectionItem]]:
    async with context.session() as session:
        return await security.items_of_runs(
            session, workspace_id=context.principal.workspace_id, run_ids=run_ids
        )


@strawberry.type(name="SecurityInspectionRun")
class SecurityInspectionRunType:
    id: strawberry.ID
    task_id: strawberry.ID | None = strawberry.field(
        description="The task that ran it (null once that task is gone)."
    )
    started_at: datetime
    finished_at: datetime
    pass_count: int
    warn_count: int
    fail_count: int

    @strawberry.field(description="One per check, in the order the checks ran.")
    async def items(self, info: Info) -> list[InspectionItemType]:
        context = info.context
        loader: DataLoader[int, list[security.SecurityInspectionItem]] = context.loader(
            "security_inspection_items", lambda ids: _load_items(context, ids)
        )
        return [InspectionItemType.from_model(row) for row in await loader.load(int(self.id))]

    @classmethod
    def from_model(cls, row: security.SecurityInspectionRun) -> "SecurityInspectionRunType":
        return cls(
            id=to_id(row.id),
            task_id=to_id(row.task_id) if row.task_id is not None else None,
            started_at=row.started_at,
            finished_at=row.finished_at,
            pass_count=row.pass_count,
            warn_count=row.warn_count,
            fail_count=row.fail_count,
        )


@strawberry.type
class SecurityQuery:
    @strawberry.field(permission_classes=[IsAdmin], description="Newest first.")
    async def security_inspection_runs(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[SecurityInspectionRunType]:
        listing = security.list_runs(workspace_id=info.context.principal.workspace_id)
        return await connection(
            info, listing, SecurityInspectionRunType.from_model, first=first, after=after
        )

    @strawberry.field(permission_classes=[IsAdmin])
    async def security_inspection_run(
        self, info: Info, id: strawberry.ID
    ) -> SecurityInspectionRunType | None:
        context = info.context
        async with context.session() as session:
            row = await security.find_run(
                session, workspace_id=context.principal.workspace_id, run_id=parse_id(id)
            )
        return SecurityInspectionRunType.from_model(row) if row else None


@strawberry.type
class SecurityMutation:
    @audited_mutation(
        Permission.ADMIN,
        description="Inspect the workspace's keys and webhook routes, the deployment's "
        "settings and its backups; the task stores a SecurityInspectionRun.",
    )
    async def start_security_inspection(self, info: Info) -> TaskType:
        context = info.context
        async with context.session() as session:
            task = await security.start_inspection(
                session,
                workspace_id=context.principal.workspace_id,
                created_by_key_id=context.principal.key_id,
                clock=context.services.clock,
            )
        return started_task(info, task)
