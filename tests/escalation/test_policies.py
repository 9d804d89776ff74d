"""Escalation policies over GraphQL: managing them, validating them, who may."""

from typing import Any

import pytest

from tests.conftest import Workspace
from tests.escalation.helpers import (
    CREATE_POLICY,
    DELETE_POLICY,
    GET_POLICY,
    LIST_POLICIES,
    UPDATE_POLICY,
    create_policy,
    step,
)
from tests.graphql_client import GraphQLClient

PAGES = [{"label": "severity", "op": "EQ", "value": "PAGE"}]


def policy_input(**fields: Any) -> dict[str, Any]:
    return {"name": "web", "steps": [step(300, "oncall://primary")], **fields}


async def test_create_read_update_and_delete_a_policy(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    policy = await create_policy(
        gql, key, step(300, "oncall://primary"), step(600, "oncall://active", "route://pager")
    )
    assert policy["steps"] == [
        {"delaySeconds": 300, "targets": ["oncall://primary"]},
        {"delaySeconds": 600, "targets": ["oncall://active", "route://pager"]},
    ]
    assert (policy["repeat"], policy["refireThreshold"], policy["matchers"]) == (0, 3, [])
    assert policy["createdBy"] == "developer"
    stored = await gql.data(GET_POLICY, {"id": policy["id"]}, key=workspace.viewer)
    assert stored["escalationPolicy"] == policy

    changed = (
        await gql.data(
            UPDATE_POLICY,
            {
                "id": policy["id"],
                "input": policy_input(
                    name="web pages", matchers=PAGES, repeat=2, refireThreshold=10
                ),
            },
            key=key,
        )
    )["updateEscalationPolicy"]
    assert (changed["id"], changed["name"], changed["repeat"]) == (policy["id"], "web pages", 2)
    assert (changed["refireThreshold"], changed["matchers"]) == (10, PAGES)
    assert changed["steps"] == [{"delaySeconds": 300, "targets": ["oncall://primary"]}]

    second = await create_policy(gql, key, step(0, "oncall://active"), name="db")
    listed = (await gql.data(LIST_POLICIES, key=workspace.viewer))["escalationPolicies"]
    assert listed["totalCount"] == 2
    assert [edge["node"]["id"] for edge in listed["edges"]] == [second["id"], policy["id"]]

    deleted = await gql.data(DELETE_POLICY, {"id": policy["id"]}, key=key)
    assert deleted["deleteEscalationPolicy"]["name"] == "web pages"
    assert (await gql.data(GET_POLICY, {"id": policy["id"]}, key=key))["escalationPolicy"] is None
    code = await gql.error_code(DELETE_POLICY, {"id": policy["id"]}, key=key)
    assert code == "NOT_FOUND"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"steps": [step(60, "oncall://primary", "pagerduty://x")]}, "input.steps[0].targets[1]"),
        (
            {"steps": [step(60, "oncall://primary"), step(60, "route://")]},
            "input.steps[1].targets[0]",
        ),
        ({"steps": [step(60, "oncall://bad name")]}, "input.steps[0].targets[0]"),
        ({"steps": [step(60)]}, "input.steps[0].targets"),
        ({"steps": [step(60, "oncall://a", "oncall://a")]}, "input.steps[0].targets"),
        ({"steps": [step(-1, "oncall://a")]}, "input.steps[0].delaySeconds"),
        ({"steps": []}, "input.steps"),
        ({"repeat": -1}, "input.repeat"),
        ({"refireThreshold": 0}, "input.refireThreshold"),
        ({"name": " "}, "input.name"),
        ({"matchers": [{"label": "x", "op": "RE", "value": "("}]}, "input.matchers[0].value"),
    ],
)
async def test_a_policy_that_cannot_work_is_refused_with_its_field(
    gql: GraphQLClient, workspace: Workspace, fields: dict[str, Any], field: str
) -> None:
    variables = {"input": policy_input(**fields)}
    assert (await gql.bad_input(CREATE_POLICY, variables, key=workspace.developer))[0] == field


async def test_names_are_unique_in_a_workspace(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    await create_policy(gql, workspace.developer, step(60, "oncall://a"))
    variables = {"input": policy_input()}
    assert await gql.error_code(CREATE_POLICY, variables, key=workspace.developer) == "CONFLICT"
    await create_policy(gql, other_workspace.developer, step(60, "oncall://a"))


async def test_viewers_read_and_developers_write(gql: GraphQLClient, workspace: Workspace) -> None:
    variables = {"input": policy_input()}
    assert await gql.error_code(CREATE_POLICY, variables, key=workspace.viewer) == "FORBIDDEN"
    await gql.data(CREATE_POLICY, variables, key=workspace.developer)
    listed = await gql.data(LIST_POLICIES, key=workspace.viewer)
    assert listed["escalationPolicies"]["totalCount"] == 1


async def test_another_workspace_neither_sees_nor_changes_a_policy(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    policy = await create_policy(gql, workspace.developer, step(60, "oncall://a"))
    theirs = other_workspace.admin
    assert (await gql.data(GET_POLICY, {"id": policy["id"]}, key=theirs))[
        "escalationPolicy"
    ] is None
    listed = await gql.data(LIST_POLICIES, key=theirs)
    assert listed["escalationPolicies"]["totalCount"] == 0
    update = {"id": policy["id"], "input": policy_input(name="taken over")}
    assert await gql.error_code(UPDATE_POLICY, update, key=theirs) == "NOT_FOUND"
    assert await gql.error_code(DELETE_POLICY, {"id": policy["id"]}, key=theirs) == "NOT_FOUND"
