"""Security inspections through their front door and their task, and the key facts
they read."""

import pytest

from server.access import service as access_service
from server.core.clock import FrozenClock
from server.core.errors import NotFound
from server.core.jobs import TaskRun
from server.core.roles import Role
from server.core.services import Services
from server.core.tasks import service as task_service
from server.security import inspection
from server.security import service as security_service
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.security.helpers import RUNS, inspect

REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { id } }"
KEYS = "{ apiKeys { edges { node { id role } } } }"


async def test_an_inspection_is_found_only_as_an_inspection_of_its_workspace(
    services: Services, workspace: Workspace, other_workspace: Workspace
) -> None:
    async with services.outbox.transaction() as session:
        started = await security_service.start_inspection(
            session, workspace_id=int(workspace.id), created_by_key_id=None, clock=services.clock
        )
        other_kind = await task_service.enqueue(
            session,
            workspace_id=int(workspace.id),
            kind="kind-without-worker",
            params={},
            created_by_key_id=None,
            clock=services.clock,
        )
    async with services.db.reader() as session:
        found = await security_service.get_inspection(
            session, workspace_id=int(workspace.id), task_id=started.id
        )
        assert found.kind == security_service.KIND
        with pytest.raises(NotFound):
            await security_service.get_inspection(
                session, workspace_id=int(other_workspace.id), task_id=started.id
            )
        with pytest.raises(NotFound):
            await security_service.get_inspection(
                session, workspace_id=int(workspace.id), task_id=other_kind.id
            )


async def test_active_keys_leave_out_revoked_ones_and_carry_their_role(
    gql: GraphQLClient, services: Services, workspace: Workspace
) -> None:
    nodes = [
        edge["node"] for edge in (await gql.data(KEYS, key=workspace.admin))["apiKeys"]["edges"]
    ]
    viewer = next(node for node in nodes if node["role"] == "VIEWER")
    await gql.data(REVOKE, {"id": viewer["id"]}, key=workspace.admin)
    async with services.db.reader() as session:
        keys = await access_service.active_keys(session, workspace_id=int(workspace.id))
    assert sorted(key.role for key in keys) == sorted([Role.ADMIN, Role.DEVELOPER])
    assert all(key.id != int(viewer["id"]) for key in keys)


async def test_a_task_taken_over_after_its_run_was_stored_stores_no_second_run(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    first = await inspect(gql, workspace.admin, runner=services.runner)
    handler = inspection.inspection_handler(services.db, services.settings, services.clock)
    task_id = int(first.task["id"])
    again = TaskRun(task_id, int(workspace.id), security_service.KIND, {}, 2, services.runner)
    result = await handler(again)
    assert result == first.task["result"]
    listed = await gql.data(RUNS, key=workspace.admin)
    assert listed["securityInspectionRuns"]["totalCount"] == 1
