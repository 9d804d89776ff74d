from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, JsonDocument, UTCDateTime


class Signal(Base):
    __tablename__ = "signals"
    __table_args__ = (
        # The value is included so that hourly sums of a meter (capacity roll-ups)
        # read the index alone, without visiting the table.
        Index(
            "ix_signals_workspace_service_name_ts",
            "workspace_id",
            "service",
            "name",
            "ts",
            postgresql_include=["value"],
        ),
        Index("ix_signals_workspace_ts", "workspace_id", "ts"),
        # A service's samples newest first, whatever their names.
        Index("ix_signals_workspace_service_ts", "workspace_id", "service", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    labels: Mapped[dict[str, str]] = mapped_column(JsonDocument)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)


class SeriesSummary(Base):
    """How many samples one series name of a service has, and the oldest and newest.

    Kept up to date in the transaction that stores the samples, so that the
    overview reads one row per series instead of counting the samples. Samples
    are never deleted (only with their workspace), so the counts only grow.
    """

    __tablename__ = "signal_series_summaries"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    sample_count: Mapped[int] = mapped_column(BigInteger)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
