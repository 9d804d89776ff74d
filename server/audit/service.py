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
from server.core.pagination import Listing

__all__ = ["MAX_ITEMS", "AuditEntry", "AuditRecord", "list_audit_log", "record"]


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


def list_audit_log(*, workspace_id: int) -> Listing[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
    return Listing(query, order=[AuditEntry.id])
