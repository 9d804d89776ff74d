"""An app whose runner the test drives (``run_one``), and the queries the tests share."""

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from server.backups.scratch import scratch_exists
from server.core.clock import FrozenClock
from server.core.services import Services
from server.core.settings import Settings
from server.transport.app import create_app
from tests.graphql_client import GraphQLClient

START_BACKUP = "mutation { startBackupRun { id kind status } }"
START_DRILL = "mutation($id: ID!) { startRestoreDrill(backupRunId: $id) { id kind status } }"
TASK = "query($id: ID!) { task(id: $id) { status result error } }"
RUNS = """query($first: Int) { backupRuns(first: $first) { totalCount edges { node {
  id status trigger databaseKind fileName sizeBytes sha256 alembicRevision rowCounts tool
  reason durationSeconds createdAt finishedAt expiredAt } } } }"""
DRILLS = """query($first: Int) { restoreDrills(first: $first) { edges { node {
  id status passed checks { name passed detail } report reason ephemeralDatabase
  ephemeralDatabaseDropped durationSeconds finishedAt backupRun { id sha256 } } } } }"""
EVERY_CHECK = [
    "checksum",
    "restore",
    "alembic_revision",
    "expected_tables",
    "row_counts",
    "sample_queries",
]


@dataclass(frozen=True)
class BackupApp:
    gql: GraphQLClient
    services: Services
    backup_dir: Path

    async def run_task(self, task_id: str, key: str) -> dict[str, Any]:
        """Run the queued task on this app's runner; the task as it finished."""
        assert await self.services.runner.run_one(), "no task was due"
        task: dict[str, Any] = (await self.gql.data(TASK, {"id": task_id}, key=key))["task"]
        return task

    async def back_up(self, key: str) -> dict[str, Any]:
        """A backup run made through the API; its node in ``backupRuns``."""
        task = (await self.gql.data(START_BACKUP, key=key))["startBackupRun"]
        await self.run_task(task["id"], key)
        return await self.run_node(key, 0)

    async def run_node(self, key: str, index: int) -> dict[str, Any]:
        edges = (await self.gql.data(RUNS, {"first": index + 1}, key=key))["backupRuns"]["edges"]
        node: dict[str, Any] = edges[index]["node"]
        return node

    async def drill(self, key: str, run_id: str) -> dict[str, Any]:
        task = (await self.gql.data(START_DRILL, {"id": run_id}, key=key))["startRestoreDrill"]
        finished = await self.run_task(task["id"], key)
        assert finished["status"] == "SUCCEEDED", finished
        return await self.newest_drill(key)

    async def newest_drill(self, key: str) -> dict[str, Any]:
        edges = (await self.gql.data(DRILLS, {"first": 1}, key=key))["restoreDrills"]["edges"]
        node: dict[str, Any] = edges[0]["node"]
        return node

    async def ephemeral_database_exists(self, name: str) -> bool:
        return await scratch_exists(self.services.db, backup_dir=self.backup_dir, name=name)


@asynccontextmanager
async def backup_app(
    settings: Settings, clock: FrozenClock, backup_dir: Path, **overrides: Any
) -> AsyncIterator[BackupApp]:
    """An app on the session's database that runs no jobs by itself."""
    values = {"backup_dir": backup_dir, "run_jobs": False, **overrides}
    application = create_app(settings.model_copy(update=values), clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://backups.test") as http:
            yield BackupApp(GraphQLClient(http), application.state.services, backup_dir)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_in(directory: Path) -> list[str]:
    """Every file under the directory, hidden partial files too."""
    if not directory.exists():
        return []
    return sorted(
        str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()
    )
