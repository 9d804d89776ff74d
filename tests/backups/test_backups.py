"""Backup runs through the API on both backends: the dump, its manifest, failures,
retention and who may ask."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from server.backups import status
from server.core.clock import FrozenClock
from server.core.migrations import alembic_config
from server.core.settings import Settings
from tests.backups.helpers import (
    RUNS,
    START_BACKUP,
    START_DRILL,
    BackupApp,
    backup_app,
    files_in,
    sha256_of,
)
from tests.conftest import Workspace

INGEST = "mutation($s: [SignalInput!]!) { ingestSignals(signals: $s) { accepted } }"
RAISE = """mutation($input: AlertInput!) { raiseAlert(input: $input) { id } }"""


async def populate(app: BackupApp, workspace: Workspace, signals: int = 40) -> None:
    batch = [
        {"service": "checkout", "name": "latency_ms", "value": float(i), "labels": {"i": str(i)}}
        for i in range(signals)
    ]
    accepted = await app.gql.data(INGEST, {"s": batch}, key=workspace.developer)
    assert accepted["ingestSignals"]["accepted"] == signals
    alert = {"service": "checkout", "summary": "slow", "severity": "WARNING"}
    await app.gql.data(RAISE, {"input": alert}, key=workspace.developer)


async def test_a_backup_writes_a_complete_dump_and_its_manifest(
    backups: BackupApp, workspace: Workspace
) -> None:
    await populate(backups, workspace)
    run = await backups.back_up(workspace.admin)

    assert run["status"] == "SUCCEEDED", run
    assert run["trigger"] == "MANUAL"
    dump = backups.backup_dir / run["fileName"]
    assert run["sizeBytes"] == dump.stat().st_size > 0
    assert run["sha256"] == sha256_of(dump)
    assert run["rowCounts"]["signals"] >= 40
    assert run["rowCounts"]["backup_runs"] >= 1, "the dump holds its own run, RUNNING"
    head = ScriptDirectory.from_config(alembic_config(backups.services.db.url)).get_current_head()
    assert run["alembicRevision"] == head
    manifest = json.loads((backups.backup_dir / f"{run['fileName']}.manifest.json").read_text())
    assert manifest["sha256"] == run["sha256"]
    assert manifest["row_counts"] == run["rowCounts"]
    assert manifest["database_kind"] == run["databaseKind"]
    assert files_in(backups.backup_dir) == sorted([dump.name, f"{dump.name}.manifest.json"])
    assert backups.backup_dir.stat().st_mode & 0o077 == 0, "closed to other users"
    async with backups.services.db.reader() as session:
        assert await status.last_successful_backup_at(session) is not None


async def test_the_last_successful_backup_is_the_newest_that_completed(
    backups: BackupApp, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    paused_runner.advance(timedelta(days=400))
    run = await backups.back_up(workspace.admin)
    async with backups.services.db.reader() as session:
        newest = await status.last_successful_backup_at(session)
    assert newest is not None
    assert newest.isoformat() == run["finishedAt"].replace("Z", "+00:00")


async def test_an_unwritable_backup_directory_leaves_a_failed_run_and_no_file(
    settings: Settings, paused_runner: FrozenClock, tmp_path: Path, workspace: Workspace
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the backup directory should be")
    async with backup_app(settings, paused_runner, blocker / "backups") as app:
        task = (await app.gql.data(START_BACKUP, key=workspace.admin))["startBackupRun"]
        finished = await app.run_task(task["id"], workspace.admin)
        run = await app.run_node(workspace.admin, 0)
    assert finished["status"] == "FAILED"
    assert "cannot use the backup directory" in finished["error"]
    assert run["status"] == "FAILED"
    assert "cannot use the backup directory" in run["reason"]
    assert run["fileName"] is None
    assert run["sha256"] is None
    assert files_in(tmp_path) == ["not-a-directory"]


@pytest.mark.postgresql_only
async def test_a_missing_pg_dump_leaves_a_failed_run_and_no_file(
    settings: Settings, paused_runner: FrozenClock, tmp_path: Path, workspace: Workspace
) -> None:
    backup_dir = tmp_path / "backups"
    async with backup_app(
        settings, paused_runner, backup_dir, pg_bin_dir=tmp_path / "no-such-bin"
    ) as app:
        task = (await app.gql.data(START_BACKUP, key=workspace.admin))["startBackupRun"]
        finished = await app.run_task(task["id"], workspace.admin)
        run = await app.run_node(workspace.admin, 0)
    assert finished["status"] == "FAILED"
    assert run["status"] == "FAILED"
    assert f"pg_dump not found at {tmp_path / 'no-such-bin' / 'pg_dump'}" in run["reason"]
    assert files_in(backup_dir) == []


async def test_retention_expires_exactly_the_backups_older_than_it(
    backups: BackupApp, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    paused_runner.advance(timedelta(days=800))
    made_at = paused_runner.now()
    old = await backups.back_up(workspace.admin)
    paused_runner.advance(timedelta(days=10))
    middle = await backups.back_up(workspace.admin)
    paused_runner.advance(timedelta(days=19, hours=23))
    young = await backups.back_up(workspace.admin)
    retention = backups.services.settings.backup_retention
    assert retention == timedelta(days=30)
    paused_runner.set(made_at + timedelta(days=40))  # old: 40 d, middle: 30 d, young: 20 d

    await backups.services.runner.periodic["backup_retention"].run()

    nodes = {
        edge["node"]["id"]: edge["node"]
        for edge in (await backups.gql.data(RUNS, {"first": 10}, key=workspace.admin))[
            "backupRuns"
        ]["edges"]
    }
    assert nodes[old["id"]]["status"] == "EXPIRED"
    assert nodes[old["id"]]["expiredAt"] is not None
    assert nodes[middle["id"]]["status"] == "SUCCEEDED", "exactly 30 days old is kept"
    assert nodes[young["id"]]["status"] == "SUCCEEDED"
    kept = sorted(
        name
        for run in (middle, young)
        for name in (run["fileName"], f"{run['fileName']}.manifest.json")
    )
    assert files_in(backups.backup_dir) == kept
    code = await backups.gql.error_code(START_DRILL, {"id": old["id"]}, key=workspace.admin)
    assert code == "BAD_USER_INPUT"


@pytest.mark.parametrize("role", ["viewer", "developer"])
async def test_only_admins_reach_backups(
    backups: BackupApp, workspace: Workspace, role: str
) -> None:
    key = getattr(workspace, role)
    before = (await backups.gql.data(RUNS, key=workspace.admin))["backupRuns"]["totalCount"]
    assert await backups.gql.error_code(START_BACKUP, key=key) == "FORBIDDEN"
    assert await backups.gql.error_code(START_DRILL, {"id": "1"}, key=key) == "FORBIDDEN"
    assert await backups.gql.error_code(RUNS, key=key) == "FORBIDDEN"
    drills = "{ restoreDrills { edges { node { id } } } }"
    assert await backups.gql.error_code(drills, key=key) == "FORBIDDEN"
    assert not await backups.services.runner.run_one(), "no task was queued"
    after = (await backups.gql.data(RUNS, key=workspace.admin))["backupRuns"]["totalCount"]
    assert after == before


async def test_a_drill_of_an_unknown_or_unusable_run_is_refused_with_a_code(
    settings: Settings, paused_runner: FrozenClock, tmp_path: Path, workspace: Workspace
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    async with backup_app(settings, paused_runner, blocker / "backups") as app:
        failed = await app.back_up(workspace.admin)
        assert failed["status"] == "FAILED"
        gql = app.gql
        assert await gql.error_code(START_DRILL, {"id": "987654321"}, key=workspace.admin) == (
            "NOT_FOUND"
        )
        field, message = await gql.bad_input(START_DRILL, {"id": failed["id"]}, key=workspace.admin)
        assert field == "backupRunId"
        assert "FAILED" in message
        assert await gql.bad_input_field(START_DRILL, {"id": "x"}, key=workspace.admin) == (
            "backupRunId"
        )
        assert not await app.services.runner.run_one(), "no task was queued"
