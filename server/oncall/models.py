"""On-call schedules and what puts people on call in them: shifts, rotations, overrides."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, JsonDocument, UTCDateTime


class OncallSchedule(Base):
    """A named schedule of a workspace, created by the first shift, rotation or
    override that names it (its fallback contact is then unset)."""

    __tablename__ = "oncall_schedules"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Whom to reach when nobody is on call.
    fallback_contact: Mapped[str | None] = mapped_column(String(320), nullable=True)
    #: SHA-256 of the iCalendar feed's token; no feed until one is issued.
    feed_token_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    feed_token_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OncallShift(Base):
    """One person on call from ``starts_at`` to ``ends_at`` (end exclusive)."""

    __tablename__ = "oncall_shifts"
    __table_args__ = (
        Index("ix_oncall_shifts_schedule_ends_at", "schedule_id", "ends_at"),
        Index("ix_oncall_shifts_workspace_ends_at", "workspace_id", "ends_at"),
        # Ids of deleted shifts are never given again (SQLite would reuse the last).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    schedule_id: Mapped[int] = mapped_column(ForeignKey("oncall_schedules.id", ondelete="CASCADE"))
    person: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(320))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OncallRotation(Base):
    """Participants taking turns of ``shift_length_hours``, handing off at the
    wall-clock ``handoff_minute`` of ``time_zone`` (``server.oncall.rotation``)."""

    __tablename__ = "oncall_rotations"
    __table_args__ = (
        Index("ix_oncall_rotations_schedule_id", "schedule_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    schedule_id: Mapped[int] = mapped_column(ForeignKey("oncall_schedules.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    #: ``[{"person", "contact"}]`` in turn order.
    participants: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    shift_length_hours: Mapped[int] = mapped_column(Integer)
    #: Minutes after local midnight.
    handoff_minute: Mapped[int] = mapped_column(Integer)
    #: An IANA time zone name, e.g. Europe/Berlin.
    time_zone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OncallOverride(Base):
    """Someone standing in for the rotations of a schedule for a while."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (
        Index("ix_oncall_overrides_schedule_ends_at", "schedule_id", "ends_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    schedule_id: Mapped[int] = mapped_column(ForeignKey("oncall_schedules.id", ondelete="CASCADE"))
    person: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(320))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
