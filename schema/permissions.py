"""Field permissions; each raises the project's error so the client gets its code."""

from typing import Any

from strawberry.permission import BasePermission

from schema.context import Info
from server.core.auth import Permission


class _RequiresPermission(BasePermission):
    permission: Permission

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        info.context.require(self.permission)
        return True


class IsAuthenticated(BasePermission):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal is not None


class CanRead(_RequiresPermission):
    permission = Permission.OBSERVABILITY_READ


class CanWrite(_RequiresPermission):
    permission = Permission.OBSERVABILITY_WRITE


class IsAdmin(_RequiresPermission):
    permission = Permission.ADMIN
