"""Restore drills: the row (with its ephemeral database's name) first, then the
drill, then its verdict and report; the ephemeral database is dropped whatever
happens, and a cleanup drops those that processes which died left behind."""

import asyncio
import logging
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import or_, select

from server.backups import drill as drill_steps
from server.backups import verdicts
from server.backups.files import Progress
from server.backups.models import BackupRun, BackupStatus, DrillStatus, RestoreDrill, Trigger
from server.backups.report import ReportFacts, render_report
from server.backups.runs import BackupPlace
from server.backups.scratch import create_scratch, drop_scratch, new_scratch_name
from server.backups.verdicts import DrillCheck
from server.core.clock import Clock
from server.core.db import Database
from server.core.jobs import TaskCancelled

logger = logging.getLogger(__name__)

INTERRUPTED = "interrupted: its process stopped during the drill"


async def _open_drill(
    db: Database, *, backup_run_id: int, trigger: Trigger, task_id: int | None, now: datetime
) -> tuple[RestoreDrill, BackupRun]:
    async with db.transaction() as session:
        run = await session.get_one(BackupRun, backup_run_id)
        drill = RestoreDrill(
            backup_run_id=backup_run_id,
            task_id=task_id,
            trigger=trigger.value,
            status=DrillStatus.RUNNING.value,
            checks=[],
            scratch_dropped=False,
            created_at=now,
        )
        session.add(drill)
        await session.flush()
        drill.scratch_name = new_scratch_name(drill.id)
        return drill, run


def _dump_facts(run: BackupRun, backup_dir: Path) -> drill_steps.DumpFacts | DrillCheck:
    """The dump to restore, or the failed check saying why there is none."""
    if run.status != BackupStatus.SUCCEEDED.value or run.file_name is None:
        detail = f"backup run {run.id} is {run.status}: only a SUCCEEDED run has a dump"
        return DrillCheck("backup_available", False, detail)
    return drill_steps.DumpFacts(
        path=backup_dir / run.file_name,
        sha256=run.sha256 or "",
        size_bytes=run.size_bytes or 0,
        alembic_revision=run.alembic_revision,
        row_counts={str(table): int(count) for table, count in (run.row_counts or {}).items()},
    )


async def _drop_quietly(db: Database, backup_dir: Path, name: str) -> bool:
    try:
        await drop_scratch(db, backup_dir=backup_dir, name=name)
    except Exception:
        logger.exception("cannot drop the drill database %s; the cleanup will retry", name)
        return False
    return True


async def run_drill(
    db: Database,
    place: BackupPlace,
    clock: Clock,
    *,
    backup_run_id: int,
    trigger: Trigger,
    task_id: int | None,
    progress: Progress,
) -> RestoreDrill:
    """Run one drill of the backup run; a failed check makes it FAILED, not an error.
    A cancelled task makes it CANCELLED; either way its database is dropped."""
    drill, run = await _open_drill(
        db, backup_run_id=backup_run_id, trigger=trigger, task_id=task_id, now=clock.now()
    )
    scratch = drill.scratch_name or ""
    started = time.perf_counter()
    status, checks = DrillStatus.FAILED, list[DrillCheck]()
    reason: str | None = INTERRUPTED
    try:
        facts = _dump_facts(run, place.backup_dir)
        if isinstance(facts, DrillCheck):
            checks = [facts]
        else:
            await create_scratch(db, backup_dir=place.backup_dir, name=scratch)
            checks = await drill_steps.run_checks(
                db,
                facts,
                scratch=scratch,
                backup_dir=place.backup_dir,
                bin_dir=place.pg_bin_dir,
                progress=progress,
            )
        status = DrillStatus.PASSED if verdicts.all_passed(checks) else DrillStatus.FAILED
        reason = None
    except TaskCancelled:
        status, reason = DrillStatus.CANCELLED, "cancelled"
        raise
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        raise
    finally:
        dropped = await asyncio.shield(_drop_quietly(db, place.backup_dir, scratch))
        facts_of_report = ReportFacts(
            drill_id=drill.id,
            status=status.value,
            backup_run_id=run.id,
            database_kind=run.database_kind,
            backup_taken_at=run.created_at,
            size_bytes=run.size_bytes,
            alembic_revision=run.alembic_revision,
            scratch_name=scratch,
            scratch_dropped=dropped,
            duration_seconds=time.perf_counter() - started,
            reason=reason,
        )
        closing = _close_drill(db, drill.id, facts_of_report, checks, clock.now())
        drill = await asyncio.shield(closing)
    return drill


async def _close_drill(
    db: Database,
    drill_id: int,
    facts: ReportFacts,
    checks: list[DrillCheck],
    now: datetime,
) -> RestoreDrill:
    async with db.transaction() as session:
        drill = await session.get_one(RestoreDrill, drill_id, with_for_update=True)
        # A process that stops mid-drill leaves the row RUNNING for the cleanup.
        if facts.reason != INTERRUPTED:
            drill.status = facts.status
            drill.finished_at = now
        drill.checks = [asdict(check) for check in checks]
        drill.reason = facts.reason
        drill.scratch_dropped = facts.scratch_dropped
        drill.duration_seconds = facts.duration_seconds
        drill.report = render_report(facts, checks)
        return drill


async def drop_leftover_scratches(
    db: Database,
    *,
    backup_dir: Path,
    now: datetime,
    older_than: datetime,
    task_id: int | None = None,
) -> list[int]:
    """Drop the ephemeral databases drills left behind: those of finished drills
    whose drop failed, and those of drills still RUNNING that began before
    ``older_than`` or belong to ``task_id`` (a task being retried), which are
    marked FAILED. The ids of the drills cleaned up."""
    stale = RestoreDrill.created_at < older_than
    if task_id is not None:
        stale = or_(stale, RestoreDrill.task_id == task_id)
    query = select(RestoreDrill).where(
        RestoreDrill.scratch_name.is_not(None),
        or_(
            (RestoreDrill.status == DrillStatus.RUNNING.value) & stale,
            (RestoreDrill.status != DrillStatus.RUNNING.value) & ~RestoreDrill.scratch_dropped,
        ),
    )
    cleaned: list[int] = []
    async with db.transaction() as session:
        for drill in (await session.scalars(query.with_for_update(skip_locked=True))).all():
            if not await _drop_quietly(db, backup_dir, drill.scratch_name or ""):
                continue
            drill.scratch_dropped = True
            if drill.status == DrillStatus.RUNNING.value:
                drill.status = DrillStatus.FAILED.value
                drill.reason = INTERRUPTED
                drill.finished_at = now
            cleaned.append(drill.id)
    return cleaned
