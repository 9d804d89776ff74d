"""The audit log filtered by actor, operation, outcome and time range."""

from datetime import timedelta
from typing import Any

from server.core.clock import FrozenClock
from tests.conftest import CREATE_KEY, Workspace
from tests.graphql_client import GraphQLClient

FILTERED = """query($filter: AuditLogFilter) { auditLog(filter: $filter, first: 50) {
  totalCount edges { node { operation outcome actorName actorKeyId createdAt } } } }"""
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { id } }"
ME = "{ me { keyId } }"


async def _log(gql: GraphQLClient, workspace: Workspace, **filter: Any) -> list[dict[str, Any]]:
    data = await gql.data(FILTERED, {"filter": filter}, key=workspace.admin)
    return [edge["node"] for edge in data["auditLog"]["edges"]]


async def _history(gql: GraphQLClient, workspace: Workspace, clock: FrozenClock) -> str:
    """Two keys created an hour apart, then a refused revocation; the admin's key id."""
    await gql.data(CREATE_KEY, {"name": "early", "role": "VIEWER"}, key=workspace.admin)
    clock.advance(timedelta(hours=1))
    await gql.data(CREATE_KEY, {"name": "late", "role": "VIEWER"}, key=workspace.admin)
    assert await gql.error_code(REVOKE, {"id": "999999"}, key=workspace.admin) == "NOT_FOUND"
    admin_id: str = (await gql.data(ME, key=workspace.admin))["me"]["keyId"]
    return admin_id


async def test_entries_filter_by_operation_outcome_and_actor(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    admin_id = await _history(gql, workspace, restore_clock)
    created = await _log(gql, workspace, operation="createApiKey", outcome="OK")
    assert len(created) == 4, "two keys by the fixture, two here"
    assert {entry["outcome"] for entry in created} == {"ok"}
    failed = await _log(gql, workspace, outcome="ERROR")
    assert [(e["operation"], e["outcome"]) for e in failed] == [("revokeApiKey", "error")]
    by_key = await _log(gql, workspace, actorKeyId=admin_id)
    assert len(by_key) == 5
    assert {entry["actorKeyId"] for entry in by_key} == {admin_id}
    assert await _log(gql, workspace, actorName="viewer") == []
    assert len(await _log(gql, workspace, actorName="admin", operation="revokeApiKey")) == 1


async def test_entries_filter_by_time_range(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    start = restore_clock.now()
    await _history(gql, workspace, restore_clock)
    later = (start + timedelta(minutes=30)).isoformat()
    before = await _log(gql, workspace, to=later)
    after = await _log(gql, workspace, **{"from": later})
    assert len(before) == 3, "the fixture's two keys and the early one"
    assert [entry["operation"] for entry in after] == ["revokeApiKey", "createApiKey"]
    assert all(entry["createdAt"] >= later for entry in after)


async def test_a_bad_range_is_bad_input_and_other_workspaces_stay_out(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    field = await gql.bad_input_field(
        FILTERED,
        {"filter": {"from": "2026-03-02T12:00:00Z", "to": "2026-03-02T11:00:00Z"}},
        key=workspace.admin,
    )
    assert field == "filter.to"
    other_admin = (await gql.data(ME, key=other_workspace.admin))["me"]["keyId"]
    assert await _log(gql, workspace, actorKeyId=other_admin) == []
