"""The security inspection task: runs every check and stores the items as its result."""

from dataclasses import asdict
from typing import Any

from server.access import service as access_service
from server.core.clock import Clock
from server.core.db import Database
from server.core.jobs import TaskHandler, TaskRun
from server.core.settings import Settings
from server.security import checks

KIND = "security_inspection"


def inspection_handler(db: Database, settings: Settings, clock: Clock) -> TaskHandler:
    async def inspect(run: TaskRun) -> dict[str, Any]:
        async with db.reader() as session:
            keys = await access_service.active_keys(session, workspace_id=run.workspace_id)
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
