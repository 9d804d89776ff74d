"""The principal behind every request, and how a key secret becomes one."""

from dataclasses import dataclass
from typing import Protocol

from server.core.errors import Forbidden, Unauthenticated
from server.core.roles import ROLE_PERMISSIONS, Permission, Role

__all__ = ["Authenticator", "Permission", "Principal", "Role", "parse_bearer"]


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: int
    key_name: str
    workspace_id: int
    role: Role

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(f"this operation needs the {permission.value} permission")


def parse_bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <api key>'")
    return token.strip()


class Authenticator(Protocol):
    """Resolves an API key secret to its principal (``server.access`` implements it)."""

    async def authenticate(self, secret: str) -> Principal: ...

    def forget_key(self, key_id: int) -> None:
        """Drop what is remembered of a key, e.g. once it is revoked."""
