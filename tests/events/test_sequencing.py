"""Cursors are given after commit: writers never queue behind each other, and
the cursors stay gap-free whatever commits, aborts or waits."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, text

from server.core.events.models import Event
from server.core.events.service import SEQUENCER_LOCK
from server.core.services import Services
from server.core.tasks import service as task_service
from server.core.tasks.models import Task
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.ws_client import SubscriptionClient, subscription_client

TASK_EVENTS = """subscription($after: String) {
  taskEvents(after: $after) { cursor type payload }
}"""
START = "mutation { startSecurityInspection { id } }"
LATEST = "{ latestEventCursor }"
WAIT_SECONDS = 10.0


class Aborted(Exception):
    pass


async def _latest_cursor(gql: GraphQLClient, workspace: Workspace) -> int:
    return int((await gql.data(LATEST, key=workspace.viewer))["latestEventCursor"])


async def _events_until_finished(client: SubscriptionClient, task_id: str) -> list[dict[str, Any]]:
    received = []
    while True:
        envelope = (await client.next_data(wait=WAIT_SECONDS))["taskEvents"]
        received.append(envelope)
        finished = envelope["type"] in ("task.succeeded", "task.failed", "task.cancelled")
        if finished and envelope["payload"]["taskId"] == task_id:
            return received


async def _cursors_after(services: Services, after: int) -> list[int]:
    async with services.db.reader() as session:
        rows = await session.scalars(select(Event.seq).where(Event.seq > after).order_by(Event.seq))
        return [seq for seq in rows.all() if seq is not None]


async def _unsequenced(services: Services, workspace: Workspace) -> int:
    async with services.db.reader() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.workspace_id == int(workspace.id), Event.seq.is_(None))
        )
        return int(count or 0)


async def _until_committed_without_cursor(services: Services, workspace: Workspace) -> None:
    for _ in range(int(WAIT_SECONDS / 0.05)):
        if await _unsequenced(services, workspace):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no event was committed while the sequencer was busy")


async def _write_and_abort(services: Services, workspace: Workspace) -> None:
    async with services.outbox.transaction() as session:
        await task_service.enqueue(
            session,
            workspace_id=int(workspace.id),
            kind="aborted",
            params={},
            created_by_key_id=None,
            clock=services.clock,
        )
        await session.flush()  # the event row exists, uncommitted
        raise Aborted


def _gap_free(cursors: list[int], after: int) -> bool:
    return cursors == list(range(after + 1, after + 1 + len(cursors)))


@pytest.mark.postgresql_only  # SQLite admits one writer at a time: it numbers inside it
async def test_a_writer_commits_while_the_sequencer_is_busy(
    gql: GraphQLClient, live_server: str, workspace: Workspace, services: Services
) -> None:
    """A sequencer holding its lock (numbering, or pruning) does not hold up the
    writers' commits: they commit, and get their cursors once it is done."""
    before = await _latest_cursor(gql, workspace)
    async with (
        subscription_client(live_server, workspace.viewer) as client,
        services.db.engine.connect() as sequencer,
    ):
        await client.subscribe(TASK_EVENTS, {"after": str(before)})
        await sequencer.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK})
        started = asyncio.create_task(gql.data(START, key=workspace.admin))
        try:
            await _until_committed_without_cursor(services, workspace)
            await client.expect_silence(0.3)  # committed, not yet numbered: not delivered
            assert not started.done(), "the writer returns once its events have cursors"
        finally:
            await sequencer.commit()
        answer = await asyncio.wait_for(started, timeout=WAIT_SECONDS)
        task_id = answer["startSecurityInspection"]["id"]
        received = await _events_until_finished(client, task_id)
    assert received[0]["type"] == "task.queued"
    assert received[0]["payload"]["taskId"] == task_id
    cursors = [int(envelope["cursor"]) for envelope in received]
    assert cursors == sorted(set(cursors))
    assert _gap_free(await _cursors_after(services, before), before)


async def test_an_aborted_writer_leaves_no_gap_in_the_cursors(
    gql: GraphQLClient, live_server: str, workspace: Workspace, services: Services
) -> None:
    before = await _latest_cursor(gql, workspace)
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(TASK_EVENTS, {"after": str(before)})
        with pytest.raises(Aborted):
            await _write_and_abort(services, workspace)
        task_id = (await gql.data(START, key=workspace.admin))["startSecurityInspection"]["id"]
        received = await _events_until_finished(client, task_id)
    assert {envelope["payload"]["taskId"] for envelope in received} == {task_id}
    cursors = [int(envelope["cursor"]) for envelope in received]
    assert cursors[0] == before + 1
    assert _gap_free(await _cursors_after(services, before), before)
    assert await _unsequenced(services, workspace) == 0


async def test_concurrent_writers_return_with_gap_free_cursors(
    gql: GraphQLClient, workspace: Workspace, services: Services
) -> None:
    """Writers committing at once each return with their events numbered; the
    cursors of all of them together form one gap-free run."""
    before = await _latest_cursor(gql, workspace)

    async def write() -> int | None:
        async with services.outbox.transaction() as session:
            task = await task_service.enqueue(
                session,
                workspace_id=int(workspace.id),
                kind="concurrent",
                params={},
                created_by_key_id=None,
                clock=services.clock,
            )
        async with services.db.reader() as session:
            cursor: int | None = await session.scalar(
                select(Event.seq).where(Event.stream == "task", Event.subject_id == task.id)
            )
            return cursor

    written = await asyncio.wait_for(
        asyncio.gather(*(write() for _ in range(20))), timeout=WAIT_SECONDS
    )
    assert None not in written, "every writer returns with its event numbered"
    numbered = [cursor for cursor in written if cursor is not None]
    assert len(set(numbered)) == 20
    assert _gap_free(await _cursors_after(services, before), before)
    async with services.db.reader() as session:
        tasks = await session.scalar(
            select(func.count()).select_from(Task).where(Task.kind == "concurrent")
        )
    assert tasks == 20
