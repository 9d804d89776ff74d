"""Tasks through GraphQL, and the runner's lease and periodic guarantees."""

import asyncio
import itertools
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.core.clock import FrozenClock
from server.core.jobs import JobRunner, TaskRun
from server.core.services import Services
from server.core.tasks import service as task_service
from server.core.tasks.models import Task
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient

TASK = "query($id: ID!) { task(id: $id) { id kind status progress result error attempts } }"
CANCEL = "mutation($id: ID!) { cancelTask(id: $id) { id status cancelRequested } }"
START = "mutation { startSecurityInspection { id status kind } }"


async def _wait_for_status(
    gql: GraphQLClient, key: str, task_id: str, status: str
) -> dict[str, Any]:
    for _ in range(100):
        task: dict[str, Any] = (await gql.data(TASK, {"id": task_id}, key=key))["task"]
        if task["status"] == status:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached {status}")


async def test_security_inspection_runs_as_a_task(gql: GraphQLClient, workspace: Workspace) -> None:
    started = (await gql.data(START, key=workspace.admin))["startSecurityInspection"]
    assert started["status"] == "QUEUED"
    assert started["kind"] == "security_inspection"
    task = await _wait_for_status(gql, workspace.viewer, started["id"], "SUCCEEDED")
    assert task["progress"] == 1.0
    assert task["attempts"] == 1
    verdicts = {item["check"]: item["verdict"] for item in task["result"]["items"]}
    assert verdicts["rate_limiting"] == "PASS"
    assert verdicts["too_many_admins"] == "PASS"
    listed = await gql.data("{ tasks(status: SUCCEEDED) { totalCount } }", key=workspace.viewer)
    assert listed["tasks"]["totalCount"] == 1


async def test_tasks_are_private_to_their_workspace(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    started = (await gql.data(START, key=workspace.admin))["startSecurityInspection"]
    theirs = await gql.data(TASK, {"id": started["id"]}, key=other_workspace.viewer)
    assert theirs["task"] is None
    assert await gql.error_code(CANCEL, {"id": started["id"]}, key=other_workspace.admin) == (
        "NOT_FOUND"
    )


async def test_only_admins_start_inspections(gql: GraphQLClient, workspace: Workspace) -> None:
    assert await gql.error_code(START, key=workspace.developer) == "FORBIDDEN"


async def test_cancel_a_queued_task_and_refuse_to_cancel_twice(
    gql: GraphQLClient, services: Services, workspace: Workspace
) -> None:
    task_id = str(await _enqueue(services, workspace, "kind-without-worker"))
    cancelled = (await gql.data(CANCEL, {"id": task_id}, key=workspace.developer))["cancelTask"]
    assert cancelled["status"] == "CANCELLED"
    assert await gql.error_code(CANCEL, {"id": task_id}, key=workspace.developer) == "CONFLICT"
    assert await gql.error_code(CANCEL, {"id": task_id}, key=workspace.viewer) == "FORBIDDEN"


async def _enqueue(services: Services, workspace: Workspace, kind: str) -> int:
    async with services.outbox.transaction() as session:
        task = await task_service.enqueue(
            session,
            workspace_id=int(workspace.id),
            kind=kind,
            params={},
            created_by_key_id=None,
            clock=services.clock,
        )
    return task.id


def _runner(services: Services, owner: str, handler: Any, kind: str) -> JobRunner:
    runner = JobRunner(
        services.db, services.outbox, services.clock, lease=timedelta(seconds=30), owner=owner
    )
    runner.register(kind, handler)
    return runner


async def test_a_task_whose_worker_died_is_taken_over_after_its_lease(
    services: Services, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    runs: list[str] = []

    async def handler(run: TaskRun) -> dict[str, Any]:
        runs.append(run.runner.owner)
        return {"attempt": run.attempt}

    task_id = await _enqueue(services, workspace, "takeover-test")
    dead = _runner(services, "dead-worker", handler, "takeover-test")
    async with services.outbox.transaction() as session:
        claimed = await task_service.claim_next(
            session,
            owner=dead.owner,
            lease=dead.lease,
            clock=services.clock,
            kinds=frozenset({"takeover-test"}),
        )
    assert claimed is not None
    assert claimed.id == task_id
    survivor = _runner(services, "survivor", handler, "takeover-test")
    assert await survivor.run_one() is False, "the lease is still valid"
    restore_clock.advance(timedelta(seconds=31))
    assert await survivor.run_one() is True
    assert runs == ["survivor"]
    async with services.outbox.transaction() as session:
        too_late = await task_service.finish(
            session,
            task_id=task_id,
            owner=dead.owner,
            status=task_service.TaskStatus.SUCCEEDED,
            clock=services.clock,
        )
    assert too_late is None, "the dead worker can no longer finish the task"
    async with services.db.reader() as session:
        task = await session.scalar(select(Task).where(Task.id == task_id))
    assert task is not None
    assert (task.status, task.attempts, task.result) == ("SUCCEEDED", 2, {"attempt": 2})


async def test_a_running_task_stops_at_its_next_progress_when_cancelled(
    services: Services, workspace: Workspace
) -> None:
    cancelled_seen = asyncio.Event()

    async def handler(run: TaskRun) -> dict[str, Any]:
        async with services.outbox.transaction() as session:
            await task_service.cancel(
                session, workspace_id=run.workspace_id, task_id=run.task_id, clock=services.clock
            )
        cancelled_seen.set()
        await run.progress(0.5)
        return {"finished": True}

    task_id = await _enqueue(services, workspace, "cancel-test")
    assert await _runner(services, "w1", handler, "cancel-test").run_one()
    assert cancelled_seen.is_set()
    async with services.db.reader() as session:
        task = await session.scalar(select(Task).where(Task.id == task_id))
    assert task is not None
    assert task.status == "CANCELLED"
    assert task.result is None


async def test_a_periodic_job_runs_once_per_period_across_runners(
    services: Services, restore_clock: FrozenClock
) -> None:
    calls = 0

    async def job() -> None:
        nonlocal calls
        calls += 1

    runners = [
        JobRunner(services.db, services.outbox, services.clock, owner=f"replica-{index}")
        for index in range(3)
    ]
    for runner in runners:
        runner.register_periodic("test-sweep", timedelta(minutes=1), job)
        await runner._ensure_periodic_rows()
    results = await asyncio.gather(*(runner.run_due_periodic() for runner in runners))
    assert sorted(results) == [False, False, True]
    assert calls == 1
    assert not any([await runner.run_due_periodic() for runner in runners])
    restore_clock.advance(timedelta(minutes=1))
    assert sum([await runner.run_due_periodic() for runner in runners]) == 1
    assert calls == 2


async def test_a_background_periodic_job_holds_up_neither_the_others_nor_a_stop(
    services: Services,
) -> None:
    started, release, quick = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def long_job() -> None:
        started.set()
        await release.wait()

    async def short_job() -> None:
        quick.set()

    runner = JobRunner(services.db, services.outbox, services.clock, owner="replica-bg")
    runner.register_periodic("test-long", timedelta(days=1), long_job, background=True)
    runner.register_periodic("test-short", timedelta(days=1), short_job)
    await runner._ensure_periodic_rows()
    assert await asyncio.wait_for(runner.run_due_periodic(), timeout=5)
    assert await asyncio.wait_for(runner.run_due_periodic(), timeout=5)
    await asyncio.wait_for(started.wait(), timeout=5)
    assert quick.is_set(), "the short job ran while the long one was still under way"
    await asyncio.wait_for(runner.stop(), timeout=5)
    assert not runner._background, "stopping the runner stops its background jobs"


async def test_a_loop_runs_at_start_and_again_as_soon_as_it_is_woken(
    services: Services,
) -> None:
    passes: asyncio.Queue[int] = asyncio.Queue()
    wakeup = asyncio.Event()

    async def one_pass() -> float | None:
        passes.put_nowait(passes.qsize())
        return None

    runner = JobRunner(services.db, services.outbox, services.clock, concurrency=0)
    runner.register_loop("test-loop", timedelta(minutes=1), one_pass, wakeup=wakeup)
    await runner.start()
    try:
        await asyncio.wait_for(passes.get(), timeout=5)
        wakeup.set()
        await asyncio.wait_for(passes.get(), timeout=5)
        await asyncio.sleep(0.2)
        assert passes.empty(), "a pass runs only when woken or after its interval"
    finally:
        await runner.stop()
    wakeup.set()
    await asyncio.sleep(0.1)
    assert passes.empty(), "a stopped runner runs no pass"


async def test_a_loop_runs_again_after_the_pause_its_pass_asks_for(services: Services) -> None:
    passes = 0
    again = asyncio.Event()

    async def one_pass() -> float | None:
        nonlocal passes
        passes += 1
        if passes == 2:
            again.set()
        return 0.05

    runner = JobRunner(services.db, services.outbox, services.clock, concurrency=0)
    runner.register_loop("test-loop", timedelta(minutes=1), one_pass, wakeup=asyncio.Event())
    await runner.start()
    try:
        await asyncio.wait_for(again.wait(), timeout=5)
    finally:
        await runner.stop()


async def test_wake_ups_sooner_than_a_loops_spacing_share_its_next_pass(
    services: Services,
) -> None:
    starts: list[float] = []
    wakeup = asyncio.Event()

    async def one_pass() -> float | None:
        starts.append(time.monotonic())
        return None

    runner = JobRunner(services.db, services.outbox, services.clock, concurrency=0)
    runner.register_loop("test-loop", timedelta(minutes=1), one_pass, wakeup=wakeup, spacing=0.3)
    await runner.start()
    try:
        for _ in range(10):  # ten wake-ups over 0.5 s
            wakeup.set()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.4)
    finally:
        await runner.stop()
    assert 2 <= len(starts) <= 3, starts
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= 0.29 for gap in gaps), gaps
