"""Backup runs: the row first (RUNNING), then the dump, then its outcome.

The row is committed before the dump starts, so the dump holds it as RUNNING and
its row counts include it. Whatever stops a run (a failed dump, a cancelled
task, the process stopping) leaves it FAILED with the reason and no file.
"""

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.backups.dump import Dump, DumpFailed, database_kind, dump_database
from server.backups.files import (
    Progress,
    dump_name,
    manifest_path,
    partial_path,
    remove_quietly,
    write_manifest,
)
from server.backups.models import BackupRun, BackupStatus, Trigger
from server.core.clock import Clock
from server.core.db import Database
from server.core.jobs import TaskCancelled

MANIFEST_FORMAT = "opsgraph-backup-manifest/1"


@dataclass(frozen=True)
class BackupPlace:
    """Where dumps go and which PostgreSQL tools make them."""

    backup_dir: Path
    pg_bin_dir: Path | None


def reason_of(error: BaseException) -> str:
    if isinstance(error, DumpFailed):
        return str(error)
    if isinstance(error, TaskCancelled):
        return "cancelled"
    if isinstance(error, asyncio.CancelledError):
        return "interrupted: the process stopped during the backup"
    return f"{type(error).__name__}: {error}"


def manifest_document(run: BackupRun, dump: Dump) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "backup_run_id": run.id,
        "database_kind": run.database_kind,
        "file": dump.path.name,
        "size_bytes": dump.size_bytes,
        "sha256": dump.sha256,
        "alembic_revision": dump.catalog.alembic_revision,
        "row_counts": dump.catalog.row_counts,
        "tool": dump.tool,
        "created_at": run.created_at.isoformat(),
    }


async def _open_run(db: Database, *, trigger: Trigger, task_id: int | None, now: datetime) -> int:
    async with db.transaction() as session:
        run = BackupRun(
            task_id=task_id,
            trigger=trigger.value,
            status=BackupStatus.RUNNING.value,
            database_kind=database_kind(db),
            created_at=now,
        )
        session.add(run)
        await session.flush()
        return run.id


async def _close_run(db: Database, run_id: int, now: datetime, **values: Any) -> BackupRun:
    async with db.transaction() as session:
        run = await session.get_one(BackupRun, run_id, with_for_update=True)
        for name, value in values.items():
            setattr(run, name, value)
        run.finished_at = now
        return run


async def run_backup(
    db: Database,
    place: BackupPlace,
    clock: Clock,
    *,
    trigger: Trigger,
    task_id: int | None,
    progress: Progress,
) -> BackupRun:
    """Make one backup; on failure the run is FAILED and the error raised again."""
    created_at = clock.now()
    run_id = await _open_run(db, trigger=trigger, task_id=task_id, now=created_at)
    final = place.backup_dir / dump_name(run_id, created_at, database_kind(db))
    started = time.perf_counter()
    try:
        await progress(0.05)
        dump = await dump_database(db, final=final, bin_dir=place.pg_bin_dir, progress=progress)
        await progress(0.95)
        async with db.reader() as session:
            run = await session.get_one(BackupRun, run_id)
        try:
            await asyncio.to_thread(write_manifest, final, manifest_document(run, dump))
        except OSError as error:
            remove_quietly(final)
            raise DumpFailed(f"cannot write the manifest: {error}") from error
    except BaseException as error:
        failed = _close_run(
            db,
            run_id,
            clock.now(),
            status=BackupStatus.FAILED.value,
            reason=reason_of(error),
            duration_seconds=time.perf_counter() - started,
        )
        await asyncio.shield(failed)
        raise
    return await _close_run(
        db,
        run_id,
        clock.now(),
        status=BackupStatus.SUCCEEDED.value,
        file_name=final.name,
        size_bytes=dump.size_bytes,
        sha256=dump.sha256,
        alembic_revision=dump.catalog.alembic_revision,
        row_counts=dump.catalog.row_counts,
        tool=dump.tool,
        duration_seconds=time.perf_counter() - started,
    )


def run_files(backup_dir: Path, run: BackupRun) -> list[Path]:
    """Every file a run may have left: its dump, manifest and their partial files."""
    dump = backup_dir / (run.file_name or dump_name(run.id, run.created_at, run.database_kind))
    manifest = manifest_path(dump)
    return [dump, manifest, partial_path(dump), partial_path(manifest)]


async def abandon_running_runs(
    db: Database, *, backup_dir: Path, now: datetime, task_id: int | None, older_than: datetime
) -> list[int]:
    """Mark FAILED the runs a dead process left RUNNING (those of ``task_id``, or
    those begun before ``older_than``) and remove their partial files."""
    query = select(BackupRun).where(BackupRun.status == BackupStatus.RUNNING.value)
    if task_id is not None:
        query = query.where(BackupRun.task_id == task_id)
    else:
        query = query.where(BackupRun.created_at < older_than)
    async with db.transaction() as session:
        runs = list((await session.scalars(query.with_for_update(skip_locked=True))).all())
        for run in runs:
            for path in run_files(backup_dir, run):
                remove_quietly(path)
            run.status = BackupStatus.FAILED.value
            run.reason = "interrupted: its process stopped before the backup completed"
            run.finished_at = now
    return [run.id for run in runs]
