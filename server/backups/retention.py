"""Retention: backups older than the retention (by when they were taken) are deleted
and their runs EXPIRED."""

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from server.backups.files import remove_quietly
from server.backups.models import BackupRun, BackupStatus
from server.backups.runs import run_files
from server.core.db import Database


async def expire_backups(
    db: Database, *, backup_dir: Path, now: datetime, retention: timedelta
) -> list[int]:
    """Delete the expired backups' files and mark their runs EXPIRED; their ids.

    The files go first, inside the transaction: should the commit fail, the runs
    stay SUCCEEDED with their files gone, and the next pass expires them.
    """
    async with db.transaction() as session:
        runs = list(
            (
                await session.scalars(
                    select(BackupRun)
                    .where(
                        BackupRun.status == BackupStatus.SUCCEEDED.value,
                        BackupRun.created_at < now - retention,
                    )
                    .order_by(BackupRun.id)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        for run in runs:
            for path in run_files(backup_dir, run):
                remove_quietly(path)
            run.status = BackupStatus.EXPIRED.value
            run.expired_at = now
    return [run.id for run in runs]
