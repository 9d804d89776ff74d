"""The audit domain's front door: one record per mutation, win or lose, and the log.

Variables are redacted before they are stored (``redaction``): no secret among a
mutation's arguments reaches the log.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEntry
from server.audit.redaction import MAX_ITEMS, redact
from server.core.errors import InvalidInput
from server.core.pagination import Listing

__all__ = ["MAX_ITEMS", "AuditEntry", "AuditFilter", "AuditRecord", "list_audit_log", "record"]

OUTCOMES = frozenset({"ok", "error"})


@dataclass(frozen=True)
class AuditRecord:
    workspace_id: int
    actor_key_id: int | None
    actor_name: str
    operation: str
    target: str | None
    outcome: str
    error_code: str | None
    request_id: str | None
    variables: dict[str, Any]


async def record(session: AsyncSession, entry: AuditRecord, *, now: datetime) -> AuditEntry:
    row = AuditEntry(
        workspace_id=entry.workspace_id,
        actor_key_id=entry.actor_key_id,
        actor_name=entry.actor_name,
        operation=entry.operation,
        target=entry.target,
        outcome=entry.outcome,
        error_code=entry.error_code,
        request_id=entry.request_id,
        variables=redact(entry.variables),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class AuditFilter:
    """Entries by actor (key id or name), operation, outcome and ``from <= createdAt < to``."""

    actor_key_id: int | None = None
    actor_name: str | None = None
    operation: str | None = None
    outcome: str | None = None
    from_: datetime | None = None
    to: datetime | None = None

    def check(self) -> None:
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise InvalidInput("outcome must be ok or error", field="filter.outcome")
        if self.from_ is not None and self.to is not None and self.to <= self.from_:
            raise InvalidInput("to must be after from", field="filter.to")


def list_audit_log(*, workspace_id: int, filter: AuditFilter | None = None) -> Listing[AuditEntry]:
    """The workspace's audit entries, newest first, narrowed by ``filter``."""
    query = select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
    if filter is not None:
        filter.check()
        conditions = [
            AuditEntry.actor_key_id == filter.actor_key_id if filter.actor_key_id else None,
            AuditEntry.actor_name == filter.actor_name if filter.actor_name else None,
            AuditEntry.operation == filter.operation if filter.operation else None,
            AuditEntry.outcome == filter.outcome if filter.outcome else None,
            AuditEntry.created_at >= filter.from_ if filter.from_ else None,
            AuditEntry.created_at < filter.to if filter.to else None,
        ]
        query = query.where(*(condition for condition in conditions if condition is not None))
    return Listing(query, order=[AuditEntry.id])
