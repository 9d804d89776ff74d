"""Old events are pruned; a cursor from before the pruning is refused, never skipped.

The pruning is real and stays: later tests see a database whose old events are gone.
"""

from datetime import timedelta

from sqlalchemy import func, select

from server.core.events import service as events
from server.core.events.models import Event, EventRetention
from server.core.services import Services
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.ws_client import subscription_client

TASK_EVENTS = "subscription($after: String) { taskEvents(after: $after) { cursor type } }"


async def test_pruned_cursors_are_refused_and_later_ones_resume(
    gql: GraphQLClient, live_server: str, workspace: Workspace, services: Services
) -> None:
    await gql.data("mutation { startSecurityInspection { id } }", key=workspace.admin)
    async with services.db.reader() as session:
        mine = select(func.max(Event.seq)).where(Event.occurred_at <= services.clock.now())
        newest = int(await session.scalar(mine) or 0)
    cutoff = services.clock.now() + timedelta(days=1)
    pruned = await events.prune(services.db, older_than=cutoff)
    assert pruned > 0
    async with services.db.reader() as session:
        through = int(await session.scalar(select(EventRetention.pruned_through)) or 0)
        left = select(func.count()).select_from(Event).where(Event.seq <= through)
        assert await session.scalar(left) == 0
        assert through >= newest
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(TASK_EVENTS, {"after": str(newest - 1)})
        refused = await client.receive()
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "CURSOR_EXPIRED"
    async with subscription_client(live_server, workspace.viewer) as client:
        async with services.db.reader() as session:
            pruned_through = int(await session.scalar(select(EventRetention.pruned_through)) or 0)
        await client.subscribe(TASK_EVENTS, {"after": str(pruned_through)})
        await gql.data("mutation { startSecurityInspection { id } }", key=workspace.admin)
        resumed = [(await client.next_data())["taskEvents"]]
        while resumed[-1]["type"] != "task.queued":
            resumed.append((await client.next_data())["taskEvents"])
        assert all(int(event["cursor"]) > pruned_through for event in resumed)
