from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, JsonDocument, UTCDateTime


class SloPolicy(Base):
    __tablename__ = "slo_policies"
    __table_args__ = (
        UniqueConstraint("workspace_id", "service", "name"),
        # Ids of deleted policies are never given again (SQLite would reuse the last).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    #: Percent, 0 < objective < 100.
    objective: Mapped[float] = mapped_column(Float)
    window_days: Mapped[int] = mapped_column(Integer)
    #: ``server.slo.sli`` as a document: ``{"kind": "RATIO", "good": .., "total": ..}``
    #: or ``{"kind": "THRESHOLD", "signal", "matchers", "threshold", "comparator"}``.
    sli: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    on_exhausted: Mapped[str] = mapped_column(String(16))
    budget_policy_state: Mapped[str] = mapped_column(String(16))
    #: The newest evaluation (by evaluation time). A plain column, not a foreign
    #: key: the two tables would otherwise refer to each other.
    latest_evaluation_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    latest_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    latest_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: Roll-ups reach up to this hour (exclusive); None before the first evaluation.
    rolled_up_to_hour: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: When every rolled hour was last compared with the samples (see measurement).
    rollups_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SloEvaluation(Base):
    __tablename__ = "slo_evaluations"
    __table_args__ = (
        Index("ix_slo_evaluations_policy_id_evaluated_at", "policy_id", "evaluated_at"),
        Index("ix_slo_evaluations_evaluated_at", "evaluated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("slo_policies.id", ondelete="CASCADE"))
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The policy's objective and window when it was evaluated.
    objective: Mapped[float] = mapped_column(Float)
    window_days: Mapped[int] = mapped_column(Integer)
    good: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    #: None without events in the window (NO_DATA).
    sli: Mapped[float | None] = mapped_column(Float, nullable=True)
    budget_consumed: Mapped[float | None] = mapped_column(Float, nullable=True)
    budget_remaining: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: ``[{"window": "5m", "rate": 0.5 | null}, ...]``, shortest window first.
    burn_rates: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    #: Names of the firing pairs (e.g. ``"1h/5m"``), fastest first.
    firing_pairs: Mapped[list[str]] = mapped_column(JsonDocument)
    status: Mapped[str] = mapped_column(String(16))
    #: Evaluated at a moment before the policy's newest evaluation: it changed
    #: neither alerts nor the budget policy state.
    look_back: Mapped[bool] = mapped_column(Boolean)


class SloRollup(Base):
    """One policy's good and total events of one hour (``hour`` = epoch seconds // 3600).

    ``samples`` counts every sample of the policy's signal names in that hour,
    whatever their labels: the evaluation compares it with the signals table to
    find hours that received samples after they were rolled up.
    """

    __tablename__ = "slo_rollups"

    policy_id: Mapped[int] = mapped_column(
        ForeignKey("slo_policies.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    good: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(BigInteger)
