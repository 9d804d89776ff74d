"""Backup runs and restore drills.

Both are instance-wide: a dump holds every workspace's rows, so a run belongs
to the deployment rather than to one workspace. The task that asked for one (a
manual run) is kept; scheduled runs have none.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, JsonDocument, UTCDateTime


class BackupStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    #: Past retention: its file is deleted, the row stays as history.
    EXPIRED = "EXPIRED"


class DrillStatus(StrEnum):
    RUNNING = "RUNNING"
    PASSED = "PASSED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Trigger(StrEnum):
    MANUAL = "MANUAL"
    SCHEDULED = "SCHEDULED"


class BackupRun(Base):
    __tablename__ = "backup_runs"
    __table_args__ = (
        Index("ix_backup_runs_status_finished_at", "status", "finished_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True
    )
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    #: ``postgresql`` (pg_dump custom format) or ``sqlite`` (online backup copy).
    database_kind: Mapped[str] = mapped_column(String(16))
    #: The dump's name inside the backup directory, once complete.
    file_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    alembic_revision: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Rows per table in the dump's snapshot: ``{"table": count}``.
    row_counts: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument, nullable=True)
    #: The dump tool and its version (``pg_dump (PostgreSQL) 15.4``, ``sqlite 3.40.1``).
    tool: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Why a run FAILED.
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RestoreDrill(Base):
    __tablename__ = "restore_drills"
    __table_args__ = (
        Index("ix_restore_drills_status_finished_at", "status", "finished_at"),
        Index("ix_restore_drills_backup_run_id", "backup_run_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    backup_run_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("backup_runs.id", ondelete="CASCADE")
    )
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True
    )
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    #: ``[{"name", "passed", "detail"}]`` in the order they ran.
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    #: The ephemeral database (PostgreSQL) or file (SQLite) the dump was restored
    #: into; recorded before it is created, so that a cleanup finds a leftover.
    scratch_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    #: True once the ephemeral database is known to be gone.
    scratch_dropped: Mapped[bool] = mapped_column(Boolean, default=False)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
