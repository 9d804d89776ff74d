"""Capacity policies, each meter's hourly roll-ups, and the forecasts made of them."""

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, JsonDocument, UTCDateTime


class CapacityPolicy(Base):
    __tablename__ = "capacity_policies"
    __table_args__ = (
        UniqueConstraint("workspace_id", "meter_key"),
        {"sqlite_autoincrement": True},  # ids of deleted workspaces' policies stay unused
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    meter_key: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(String(100))
    signal: Mapped[str] = mapped_column(String(200))
    #: ``[{"label", "op", "value"}]``: the samples of the meter; empty takes every one.
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JsonDocument)
    capacity: Mapped[float] = mapped_column(Float)
    warning_ratio: Mapped[float] = mapped_column(Float)
    horizon_days: Mapped[int] = mapped_column(Integer)
    #: Roll-ups reach up to this hour (epoch seconds // 3600, exclusive); None
    #: before the first forecast and after the meter changed.
    rolled_up_to_hour: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CapacityRollup(Base):
    """The sum and count of one policy's samples in one hour."""

    __tablename__ = "capacity_rollups"

    policy_id: Mapped[int] = mapped_column(
        ForeignKey("capacity_policies.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    total: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(BigInteger)


class CapacityForecast(Base):
    __tablename__ = "capacity_forecasts"
    __table_args__ = (
        Index("ix_capacity_forecasts_workspace_meter_id", "workspace_id", "meter_key", "id"),
        Index("ix_capacity_forecasts_workspace_id_id", "workspace_id", "id"),
        Index("ix_capacity_forecasts_created_at", "created_at"),
        {"sqlite_autoincrement": True},  # old forecasts are pruned; their ids stay unused
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("capacity_policies.id", ondelete="CASCADE"))
    meter_key: Mapped[str] = mapped_column(String(200))
    #: The terms of the fit, e.g. ``linear+daily(2)+level_shift(1)``.
    method: Mapped[str] = mapped_column(String(100))
    current_value: Mapped[float] = mapped_column(Float)
    predicted_value: Mapped[float] = mapped_column(Float)
    lower: Mapped[float] = mapped_column(Float)
    upper: Mapped[float] = mapped_column(Float)
    #: None: not reached within the search horizon (``forecast.SEARCH_FACTOR``).
    time_to_warning: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    time_to_exhaustion: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    points: Mapped[int] = mapped_column(BigInteger)
    buckets: Mapped[int] = mapped_column(Integer)
    slope_per_day: Mapped[float] = mapped_column(Float)
    #: Names of the cycles fitted, e.g. ``["daily"]``.
    seasonality: Mapped[list[str]] = mapped_column(JsonDocument)
    level_shift_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The policy's settings when the forecast was made.
    capacity: Mapped[float] = mapped_column(Float)
    warning_ratio: Mapped[float] = mapped_column(Float)
    horizon_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
