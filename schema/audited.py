"""Mutations run in one transaction each and leave an audit record, win or lose."""

import dataclasses
import enum
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.base import StrawberryObjectDefinition

from schema.context import Context, Info
from server.audit import service as audit_service
from server.core.auth import Permission, Principal
from server.core.errors import ErrorCode, OpsGraphError
from server.core.outages import unavailable_dependency

logger = logging.getLogger(__name__)


def plain(value: Any) -> Any:
    """Argument values as JSON-ready data for the audit log."""
    if value is strawberry.UNSET:
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: plain(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if getattr(value, field.name) is not strawberry.UNSET
        }
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        # The audit log keeps only the first MAX_ITEMS items (see redact) and the
        # count of the rest: converting all 10,000 signals of a batch cost 15 %
        # of ingestSignals. The placeholders keep the length for that count.
        head = [plain(item) for item in value[: audit_service.MAX_ITEMS]]
        return head + [None] * (len(value) - len(head))
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def describe_target(result: Any, arguments: dict[str, Any]) -> str | None:
    describe = getattr(result, "audit_target", None)
    if callable(describe):
        return str(describe())
    definition: StrawberryObjectDefinition | None = getattr(
        result, "__strawberry_definition__", None
    )
    if definition is not None and hasattr(result, "id"):
        return f"{definition.name}:{result.id}"
    if "id" in arguments:
        return f"id:{arguments['id']}"
    return None


class AuditedTransaction(FieldExtension):
    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        context = info.context
        principal = context.principal
        arguments = plain(kwargs)
        try:
            principal.require(self.permission)
            async with context.unit_of_work() as session:
                result = await next_(source, info, **kwargs)
                entry = self._entry(context, principal, info, arguments, result=result)
                await audit_service.record(session, entry, now=context.services.clock.now())
        except Exception as error:
            code = error.code if isinstance(error, OpsGraphError) else ErrorCode.INTERNAL
            await self._record_failure(context, principal, info, arguments, code)
            raise
        return result

    def _entry(
        self,
        context: Context,
        principal: Principal,
        info: Info,
        arguments: dict[str, Any],
        *,
        result: Any = None,
        error_code: ErrorCode | None = None,
    ) -> audit_service.AuditRecord:
        return audit_service.AuditRecord(
            workspace_id=principal.workspace_id,
            actor_key_id=principal.key_id,
            actor_name=principal.key_name,
            operation=info.field_name,
            target=describe_target(result, arguments) if error_code is None else None,
            outcome="ok" if error_code is None else "error",
            error_code=error_code.value if error_code else None,
            request_id=context.request_id,
            variables=arguments,
        )

    async def _record_failure(
        self,
        context: Context,
        principal: Principal,
        info: Info,
        arguments: dict[str, Any],
        code: ErrorCode,
    ) -> None:
        entry = self._entry(context, principal, info, arguments, error_code=code)
        try:
            async with context.services.db.transaction() as session:
                await audit_service.record(session, entry, now=context.services.clock.now())
        except Exception as failure:
            if unavailable_dependency(failure) is None:  # an outage is told once, elsewhere
                logger.exception("could not write the audit record of a failed mutation")


def audited_mutation(permission: Permission, *, description: str | None = None) -> Any:
    """``strawberry.mutation`` with a permission check, a transaction and an audit record."""
    return strawberry.mutation(description=description, extensions=[AuditedTransaction(permission)])
