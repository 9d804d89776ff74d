"""What an inspection reads from other domains, each through its named entry point:
keys (``server.access.service``), webhook routes (``server.notifications.inventory``)
and the last good backup and drill (``server.backups.status``)."""

import asyncio
import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from server.access import service as access_service
from server.access.service import KeyFacts
from server.backups import status as backup_status
from server.notifications import inventory
from server.notifications.inventory import WebhookRouteFacts
from server.security.deployment import RecoveryFacts


@dataclass(frozen=True)
class WorkspaceFacts:
    keys: list[KeyFacts]
    webhook_routes: list[WebhookRouteFacts]


async def workspace_facts(session: AsyncSession, *, workspace_id: int) -> WorkspaceFacts:
    return WorkspaceFacts(
        keys=await access_service.active_keys(session, workspace_id=workspace_id),
        webhook_routes=await inventory.webhook_routes(session, workspace_id=workspace_id),
    )


def _permission_bits(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


async def recovery_facts(session: AsyncSession, *, backup_dir: Path) -> RecoveryFacts:
    """Instance-wide: a backup holds every workspace."""
    return RecoveryFacts(
        last_successful_backup_at=await backup_status.last_successful_backup_at(session),
        last_passed_restore_drill_at=await backup_status.last_passed_restore_drill_at(session),
        backup_dir=str(backup_dir),
        backup_dir_mode=await asyncio.to_thread(_permission_bits, backup_dir),
    )
