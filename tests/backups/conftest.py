"""The backup tests run with the session's job runner paused: their tasks run on an
app of their own, one per test, whose backup directory is the test's own.

Runs and drills are the deployment's, not a workspace's: each test removes the
ones it made, so that later tests of the session (e.g. an inspection that finds
no recent backup) see none of them, nor their moved clocks.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from server.backups.models import BackupRun, RestoreDrill
from server.core.clock import FrozenClock
from server.core.services import Services
from server.core.settings import Settings
from tests.backups.helpers import BackupApp, backup_app


@pytest.fixture(autouse=True)
async def _runner_paused_and_runs_forgotten(
    paused_runner: FrozenClock, services: Services
) -> AsyncIterator[FrozenClock]:
    async with services.db.reader() as session:
        last_run = await session.scalar(select(func.coalesce(func.max(BackupRun.id), 0)))
        last_drill = await session.scalar(select(func.coalesce(func.max(RestoreDrill.id), 0)))
    yield paused_runner
    async with services.db.transaction() as session:
        await session.execute(delete(RestoreDrill).where(RestoreDrill.id > (last_drill or 0)))
        await session.execute(delete(BackupRun).where(BackupRun.id > (last_run or 0)))


@pytest.fixture
async def backups(
    settings: Settings, paused_runner: FrozenClock, tmp_path: Path
) -> AsyncIterator[BackupApp]:
    async with backup_app(settings, paused_runner, tmp_path / "backups") as app:
        yield app
