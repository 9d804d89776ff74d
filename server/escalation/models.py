"""Escalation policies, each firing alert's escalation state, and what escalation did."""

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, JsonDocument, UTCDateTime


class EscalationPolicy(Base):
    __tablename__ = "escalation_policies"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        {"sqlite_autoincrement": True},  # ids of deleted policies stay unused
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    #: ``[{"label", "op", "value"}]``; empty governs every alert.
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JsonDocument)
    #: ``[{"delay_seconds": int, "targets": [str]}]`` in order.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    #: How many more times the step list runs after its first run.
    repeat: Mapped[int] = mapped_column(Integer)
    #: Re-fires since the last escalation that escalate at once (REPEAT_TRIGGER).
    refire_threshold: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EscalationState(Base):
    """Where the escalation of one firing alert stands (``server.escalation.schedule``).

    A sweep locks the rows it acts on (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)
    and moves them on in the same transaction as the notifications, so that two
    replicas never run one step twice.
    """

    __tablename__ = "escalation_states"
    __table_args__ = (
        Index("ix_escalation_states_next_due_at", "next_due_at"),
        Index("ix_escalation_states_policy_id", "policy_id"),
        Index("ix_escalation_states_workspace_id", "workspace_id"),
    )

    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("escalation_policies.id", ondelete="CASCADE"))
    next_step: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[int] = mapped_column(Integer)
    executed: Mapped[int] = mapped_column(Integer)
    anchor_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When the next step is due; None once every run of the list is done.
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The alert's occurrence count at its last escalation (1 before any).
    refire_baseline: Mapped[int] = mapped_column(Integer)
    last_executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EscalationExecution(Base):
    """One target of one escalation of one alert, and whom it reached."""

    __tablename__ = "escalation_executions"
    __table_args__ = (
        Index("ix_escalation_executions_workspace_alert", "workspace_id", "alert_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id", ondelete="CASCADE"))
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL"), nullable=True
    )
    step: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[int] = mapped_column(Integer)
    #: ACK_TIMEOUT, REPEAT_TRIGGER or SHIFT_HANDOVER.
    reason: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(300))
    #: People reached by name, ``fallback`` for a schedule's fallback contact,
    #: ``route://<name>`` for a route.
    recipients: Mapped[list[str]] = mapped_column(JsonDocument)
    #: Nobody on call: an UNDELIVERABLE delivery records it (fallbacks notified too).
    undeliverable: Mapped[bool] = mapped_column(Boolean)
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EscalationHandoverMark(Base):
    """Up to when a workspace's shift handovers have been escalated."""

    __tablename__ = "escalation_handover_marks"

    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    checked_until: Mapped[datetime] = mapped_column(UTCDateTime)
