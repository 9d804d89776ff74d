from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
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
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    labels: Mapped[dict[str, str]] = mapped_column(JsonDocument)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
