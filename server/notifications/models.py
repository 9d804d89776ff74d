"""Routes, messages (one per notification), deliveries (one per attempt), in-app
notifications, and the dispatcher's checkpoint in the alert events."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, JsonDocument, UTCDateTime

PENDING_CONDITION = text("status = 'PENDING'")


class NotificationRoute(Base):
    __tablename__ = "notification_routes"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        {"sqlite_autoincrement": True},  # ids of deleted routes stay unused
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    #: IN_APP, WEBHOOK or EMAIL.
    channel: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    #: ``whsec_<base64>``; the key that signs webhooks and receipts, so kept as is.
    secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: ``[{"label", "op", "value"}]``; empty matches every alert.
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JsonDocument)
    enabled: Mapped[bool] = mapped_column(Boolean)
    #: Why the route turned itself off (a receiver answered 410 Gone).
    disabled_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationMessage(Base):
    """One notification of one alert to one target, however many attempts it takes.

    ``webhook_id`` is its ``webhook-id`` header, the same on every attempt, so that
    receivers can deduplicate. A message made from an alert event remembers that
    event's cursor; the unique constraint makes a second message of one route for
    one event impossible.
    """

    __tablename__ = "notification_messages"
    __table_args__ = (
        UniqueConstraint("route_id", "source_event_seq"),
        Index("ix_notification_messages_workspace_alert", "workspace_id", "alert_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    route_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_routes.id", ondelete="SET NULL"), nullable=True
    )
    #: The person of ``notify_person``; None for a route's messages.
    person: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: IN_APP, WEBHOOK or EMAIL; None for a target no channel reaches.
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: The URL, the email address or the in-app recipient, as it was when created.
    target: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    alert_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    #: The alert event payload it notifies (alertId, fingerprint, service, ...).
    alert: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    reason: Mapped[str] = mapped_column(String(200))
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    source_event_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: PENDING until an attempt succeeds or the last one failed.
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationDelivery(Base):
    """One attempt of a message: PENDING while due or in flight, then its outcome.

    A PENDING attempt with ``claimed_until`` set is being sent by ``claimed_by``;
    one whose claim ran out is recorded as FAILED (outcome unknown) and never sent
    again, so that no attempt is sent twice.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "attempt"),
        Index(
            "ix_notification_deliveries_pending_due",
            "due_at",
            postgresql_where=PENDING_CONDITION,
            sqlite_where=PENDING_CONDITION,
        ),
        Index("ix_notification_deliveries_workspace_route", "workspace_id", "route_id"),
        Index("ix_notification_deliveries_workspace_alert", "workspace_id", "alert_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(
        ForeignKey("notification_messages.id", ondelete="CASCADE")
    )
    route_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_routes.id", ondelete="SET NULL"), nullable=True
    )
    alert_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Notification(Base):
    """An in-app notification in one recipient's inbox."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_workspace_recipient", "workspace_id", "recipient", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_messages.id", ondelete="SET NULL"), nullable=True
    )
    alert_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class NotificationCheckpoint(Base):
    """How far the dispatcher has read the alert events: one row for all workspaces,
    locked while it turns the next events into messages."""

    __tablename__ = "notification_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
