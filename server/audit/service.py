from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEntry
from server.audit.redaction import redact


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


def audit_log_query(*, workspace_id: int) -> Select[AuditEntry]:
    return select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
