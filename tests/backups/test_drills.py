"""Restore drills through the API on both backends: a good backup passes every
check, a damaged one fails the right check, and the ephemeral database is gone
afterwards, also after a cancelled drill or a process that died."""

from datetime import timedelta

from sqlalchemy import update

from server.backups import status
from server.backups.jobs import clean_up_after_dead_processes
from server.backups.models import BackupRun, DrillStatus, RestoreDrill, Trigger
from server.backups.scratch import create_scratch, new_scratch_name
from server.backups.service import DRILL_KIND
from server.core.clock import FrozenClock
from server.core.jobs import TaskCancelled, TaskRun
from server.core.tasks import service as task_service
from tests.backups.helpers import EVERY_CHECK, START_DRILL, TASK, BackupApp
from tests.backups.test_backups import populate
from tests.conftest import Workspace
from tests.ws_client import subscription_client

CANCEL = "mutation($id: ID!) { cancelTask(id: $id) { status } }"
TASK_EVENTS = """subscription($taskId: ID, $after: String) {
  taskEvents(taskId: $taskId, after: $after) { type payload } }"""


async def test_a_backup_of_a_populated_database_restores_with_every_check_passing(
    backups: BackupApp, workspace: Workspace
) -> None:
    await populate(backups, workspace)
    run = await backups.back_up(workspace.admin)

    drill = await backups.drill(workspace.admin, run["id"])

    assert [check["name"] for check in drill["checks"]] == EVERY_CHECK
    assert all(check["passed"] for check in drill["checks"]), drill["checks"]
    assert drill["passed"] is True
    assert drill["status"] == "PASSED"
    assert drill["backupRun"] == {"id": run["id"], "sha256": run["sha256"]}
    assert drill["report"].startswith(f"# Restore drill {drill['id']}: PASSED")
    assert "| row_counts | pass |" in drill["report"]
    assert drill["durationSeconds"] > 0
    assert drill["ephemeralDatabase"].startswith(f"opsgraph_drill_{drill['id']}_")
    assert drill["ephemeralDatabaseDropped"] is True
    assert not await backups.ephemeral_database_exists(drill["ephemeralDatabase"])
    async with backups.services.db.reader() as session:
        assert await status.last_passed_restore_drill_at(session) is not None


async def test_a_tampered_dump_fails_the_drill_at_the_checksum(
    backups: BackupApp, workspace: Workspace
) -> None:
    run = await backups.back_up(workspace.admin)
    dump = backups.backup_dir / run["fileName"]
    content = bytearray(dump.read_bytes())
    content[len(content) // 2] ^= 0xFF
    dump.write_bytes(bytes(content))

    drill = await backups.drill(workspace.admin, run["id"])

    assert drill["passed"] is False
    assert drill["status"] == "FAILED"
    assert [(c["name"], c["passed"]) for c in drill["checks"]] == [("checksum", False)]
    assert run["sha256"] in drill["checks"][0]["detail"]
    assert drill["ephemeralDatabaseDropped"] is True
    assert not await backups.ephemeral_database_exists(drill["ephemeralDatabase"])


async def test_a_manifest_whose_row_count_differs_fails_the_row_count_check(
    backups: BackupApp, workspace: Workspace
) -> None:
    await populate(backups, workspace)
    run = await backups.back_up(workspace.admin)
    counts = dict(run["rowCounts"])
    counts["signals"] += 1
    async with backups.services.db.transaction() as session:
        await session.execute(
            update(BackupRun).where(BackupRun.id == int(run["id"])).values(row_counts=counts)
        )

    drill = await backups.drill(workspace.admin, run["id"])

    verdicts = {check["name"]: check for check in drill["checks"]}
    assert list(verdicts) == EVERY_CHECK
    assert verdicts["row_counts"]["passed"] is False
    assert (
        f"signals {counts['signals'] - 1} (manifest {counts['signals']})"
        in (verdicts["row_counts"]["detail"])
    )
    assert all(c["passed"] for name, c in verdicts.items() if name != "row_counts")
    assert drill["passed"] is False
    assert not await backups.ephemeral_database_exists(drill["ephemeralDatabase"])


async def test_a_cancelled_drill_drops_its_ephemeral_database(
    backups: BackupApp, workspace: Workspace
) -> None:
    run = await backups.back_up(workspace.admin)
    gql, services = backups.gql, backups.services
    task = (await gql.data(START_DRILL, {"id": run["id"]}, key=workspace.admin))[
        "startRestoreDrill"
    ]
    runner = services.runner
    async with services.outbox.transaction() as session:
        claimed = await task_service.claim_next(
            session,
            owner=runner.owner,
            lease=runner.lease,
            clock=services.clock,
            kinds=frozenset({DRILL_KIND}),
        )
    assert claimed is not None
    assert str(claimed.id) == task["id"]
    cancelling = await gql.data(CANCEL, {"id": task["id"]}, key=workspace.admin)
    assert cancelling["cancelTask"]["status"] == "RUNNING"
    run_of_task = TaskRun(
        claimed.id, claimed.workspace_id, claimed.kind, claimed.params, claimed.attempts, runner
    )

    raised = None
    try:
        await runner.handlers[DRILL_KIND](run_of_task)
    except TaskCancelled as error:
        raised = error

    assert raised is not None, "the drill noticed the cancellation"
    drill = await backups.newest_drill(workspace.admin)
    assert drill["status"] == "CANCELLED"
    assert drill["reason"] == "cancelled"
    assert drill["ephemeralDatabaseDropped"] is True
    assert not await backups.ephemeral_database_exists(drill["ephemeralDatabase"])


async def test_the_cleanup_drops_what_a_dead_drill_left_behind(
    backups: BackupApp, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    run = await backups.back_up(workspace.admin)
    services = backups.services
    async with services.db.transaction() as session:
        drill = RestoreDrill(
            backup_run_id=int(run["id"]),
            task_id=None,
            trigger=Trigger.SCHEDULED.value,
            status=DrillStatus.RUNNING.value,
            checks=[],
            scratch_dropped=False,
            created_at=paused_runner.now(),
        )
        session.add(drill)
        await session.flush()
        drill.scratch_name = new_scratch_name(drill.id)
    name = drill.scratch_name
    assert name is not None
    await create_scratch(services.db, backup_dir=backups.backup_dir, name=name)
    if not services.db.is_postgresql:
        (backups.backup_dir / ".drills" / f"{name}.sqlite3").write_bytes(b"left behind")
    assert await backups.ephemeral_database_exists(name)

    await clean_up_after_dead_processes(services)
    assert await backups.ephemeral_database_exists(name), "a drill within its lease runs on"

    paused_runner.advance(services.settings.backup_work_lease + timedelta(seconds=1))
    await clean_up_after_dead_processes(services)

    assert not await backups.ephemeral_database_exists(name)
    async with services.db.reader() as session:
        cleaned = await session.get_one(RestoreDrill, drill.id)
    assert cleaned.status == DrillStatus.FAILED.value
    assert cleaned.scratch_dropped
    assert cleaned.reason is not None
    assert "interrupted" in cleaned.reason


async def test_a_drill_streams_its_progress_on_task_events(
    backups: BackupApp, workspace: Workspace, live_server: str
) -> None:
    run = await backups.back_up(workspace.admin)
    before = (await backups.gql.data("{ latestEventCursor }", key=workspace.admin))[
        "latestEventCursor"
    ]
    task = (await backups.gql.data(START_DRILL, {"id": run["id"]}, key=workspace.admin))[
        "startRestoreDrill"
    ]
    assert await backups.services.runner.run_one()
    finished = await backups.gql.data(TASK, {"id": task["id"]}, key=workspace.admin)
    assert finished["task"]["status"] == "SUCCEEDED"
    assert finished["task"]["result"]["passed"] is True

    types: list[str] = []
    async with subscription_client(live_server, workspace.admin) as client:
        await client.subscribe(TASK_EVENTS, {"taskId": task["id"], "after": before})
        while not types or types[-1] != "task.succeeded":
            types.append((await client.next_data(wait=10))["taskEvents"]["type"])
    assert types[:2] == ["task.queued", "task.started"]
    assert types.count("task.progress") >= 3
