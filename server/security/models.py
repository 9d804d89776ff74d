"""Security inspection runs and their items (one per check)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, UTCDateTime


class SecurityInspectionRun(Base):
    """One inspection of a workspace and its deployment, written once complete.

    ``task_id`` is unique: a task taken over after its first worker died finds
    the run that worker wrote rather than writing a second one.
    """

    __tablename__ = "security_inspection_runs"
    __table_args__ = (Index("ix_security_inspection_runs_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pass_count: Mapped[int] = mapped_column(Integer)
    warn_count: Mapped[int] = mapped_column(Integer)
    fail_count: Mapped[int] = mapped_column(Integer)


class SecurityInspectionItem(Base):
    """The outcome of one check in one run, in the order the checks ran."""

    __tablename__ = "security_inspection_items"
    __table_args__ = (Index("ix_security_inspection_items_run_id", "run_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(
        ForeignKey("security_inspection_runs.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    check: Mapped[str] = mapped_column(String(64))
    #: PASS, WARN or FAIL.
    status: Mapped[str] = mapped_column(String(8))
    detail: Mapped[str] = mapped_column(Text)
    remediation: Mapped[str] = mapped_column(Text)
