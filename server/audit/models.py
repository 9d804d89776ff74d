from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, BigId, JsonDocument, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_workspace_id_id", "workspace_id", "id"),
        # The audit log narrowed by one filter, newest first.
        Index("ix_audit_entries_workspace_actor_key_id_id", "workspace_id", "actor_key_id", "id"),
        Index("ix_audit_entries_workspace_actor_name_id", "workspace_id", "actor_name", "id"),
        Index("ix_audit_entries_workspace_operation_id", "workspace_id", "operation", "id"),
        Index("ix_audit_entries_workspace_outcome_id", "workspace_id", "outcome", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    actor_key_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(100))
    operation: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    variables: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
