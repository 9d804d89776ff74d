"""Two server processes over one PostgreSQL and one Redis, as in production.

The processes poll the database only every 30 s, so an event that arrives
within seconds crossed Redis; polling is the safety net, not the path. Both
run every periodic job (notification dispatch and sending, the escalation
sweep) at once, as replicas do.
"""

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select

from server.core.events.models import Event
from server.core.services import Services
from server.core.tasks.models import Task
from server.escalation.models import EscalationExecution
from tests.conftest import Backend, Workspace
from tests.escalation.helpers import create_policy, step
from tests.graphql_client import GraphQLClient
from tests.notifications.helpers import create_route
from tests.notifications.receivers import Received, webhook_receiver
from tests.servers import (
    own_redis,
    redis_command,
    replica,
    replica_process,
    run,
    stop_redis,
    until_ready,
)
from tests.ws_client import subscription_client

pytestmark = pytest.mark.postgresql_only

#: Replicas poll the database rarely, so that events arriving in seconds crossed Redis.
POLLING = {"event_poll_seconds": "30", "job_poll_seconds": "0.2"}
TASK_EVENTS = "subscription($after: String) { taskEvents(after: $after) { cursor type payload } }"
START = "mutation { startSecurityInspection { id } }"
#: Tasks queued on each replica at once: both replicas' workers contend for all of them.
TASKS_EACH = 40


@asynccontextmanager
async def _replicas(backend: Backend, **settings: str) -> AsyncIterator[tuple[str, str]]:
    settings = POLLING | settings
    with replica(backend, **settings) as first, replica(backend, **settings) as second:
        await asyncio.gather(until_ready(first), until_ready(second))
        yield first, second


@pytest.fixture
async def production_backend(backend: Backend, services: Services) -> AsyncIterator[Backend]:
    """The PostgreSQL backend, with the test process's own runner paused.

    The test process runs on a frozen clock in the past, so its leases would
    look expired to replicas on the real clock; here only the replicas work.
    """
    assert backend.name == "postgresql"
    await services.runner.stop()
    try:
        yield backend
    finally:
        await services.runner.start()


async def _start_on(address: str, key: str) -> str:
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        data = await GraphQLClient(http).data(START, key=key)
    task_id: str = data["startSecurityInspection"]["id"]
    return task_id


async def _collect_until(client: object, task_ids: set[str]) -> list[dict[str, object]]:
    from tests.ws_client import SubscriptionClient

    assert isinstance(client, SubscriptionClient)
    received: list[dict[str, object]] = []
    finished: set[str] = set()
    while finished != task_ids:
        try:
            envelope = (await client.next_data(wait=10))["taskEvents"]
        except TimeoutError as error:
            seen = [(e["payload"], e["type"], e["cursor"]) for e in received]
            raise AssertionError(f"stalled after {seen}") from error
        received.append(envelope)
        payload = envelope["payload"]
        assert isinstance(payload, dict)
        if envelope["type"] == "task.succeeded":
            finished.add(str(payload["taskId"]))
    return received


async def test_an_event_raised_on_one_replica_reaches_a_subscriber_on_the_other(
    production_backend: Backend, workspace: Workspace
) -> None:
    async with (
        _replicas(production_backend) as (first, second),
        subscription_client(f"ws://{second}/graphql", workspace.viewer) as client,
    ):
        await client.subscribe(TASK_EVENTS)
        task_id = await _start_on(first, workspace.admin)
        received = await asyncio.wait_for(_collect_until(client, {task_id}), timeout=8)
    assert [e["type"] for e in received][0] == "task.queued"


async def test_queued_tasks_run_exactly_once_across_replicas(
    production_backend: Backend, workspace: Workspace, services: Services
) -> None:
    async with _replicas(production_backend) as (first, second):
        starts = [_start_on(address, workspace.admin) for address in (first, second) * TASKS_EACH]
        task_ids = {int(task_id) for task_id in await asyncio.gather(*starts)}
        assert len(task_ids) == 2 * TASKS_EACH
        for _ in range(600):
            async with services.db.reader() as session:
                done = await session.scalar(
                    select(func.count()).where(Task.id.in_(task_ids), Task.status == "SUCCEEDED")
                )
            if done == 2 * TASKS_EACH:
                break
            await asyncio.sleep(0.1)
    async with services.db.reader() as session:
        attempts = (await session.scalars(select(Task.attempts).where(Task.id.in_(task_ids)))).all()
        started = await session.scalar(
            select(func.count()).where(Event.subject_id.in_(task_ids), Event.type == "task.started")
        )
    assert sorted(set(attempts)) == [1]
    assert started == 2 * TASKS_EACH


async def test_a_redis_restart_loses_no_event_and_fails_no_mutation(
    production_backend: Backend, workspace: Workspace
) -> None:
    # Polling at its usual pace: wake-ups sent while Redis was down are gone, and
    # the database is the source of truth for what a subscriber receives.
    async with own_redis() as port:
        own = replace(production_backend, redis_url=f"redis://127.0.0.1:{port}/0")
        async with (
            _replicas(own, event_poll_seconds="2") as (first, second),
            subscription_client(f"ws://{second}/graphql", workspace.viewer) as client,
        ):
            await client.subscribe(TASK_EVENTS)
            before = await _start_on(first, workspace.admin)
            await stop_redis(port)
            try:
                during = await _start_on(first, workspace.admin)
            finally:
                await run(*redis_command(port))
            await asyncio.sleep(0.5)
            after = await _start_on(first, workspace.admin)
            received = await asyncio.wait_for(
                _collect_until(client, {before, during, after}), timeout=20
            )
    cursors = [int(str(envelope["cursor"])) for envelope in received]
    assert cursors == sorted(set(cursors)), "every event once, in order"
    by_task = {str(e["payload"]["taskId"]) for e in received if isinstance(e["payload"], dict)}
    assert by_task == {before, during, after}


async def test_tasks_of_a_killed_replica_are_taken_over_and_finish_once(
    production_backend: Backend, workspace: Workspace, services: Services
) -> None:
    lease = {"task_lease": "PT2S"}
    with replica_process(production_backend, **POLLING, **lease) as (doomed, process):
        await until_ready(doomed)
        # Started at once, so that a backlog keeps the replica busy until it dies:
        # started one by one, fast tasks could all finish before the kill.
        started = await asyncio.gather(*(_start_on(doomed, workspace.admin) for _ in range(60)))
        task_ids = {int(task_id) for task_id in started}
        running: list[int] = []
        for _ in range(100):
            async with services.db.reader() as session:
                running = list(
                    (
                        await session.scalars(
                            select(Task.id).where(Task.id.in_(task_ids), Task.status == "RUNNING")
                        )
                    ).all()
                )
            if running:
                break
            await asyncio.sleep(0.01)
        process.kill()  # SIGKILL: no clean-up, its leases just stop being renewed
        process.wait(timeout=10)
    assert running, "the replica was killed while running a task"
    async with services.db.reader() as session:
        orphaned = set(
            (
                await session.scalars(
                    select(Task.id).where(Task.id.in_(task_ids), Task.status == "RUNNING")
                )
            ).all()
        )
    assert orphaned
    with replica(production_backend, **POLLING, **lease) as survivor:
        await until_ready(survivor)
        for _ in range(300):
            async with services.db.reader() as session:
                done = await session.scalar(
                    select(func.count()).where(Task.id.in_(task_ids), Task.status == "SUCCEEDED")
                )
            if done == len(task_ids):
                break
            await asyncio.sleep(0.1)
    async with services.db.reader() as session:
        rows = (
            await session.execute(select(Task.id, Task.attempts).where(Task.id.in_(task_ids)))
        ).all()
        succeeded = await session.scalar(
            select(func.count()).where(
                Event.subject_id.in_(task_ids), Event.type == "task.succeeded"
            )
        )
        taken_over = set(
            (
                await session.scalars(
                    select(Event.subject_id).where(
                        Event.subject_id.in_(task_ids), Event.type == "task.taken_over"
                    )
                )
            ).all()
        )
    assert done == len(task_ids)
    assert succeeded == len(task_ids), "each task finished exactly once"
    assert taken_over == orphaned
    assert {task_id for task_id, attempts in rows if attempts == 2} == orphaned


ESCALATING_ALERTS = 12
RAISE = "mutation($input: AlertInput!) { raiseAlert(input: $input) { id } }"
#: Both replicas dispatch, send and sweep five times a second.
FAST_JOBS = {
    "allow_loopback_webhooks": "true",
    "notification_interval": "PT0.2S",
    "escalation_sweep_interval": "PT0.2S",
}


async def _raise_on(address: str, key: str, fingerprint: str) -> str:
    item = {
        "service": "checkout",
        "summary": "down",
        "severity": "PAGE",
        "fingerprint": fingerprint,
    }
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        data = await GraphQLClient(http).data(RAISE, {"input": item}, key=key)
    alert_id: str = data["raiseAlert"]["id"]
    return alert_id


async def _until_received(requests: list[Received], path: str, count: int) -> list[Received]:
    """The requests to ``path`` once ``count`` of them arrived (within 20 s), and
    whatever else arrives in the second after."""
    for _ in range(200):
        if sum(1 for request in requests if request.path == path) >= count:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    return [request for request in requests if request.path == path]


async def test_replicas_send_each_notification_and_escalation_step_exactly_once(
    production_backend: Backend, workspace: Workspace, services: Services
) -> None:
    # Two steps a second apart to one webhook route: each alert is notified when
    # it fires (the route matches every alert) and at each step, three messages.
    key = workspace.developer
    async with (
        webhook_receiver() as receiver,
        _replicas(production_backend, **FAST_JOBS) as (first, second),
        httpx.AsyncClient(base_url=f"http://{first}") as http,
    ):
        path = f"/hook/{workspace.name}"
        url = f"http://127.0.0.1:{receiver.port}{path}"
        await create_route(GraphQLClient(http), key, name="hook", channel="WEBHOOK", url=url)
        await create_policy(
            GraphQLClient(http), key, step(1, "route://hook"), step(1, "route://hook")
        )
        raised = [
            _raise_on(address, key, f"replicas-{n}")
            for n, address in enumerate((first, second) * (ESCALATING_ALERTS // 2))
        ]
        alert_ids = set(await asyncio.gather(*raised))
        received = await _until_received(receiver.requests, path, 3 * ESCALATING_ALERTS)
    sent = Counter(request.headers["webhook-id"] for request in received)
    assert [webhook_id for webhook_id, count in sent.items() if count > 1] == []
    assert len(sent) == 3 * ESCALATING_ALERTS
    reasons = Counter(
        (data["alert"]["alertId"], data["reason"].split(":")[0])
        for data in (json.loads(request.body)["data"] for request in received)
    )
    assert reasons == Counter(
        {
            (alert_id, reason): count
            for alert_id in alert_ids
            for reason, count in (("fired", 1), ("ACK_TIMEOUT", 2))
        }
    )
    async with services.db.reader() as session:
        executed = await session.scalar(
            select(func.count()).where(
                EscalationExecution.alert_id.in_([int(alert_id) for alert_id in alert_ids])
            )
        )
    assert executed == 2 * ESCALATING_ALERTS
