from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, JsonDocument, UTCDateTime

#: An alert is open until it is resolved; one open alert per fingerprint.
OPEN_STATUSES = ("FIRING", "ACKNOWLEDGED")
OPEN_CONDITION = text("status IN ('FIRING', 'ACKNOWLEDGED')")
OPEN_WITH_END = text("status IN ('FIRING', 'ACKNOWLEDGED') AND ends_at IS NOT NULL")


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # Deduplication: raising an open fingerprint updates that alert, also
        # under concurrent raises (INSERT .. ON CONFLICT on this index).
        Index(
            "uq_alerts_open_fingerprint",
            "workspace_id",
            "fingerprint",
            unique=True,
            postgresql_where=OPEN_CONDITION,
            sqlite_where=OPEN_CONDITION,
        ),
        # Lists narrowed by one filter, newest (highest id) first.
        Index("ix_alerts_workspace_status_id", "workspace_id", "status", "id"),
        Index("ix_alerts_workspace_service_id", "workspace_id", "service", "id"),
        Index("ix_alerts_workspace_severity_id", "workspace_id", "severity", "id"),
        # Open alerts newest first: one index range, whichever open statuses are asked.
        Index(
            "ix_alerts_open_workspace_id",
            "workspace_id",
            "id",
            postgresql_where=OPEN_CONDITION,
            sqlite_where=OPEN_CONDITION,
        ),
        Index("ix_alerts_workspace_first_fired_at", "workspace_id", "first_fired_at"),
        # The expiry sweep's search: open alerts whose source said when they end.
        Index(
            "ix_alerts_open_ends_at",
            "ends_at",
            postgresql_where=OPEN_WITH_END,
            sqlite_where=OPEN_WITH_END,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(String(1000))
    labels: Mapped[dict[str, str]] = mapped_column(JsonDocument)
    occurrence_count: Mapped[int] = mapped_column(Integer)
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    noise_suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    first_fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Set by the first escalation for want of an acknowledgement (SLA figures).
    timeout_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: A faster burn-rate alert of the same SLO fires: stored, but not notified.
    inhibited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The incident spent more than 20 % of its SLO's error budget.
    needs_postmortem: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: What the source says besides the labels (Prometheus' annotations); the
    #: latest raise replaces them.
    annotations: Mapped[dict[str, str]] = mapped_column(
        JsonDocument, default=dict, server_default=text("'{}'")
    )
    #: Where the source shows what raised the alert (Prometheus' ``generatorURL``).
    generator_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: When the alert ends unless raised again (Prometheus' ``endsAt``): the expiry
    #: sweep resolves an open alert past it. None: open until someone resolves it.
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SilenceRule(Base):
    __tablename__ = "silence_rules"
    __table_args__ = (
        Index("ix_silence_rules_workspace_ends_at", "workspace_id", "ends_at"),
        # Ids of deleted rules are never given again (SQLite would reuse the last).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    #: ``[{"label", "op", "value"}]`` with op one of =, !=, =~, !~.
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JsonDocument)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: ``{"weekdays": [0..6], "start_minute": int, "duration_minutes": int}`` in UTC.
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument, nullable=True)
    author: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AggregationRule(Base):
    __tablename__ = "aggregation_rules"
    __table_args__ = {"sqlite_autoincrement": True}  # ids of deleted rules stay unused

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    #: Which alerts the rule groups; empty groups every alert.
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JsonDocument)
    group_by: Mapped[list[str]] = mapped_column(JsonDocument)
    window_seconds: Mapped[int] = mapped_column(Integer)
    max_notifications: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertGroup(Base):
    """The alerts one aggregation rule put together under one set of label values.

    The window opens with the group's first alert and lasts the rule's window;
    the first alert after it opens the next one.
    """

    __tablename__ = "alert_groups"
    __table_args__ = (UniqueConstraint("rule_id", "group_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("aggregation_rules.id", ondelete="CASCADE"))
    group_key: Mapped[str] = mapped_column(String(64))
    group_labels: Mapped[dict[str, str]] = mapped_column(JsonDocument)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    window_alerts: Mapped[int] = mapped_column(Integer)
    window_notified: Mapped[int] = mapped_column(Integer)
    window_suppressed: Mapped[int] = mapped_column(Integer)
    total_alerts: Mapped[int] = mapped_column(Integer)
    total_suppressed: Mapped[int] = mapped_column(Integer)
    last_alert_at: Mapped[datetime] = mapped_column(UTCDateTime)
