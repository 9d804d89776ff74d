"""The security inspection task: runs every check and stores the items as its result."""

from dataclasses import asdict
from typing import Any

from sqlalchemy import select

from server.access.models import ApiKey
from server.core.clock import Clock
from server.core.db import Database
from server.core.jobs import TaskHandler, TaskRun
from server.core.settings import Settings
from server.security import checks

KIND = "security_inspection"


def inspection_handler(db: Database, settings: Settings, clock: Clock) -> TaskHandler:
    async def inspect(run: TaskRun) -> dict[str, Any]:
        async with db.reader() as session:
            keys = list(
                (
                    await session.scalars(
                        select(ApiKey).where(
                            ApiKey.workspace_id == run.workspace_id, ApiKey.revoked_at.is_(None)
                        )
                    )
                ).all()
            )
        await run.progress(0.5)
        now = clock.now()
        items = [
            checks.bootstrap_key(keys),
            checks.admin_count(keys),
            checks.stale_keys(keys, now),
            checks.never_used_keys(keys, now),
            *checks.deployment(settings),
        ]
        counts = {verdict.value: 0 for verdict in checks.Verdict}
        for item in items:
            counts[item.verdict.value] += 1
        return {
            "items": [asdict(item) | {"verdict": item.verdict.value} for item in items],
            "summary": counts,
        }

    return inspect
