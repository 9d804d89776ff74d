"""The access domain's front door: workspaces and API keys (creation, revocation, lookup).

Only the SHA-256 digest of a key's secret is stored; the secret is shown once.
Other domains learn of keys through ``KeyFacts`` (``active_keys``), never the rows.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import secrets as key_secrets
from server.access.models import ApiKey, Workspace
from server.core.clock import Clock
from server.core.db import get_in_workspace
from server.core.errors import Conflict, InvalidInput, NotFound
from server.core.pagination import Listing
from server.core.roles import Role

__all__ = [
    "ApiKey",
    "IssuedKey",
    "KeyFacts",
    "Workspace",
    "active_keys",
    "bootstrap_admin_key",
    "create_api_key",
    "create_workspace",
    "find_active_key",
    "get_api_key",
    "get_workspace",
    "list_api_keys",
    "revoke_api_key",
    "touch_key",
]

DEFAULT_WORKSPACE = "default"
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class KeyFacts:
    """What other domains may know of an API key: never its secret or digest."""

    id: int
    name: str
    role: Role
    is_bootstrap: bool
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key and its secret, which is never shown again."""

    api_key: ApiKey
    secret: str


def _clean_name(name: str, *, field: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{field} must be 1 to {MAX_NAME_LENGTH} characters", field=field)
    return cleaned


async def _issue_key(
    session: AsyncSession,
    *,
    workspace_id: int,
    name: str,
    role: Role,
    now: datetime,
    created_by_key_id: int | None = None,
    is_bootstrap: bool = False,
) -> IssuedKey:
    secret = key_secrets.generate_secret()
    key = ApiKey(
        workspace_id=workspace_id,
        name=name,
        role=role.value,
        secret_prefix=key_secrets.display_prefix(secret),
        secret_sha256=key_secrets.digest(secret),
        is_bootstrap=is_bootstrap,
        created_by_key_id=created_by_key_id,
        created_at=now,
    )
    session.add(key)
    await session.flush()
    return IssuedKey(api_key=key, secret=secret)


async def create_workspace(
    session: AsyncSession, *, name: str, created_by_key_id: int | None, clock: Clock
) -> tuple[Workspace, IssuedKey]:
    workspace = Workspace(name=_clean_name(name, field="name"), created_at=clock.now())
    try:
        async with session.begin_nested():
            session.add(workspace)
            await session.flush()
    except IntegrityError as error:
        raise Conflict(f"a workspace named {workspace.name!r} exists already") from error
    issued = await _issue_key(
        session,
        workspace_id=workspace.id,
        name="admin",
        role=Role.ADMIN,
        now=clock.now(),
        created_by_key_id=created_by_key_id,
    )
    return workspace, issued


async def create_api_key(
    session: AsyncSession,
    *,
    workspace_id: int,
    name: str,
    role: Role,
    created_by_key_id: int,
    clock: Clock,
) -> IssuedKey:
    return await _issue_key(
        session,
        workspace_id=workspace_id,
        name=_clean_name(name, field="name"),
        role=role,
        now=clock.now(),
        created_by_key_id=created_by_key_id,
    )


async def get_api_key(session: AsyncSession, *, workspace_id: int, key_id: int) -> ApiKey:
    return await get_in_workspace(
        session, ApiKey, key_id, workspace_id=workspace_id, what="API key"
    )


async def revoke_api_key(
    session: AsyncSession, *, workspace_id: int, key_id: int, clock: Clock
) -> ApiKey:
    key = await get_api_key(session, workspace_id=workspace_id, key_id=key_id)
    if key.revoked_at is not None:
        raise Conflict(f"API key {key_id} is revoked already")
    key.revoked_at = clock.now()
    await session.flush()
    return key


def list_api_keys(*, workspace_id: int) -> Listing[ApiKey]:
    return Listing(select(ApiKey).where(ApiKey.workspace_id == workspace_id), order=[ApiKey.id])


async def active_keys(session: AsyncSession, *, workspace_id: int) -> list[KeyFacts]:
    """The workspace's unrevoked keys, for the checks of a security inspection."""
    keys = await session.scalars(
        select(ApiKey).where(ApiKey.workspace_id == workspace_id, ApiKey.revoked_at.is_(None))
    )
    return [
        KeyFacts(
            id=key.id,
            name=key.name,
            role=Role(key.role),
            is_bootstrap=key.is_bootstrap,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
        )
        for key in keys
    ]


async def get_workspace(session: AsyncSession, *, workspace_id: int) -> Workspace:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound(f"workspace {workspace_id} not found")
    return workspace


async def find_active_key(session: AsyncSession, *, secret_digest: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.secret_sha256 == secret_digest, ApiKey.revoked_at.is_(None))
    )


async def touch_key(session: AsyncSession, *, key_id: int, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


async def bootstrap_admin_key(session: AsyncSession, *, clock: Clock) -> IssuedKey | None:
    """On an empty database, create the default workspace and its first admin key."""
    if await session.scalar(select(exists().select_from(Workspace))):
        return None
    workspace = Workspace(name=DEFAULT_WORKSPACE, created_at=clock.now())
    session.add(workspace)
    await session.flush()
    return await _issue_key(
        session,
        workspace_id=workspace.id,
        name="bootstrap admin",
        role=Role.ADMIN,
        now=clock.now(),
        is_bootstrap=True,
    )
