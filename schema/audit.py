"""The audit log of mutations (admin only)."""

from datetime import datetime
from enum import Enum
from typing import ClassVar

import strawberry
from strawberry.scalars import JSON

from schema import rendering
from schema.context import Info
from schema.ids import parse_id, to_id
from schema.pagination import Connection, connection
from schema.permissions import IsAdmin
from schema.rendering import RenderedField, RenderedNode
from server.audit import service as audit_service


@strawberry.type(name="AuditEntry")
class AuditEntryType:
    rendered: ClassVar[RenderedNode]

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


AuditEntryType.rendered = RenderedNode(
    "AuditEntry",
    {
        "id": RenderedField(audit_service.AuditEntry.id, rendering.ID),
        "actorKeyId": RenderedField(audit_service.AuditEntry.actor_key_id, rendering.ID),
        "actorName": RenderedField(audit_service.AuditEntry.actor_name),
        "operation": RenderedField(audit_service.AuditEntry.operation),
        "target": RenderedField(audit_service.AuditEntry.target),
        "outcome": RenderedField(audit_service.AuditEntry.outcome),
        "errorCode": RenderedField(audit_service.AuditEntry.error_code),
        "requestId": RenderedField(audit_service.AuditEntry.request_id),
        "variables": RenderedField(audit_service.AuditEntry.variables),
        "createdAt": RenderedField(audit_service.AuditEntry.created_at, rendering.DATE_TIME),
    },
)


@strawberry.enum
class AuditOutcome(Enum):
    OK = "ok"
    ERROR = "error"


@strawberry.input
class AuditLogFilter:
    actor_key_id: strawberry.ID | None = strawberry.field(
        default=None, description="Entries of this API key."
    )
    actor_name: str | None = strawberry.field(
        default=None, description="Entries of keys of this name."
    )
    operation: str | None = strawberry.field(
        default=None, description="Entries of this mutation, e.g. createApiKey."
    )
    outcome: AuditOutcome | None = None
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Entries created at or after this."
    )
    to: datetime | None = strawberry.field(default=None, description="Entries created before this.")

    def to_filter(self) -> audit_service.AuditFilter:
        key_id = self.actor_key_id
        return audit_service.AuditFilter(
            actor_key_id=parse_id(key_id, field="filter.actorKeyId") if key_id else None,
            actor_name=self.actor_name,
            operation=self.operation,
            outcome=self.outcome.value if self.outcome else None,
            from_=self.from_,
            to=self.to,
        )


@strawberry.type
class AuditQuery:
    @strawberry.field(permission_classes=[IsAdmin], description="Newest first.")
    async def audit_log(
        self,
        info: Info,
        filter: AuditLogFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntryType]:
        listing = audit_service.list_audit_log(
            workspace_id=info.context.principal.workspace_id,
            filter=filter.to_filter() if filter else None,
        )
        return await connection(
            info,
            listing,
            AuditEntryType.from_model,
            first=first,
            after=after,
            rendered=AuditEntryType.rendered,
        )
