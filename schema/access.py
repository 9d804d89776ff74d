"""Workspaces, API keys and the calling principal."""

from datetime import datetime

import strawberry

from schema.audited import audited_mutation
from schema.context import Info
from schema.ids import parse_id
from schema.pagination import Connection, connection
from schema.permissions import IsAdmin, IsAuthenticated
from server.access import service as access_service
from server.core.auth import Permission
from server.core.roles import Role as RoleEnum

Role = strawberry.enum(RoleEnum, name="Role")


@strawberry.type(name="Workspace")
class WorkspaceType:
    id: strawberry.ID
    name: str
    created_at: datetime

    @classmethod
    def from_model(cls, row: access_service.Workspace) -> "WorkspaceType":
        return cls(id=strawberry.ID(str(row.id)), name=row.name, created_at=row.created_at)


@strawberry.type(name="ApiKey")
class ApiKeyType:
    id: strawberry.ID
    name: str
    role: Role  # type: ignore[valid-type]
    prefix: str = strawberry.field(description="The first characters of the secret.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, row: access_service.ApiKey) -> "ApiKeyType":
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            role=RoleEnum(row.role),
            prefix=row.secret_prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


@strawberry.type
class ApiKeyCreated:
    api_key: ApiKeyType
    secret: str = strawberry.field(description="Shown this once; only its digest is stored.")

    def audit_target(self) -> str:
        return f"ApiKey:{self.api_key.id}"


@strawberry.type
class WorkspaceCreated:
    workspace: WorkspaceType
    api_key: ApiKeyType
    secret: str = strawberry.field(description="The first admin key; shown this once.")

    def audit_target(self) -> str:
        return f"Workspace:{self.workspace.id}"


@strawberry.type(name="Principal")
class PrincipalType:
    key_id: strawberry.ID
    key_name: str
    role: Role  # type: ignore[valid-type]
    workspace_id: strawberry.ID
    permissions: list[str]

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceType:
        async with info.context.session() as session:
            row = await access_service.get_workspace(session, workspace_id=int(self.workspace_id))
        return WorkspaceType.from_model(row)


@strawberry.type
class AccessQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    def me(self, info: Info) -> PrincipalType:
        principal = info.context.principal
        return PrincipalType(
            key_id=strawberry.ID(str(principal.key_id)),
            key_name=principal.key_name,
            role=principal.role,
            workspace_id=strawberry.ID(str(principal.workspace_id)),
            permissions=sorted(permission.value for permission in principal.permissions),
        )

    @strawberry.field(permission_classes=[IsAdmin])
    async def api_keys(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ApiKeyType]:
        listing = access_service.list_api_keys(workspace_id=info.context.principal.workspace_id)
        return await connection(info, listing, ApiKeyType.from_model, first=first, after=after)


@strawberry.type
class AccessMutation:
    @audited_mutation(Permission.ADMIN, description="Create a workspace and its first admin key.")
    async def create_workspace(self, info: Info, name: str) -> WorkspaceCreated:
        context = info.context
        async with context.session() as session:
            workspace, issued = await access_service.create_workspace(
                session,
                name=name,
                created_by_key_id=context.principal.key_id,
                clock=context.services.clock,
            )
        return WorkspaceCreated(
            workspace=WorkspaceType.from_model(workspace),
            api_key=ApiKeyType.from_model(issued.api_key),
            secret=issued.secret,
        )

    @audited_mutation(Permission.ADMIN, description="Create an API key; the secret is shown once.")
    async def create_api_key(self, info: Info, name: str, role: Role) -> ApiKeyCreated:  # type: ignore[valid-type]
        context = info.context
        async with context.session() as session:
            issued = await access_service.create_api_key(
                session,
                workspace_id=context.principal.workspace_id,
                name=name,
                role=role,
                created_by_key_id=context.principal.key_id,
                clock=context.services.clock,
            )
        return ApiKeyCreated(api_key=ApiKeyType.from_model(issued.api_key), secret=issued.secret)

    @audited_mutation(Permission.ADMIN, description="Revoke an API key at once.")
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKeyType:
        context = info.context
        async with context.session() as session:
            key = await access_service.revoke_api_key(
                session,
                workspace_id=context.principal.workspace_id,
                key_id=parse_id(id),
                clock=context.services.clock,
            )
        context.after_commit(lambda: context.services.authenticator.forget_key(key.id))
        return ApiKeyType.from_model(key)
