"""Inspection runs through GraphQL: stored with their items, newest first, per workspace."""

from server.core.clock import FrozenClock
from server.core.services import Services
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.security.helpers import RUN, RUNS, START, inspect

CHECKS = [
    "bootstrap_key_active",
    "too_many_admins",
    "api_key_age",
    "unused_api_keys",
    "webhook_route_secrets",
    "webhook_route_tls",
    "playground_in_production",
    "introspection_in_production",
    "rate_limiting",
    "loopback_webhooks",
    "smtp_tls",
    "recent_backup",
    "recent_restore_drill",
    "backup_dir_permissions",
]


async def test_an_inspection_stores_a_run_with_one_item_per_check(
    gql: GraphQLClient, workspace: Workspace, services: Services
) -> None:
    inspection = await inspect(gql, workspace.admin)
    run = inspection.run
    assert [item["check"] for item in run["items"]] == CHECKS
    assert all(item["status"] in ("PASS", "WARN", "FAIL") for item in run["items"])
    assert all(item["detail"] and item["remediation"] for item in run["items"])
    statuses = [item["status"] for item in run["items"]]
    assert (run["passCount"], run["warnCount"], run["failCount"]) == (
        statuses.count("PASS"),
        statuses.count("WARN"),
        statuses.count("FAIL"),
    )
    assert run["taskId"] == inspection.task["id"]
    assert run["startedAt"] <= run["finishedAt"]
    assert run["finishedAt"] == services.clock.now().isoformat()
    assert inspection.task["progress"] == 1.0
    assert inspection.task["result"]["summary"] == {
        "PASS": run["passCount"],
        "WARN": run["warnCount"],
        "FAIL": run["failCount"],
    }


async def test_runs_are_listed_newest_first_and_paged(
    gql: GraphQLClient, workspace: Workspace, paused_runner: FrozenClock, services: Services
) -> None:
    first = await inspect(gql, workspace.admin, runner=services.runner)
    second = await inspect(gql, workspace.admin, runner=services.runner)
    third = await inspect(gql, workspace.admin, runner=services.runner)
    page = (await gql.data(RUNS, {"first": 2}, key=workspace.admin))["securityInspectionRuns"]
    assert page["totalCount"] == 3
    assert [edge["node"]["id"] for edge in page["edges"]] == [third.run["id"], second.run["id"]]
    assert page["edges"][0]["node"] == third.run
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await gql.data(
        RUNS, {"first": 2, "after": page["pageInfo"]["endCursor"]}, key=workspace.admin
    )
    nodes = [edge["node"]["id"] for edge in rest["securityInspectionRuns"]["edges"]]
    assert nodes == [first.run["id"]]
    assert rest["securityInspectionRuns"]["pageInfo"]["hasNextPage"] is False


async def test_a_workspace_sees_only_its_own_runs(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    ours = await inspect(gql, workspace.admin)
    theirs = await gql.data(RUNS, key=other_workspace.admin)
    assert theirs["securityInspectionRuns"]["totalCount"] == 0
    assert theirs["securityInspectionRuns"]["edges"] == []
    found = await gql.data(RUN, {"id": ours.run["id"]}, key=other_workspace.admin)
    assert found["securityInspectionRun"] is None


async def test_only_admins_start_inspections_or_read_their_runs(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    ours = await inspect(gql, workspace.admin)
    for key in (workspace.developer, workspace.viewer):
        assert await gql.error_code(START, key=key) == "FORBIDDEN"
        assert await gql.error_code(RUNS, key=key) == "FORBIDDEN"
        assert await gql.error_code(RUN, {"id": ours.run["id"]}, key=key) == "FORBIDDEN"
    listed = await gql.data(RUNS, key=workspace.admin)
    assert listed["securityInspectionRuns"]["totalCount"] == 1


async def test_a_malformed_run_id_or_cursor_is_bad_input(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    assert await gql.bad_input_field(RUN, {"id": "run-1"}, key=workspace.admin) == "id"
    assert await gql.bad_input_field(RUNS, {"after": "garbage"}, key=workspace.admin) == "after"
    assert await gql.bad_input_field(RUNS, {"first": -1}, key=workspace.admin) == "first"
