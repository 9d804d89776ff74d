"""The checks of the bootstrap key and of backups and restore drills, made to fail
(or warn) and to pass through GraphQL, each on a deployment of its own: the
session's database has no bootstrap key to revoke, and backups are instance-wide.
Backups and drills are made through the backups API."""

from datetime import timedelta
from pathlib import Path

from server.core.clock import FrozenClock
from tests.conftest import Backend
from tests.security.helpers import (
    FreshDeployment,
    create_key,
    fresh_deployment,
    key_ids,
    revoke_key,
)

START_BACKUP = "mutation { startBackupRun { id } }"
START_DRILL = "mutation($id: ID!) { startRestoreDrill(backupRunId: $id) { id } }"
NEWEST_BACKUP = "{ backupRuns(first: 1) { edges { node { id status } } } }"
NEWEST_DRILL = "{ restoreDrills(first: 1) { edges { node { id passed } } } }"


async def test_the_bootstrap_key_fails_until_it_is_revoked(
    backend: Backend, tmp_path: Path, clock: FrozenClock
) -> None:
    async with fresh_deployment(backend, tmp_path, clock) as fresh:
        root = fresh.bootstrap_key
        bootstrap_id = (await key_ids(fresh.app.gql, root))["bootstrap admin"]
        active = await fresh.app.inspect(root)
        assert active.status("bootstrap_key_active") == "FAIL"
        assert active.detail("bootstrap_key_active") == (
            f"the key printed at the first start is still active: bootstrap admin (#{bootstrap_id})"
        )
        assert "revokeApiKey" in active.item("bootstrap_key_active")["remediation"]
        _alice, alice = await create_key(fresh.app.gql, root, "alice", "ADMIN")
        await revoke_key(fresh.app.gql, alice, bootstrap_id)
        revoked = await fresh.app.inspect(alice)
        assert revoked.status("bootstrap_key_active") == "PASS"


async def _back_up(fresh: FreshDeployment) -> str:
    key = fresh.bootstrap_key
    await fresh.app.run_task(
        (await fresh.app.gql.data(START_BACKUP, key=key))["startBackupRun"], key
    )
    node = (await fresh.app.gql.data(NEWEST_BACKUP, key=key))["backupRuns"]["edges"][0]["node"]
    assert node["status"] == "SUCCEEDED"
    backup_id: str = node["id"]
    return backup_id


async def _drill(fresh: FreshDeployment, backup_id: str) -> None:
    key = fresh.bootstrap_key
    started = await fresh.app.gql.data(START_DRILL, {"id": backup_id}, key=key)
    await fresh.app.run_task(started["startRestoreDrill"], key)
    node = (await fresh.app.gql.data(NEWEST_DRILL, key=key))["restoreDrills"]["edges"][0]["node"]
    assert node["passed"] is True


async def test_a_backup_is_due_every_24_hours(
    backend: Backend, tmp_path: Path, paused_runner: FrozenClock
) -> None:
    async with fresh_deployment(backend, tmp_path, paused_runner) as fresh:
        key = fresh.bootstrap_key
        never = await fresh.app.inspect(key)
        assert never.status("recent_backup") == "FAIL"
        assert never.detail("recent_backup") == ("no successful backup ever; at most 24 h advised")
        assert "startBackupRun" in never.item("recent_backup")["remediation"]
        backed_up_at = paused_runner.now()
        await _back_up(fresh)
        paused_runner.advance(timedelta(hours=24))
        assert (await fresh.app.inspect(key)).status("recent_backup") == "PASS"
        paused_runner.advance(timedelta(hours=1))
        late = await fresh.app.inspect(key)
        assert late.status("recent_backup") == "FAIL"
        assert late.detail("recent_backup") == (
            f"last successful backup at {backed_up_at.isoformat()} (25 h ago); at most 24 h advised"
        )
        await _back_up(fresh)
        assert (await fresh.app.inspect(key)).status("recent_backup") == "PASS"


async def test_a_passed_restore_drill_is_due_every_30_days(
    backend: Backend, tmp_path: Path, paused_runner: FrozenClock
) -> None:
    async with fresh_deployment(backend, tmp_path, paused_runner) as fresh:
        key = fresh.bootstrap_key
        backup_id = await _back_up(fresh)
        never = await fresh.app.inspect(key)
        assert never.status("recent_restore_drill") == "FAIL"
        assert never.detail("recent_restore_drill") == (
            "no restore drill has ever passed: backups are untested"
        )
        await _drill(fresh, backup_id)
        passed = await fresh.app.inspect(key)
        assert passed.status("recent_restore_drill") == "PASS"
        paused_runner.advance(timedelta(days=31))
        stale = await fresh.app.inspect(key)
        assert stale.status("recent_restore_drill") == "WARN"
        assert "(31 days ago); one every 30 days advised" in stale.detail("recent_restore_drill")
        await _drill(fresh, await _back_up(fresh))
        assert (await fresh.app.inspect(key)).status("recent_restore_drill") == "PASS"
