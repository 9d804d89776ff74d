from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, JsonDocument, UTCDateTime


class Event(Base):
    """One domain event.

    ``id`` is assigned at insert and may commit out of order; ``seq``, the
    delivery cursor, is assigned by the sequencer once the transaction has
    committed (in it, on SQLite), one sequencer at a time, so the committed
    ``seq`` values always form a gap-free prefix.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index(
            "ix_events_unsequenced",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
        Index("ix_events_stream_workspace_seq", "stream", "workspace_id", "seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True, nullable=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    service: Mapped[str | None] = mapped_column(String(100), nullable=True)
    severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventRetention(Base):
    """The highest ``seq`` ever pruned; older cursors cannot be resumed."""

    __tablename__ = "event_retention"

    id: Mapped[int] = mapped_column(primary_key=True)
    pruned_through: Mapped[int] = mapped_column(BigInteger)
