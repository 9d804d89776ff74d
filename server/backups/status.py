"""What other domains may know of backups: when the last good backup and drill were.

Instance-wide, as a dump holds every workspace. The security inspections read
these to flag a deployment without a recent backup or a recent passed drill.
"""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.backups.models import BackupRun, BackupStatus, DrillStatus, RestoreDrill

__all__ = ["last_passed_restore_drill_at", "last_successful_backup_at"]


async def last_successful_backup_at(session: AsyncSession) -> datetime | None:
    """When the newest backup that completed (and is not yet expired) finished."""
    return await session.scalar(
        select(func.max(BackupRun.finished_at)).where(
            BackupRun.status == BackupStatus.SUCCEEDED.value
        )
    )


async def last_passed_restore_drill_at(session: AsyncSession) -> datetime | None:
    """When the newest restore drill with every check passing finished."""
    return await session.scalar(
        select(func.max(RestoreDrill.finished_at)).where(
            RestoreDrill.status == DrillStatus.PASSED.value
        )
    )
