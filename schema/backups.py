"""Backups of the deployment and restore drills (admin only)."""

from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from schema.audited import audited_mutation
from schema.context import Context, Info
from schema.ids import parse_id, to_id
from schema.pagination import Connection, connection
from schema.permissions import IsAdmin
from schema.tasks import TaskType
from server.backups import service as backups
from server.core.auth import Permission

BackupStatus = strawberry.enum(
    backups.BackupStatus,
    name="BackupStatus",
    description="EXPIRED: past the retention, its file deleted.",
)
DrillStatus = strawberry.enum(backups.DrillStatus, name="DrillStatus")
BackupTrigger = strawberry.enum(backups.Trigger, name="BackupTrigger")


@strawberry.type(name="BackupRun", description="A dump of the whole deployment's database.")
class BackupRunType:
    id: strawberry.ID
    status: BackupStatus  # type: ignore[valid-type]
    trigger: BackupTrigger  # type: ignore[valid-type]
    database_kind: str = strawberry.field(description="`postgresql` or `sqlite`.")
    file_name: str | None
    size_bytes: float | None = strawberry.field(description="Exact up to 2^53 bytes.")
    sha256: str | None
    alembic_revision: str | None
    row_counts: JSON | None = strawberry.field(
        description="Rows per table in the dump, as its manifest records them."
    )
    tool: str | None
    reason: str | None = strawberry.field(description="Why a FAILED run failed.")
    duration_seconds: float | None
    created_at: datetime
    finished_at: datetime | None
    expired_at: datetime | None

    @classmethod
    def from_model(cls, row: backups.BackupRun) -> "BackupRunType":
        return cls(
            id=to_id(row.id),
            status=backups.BackupStatus(row.status),
            trigger=backups.Trigger(row.trigger),
            database_kind=row.database_kind,
            file_name=row.file_name,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            alembic_revision=row.alembic_revision,
            row_counts=JSON(row.row_counts) if row.row_counts is not None else None,
            tool=row.tool,
            reason=row.reason,
            duration_seconds=row.duration_seconds,
            created_at=row.created_at,
            finished_at=row.finished_at,
            expired_at=row.expired_at,
        )


@strawberry.type
class DrillCheck:
    name: str
    passed: bool
    detail: str


async def _load_runs(context: Context, run_ids: list[int]) -> list[backups.BackupRun | None]:
    async with context.session() as session:
        return await backups.backup_runs_by_id(session, run_ids)


@strawberry.type(name="RestoreDrill")
class RestoreDrillType:
    id: strawberry.ID
    backup_run_id: strawberry.Private[int]
    status: DrillStatus  # type: ignore[valid-type]
    trigger: BackupTrigger  # type: ignore[valid-type]
    passed: bool = strawberry.field(description="Every check passed.")
    checks: list[DrillCheck]
    report: str | None = strawberry.field(description="Markdown.")
    reason: str | None = strawberry.field(description="Why the drill stopped early.")
    ephemeral_database: str | None
    ephemeral_database_dropped: bool
    duration_seconds: float | None
    created_at: datetime
    finished_at: datetime | None

    @strawberry.field
    async def backup_run(self, info: Info) -> BackupRunType:
        context = info.context
        loader: DataLoader[int, backups.BackupRun | None] = context.loader(
            "backup_runs", lambda ids: _load_runs(context, ids)
        )
        row = await loader.load(self.backup_run_id)
        assert row is not None, "a drill's backup run is deleted with it"
        return BackupRunType.from_model(row)

    @classmethod
    def from_model(cls, row: backups.RestoreDrill) -> "RestoreDrillType":
        return cls(
            id=to_id(row.id),
            backup_run_id=row.backup_run_id,
            status=backups.DrillStatus(row.status),
            trigger=backups.Trigger(row.trigger),
            passed=row.status == backups.DrillStatus.PASSED.value,
            checks=[DrillCheck(**check) for check in row.checks],
            report=row.report,
            reason=row.reason,
            ephemeral_database=row.scratch_name,
            ephemeral_database_dropped=row.scratch_dropped,
            duration_seconds=row.duration_seconds,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )


@strawberry.type
class BackupQuery:
    @strawberry.field(permission_classes=[IsAdmin], description="Newest first.")
    async def backup_runs(
        self,
        info: Info,
        status: BackupStatus | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[BackupRunType]:
        listing = backups.list_backup_runs(status=status)
        return await connection(info, listing, BackupRunType.from_model, first=first, after=after)

    @strawberry.field(permission_classes=[IsAdmin], description="Newest first.")
    async def restore_drills(
        self,
        info: Info,
        backup_run_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RestoreDrillType]:
        run_id = None if backup_run_id is None else parse_id(backup_run_id, field="backupRunId")
        listing = backups.list_restore_drills(backup_run_id=run_id)
        return await connection(
            info, listing, RestoreDrillType.from_model, first=first, after=after
        )


@strawberry.type
class BackupMutation:
    @audited_mutation(
        Permission.ADMIN,
        description="Dump the whole database into the backup directory (a task).",
    )
    async def start_backup_run(self, info: Info) -> TaskType:
        context = info.context
        async with context.session() as session:
            task = await backups.start_backup_run(
                session,
                workspace_id=context.principal.workspace_id,
                created_by_key_id=context.principal.key_id,
                clock=context.services.clock,
            )
        context.after_commit(context.services.runner.wake)
        return TaskType.from_model(task)

    @audited_mutation(
        Permission.ADMIN,
        description="Restore a SUCCEEDED backup run into an ephemeral database, check it "
        "and drop it (a task).",
    )
    async def start_restore_drill(self, info: Info, backup_run_id: strawberry.ID) -> TaskType:
        context = info.context
        async with context.session() as session:
            task = await backups.start_restore_drill(
                session,
                workspace_id=context.principal.workspace_id,
                backup_run_id=parse_id(backup_run_id, field="backupRunId"),
                created_by_key_id=context.principal.key_id,
                clock=context.services.clock,
            )
        context.after_commit(context.services.runner.wake)
        return TaskType.from_model(task)
