"""The audit log of mutations (admin only)."""

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from schema.context import Info
from schema.ids import to_id
from schema.pagination import Connection, connection
from schema.permissions import IsAdmin
from server.audit import service as audit_service


@strawberry.type(name="AuditEntry")
class AuditEntryType:
    id: strawberry.ID
    actor_key_id: strawberry.ID | None
    actor_name: str
    operation: str
    target: str | None
    outcome: str
    error_code: str | None
    request_id: str | None
    variables: JSON
    created_at: datetime

    @classmethod
    def from_model(cls, row: audit_service.AuditEntry) -> "AuditEntryType":
        return cls(
            id=to_id(row.id),
            actor_key_id=to_id(row.actor_key_id) if row.actor_key_id is not None else None,
            actor_name=row.actor_name,
            operation=row.operation,
            target=row.target,
            outcome=row.outcome,
            error_code=row.error_code,
            request_id=row.request_id,
            variables=JSON(row.variables),
            created_at=row.created_at,
        )


@strawberry.type
class AuditQuery:
    @strawberry.field(permission_classes=[IsAdmin])
    async def audit_log(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEntryType]:
        listing = audit_service.list_audit_log(workspace_id=info.context.principal.workspace_id)
        return await connection(info, listing, AuditEntryType.from_model, first=first, after=after)
