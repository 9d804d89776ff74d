"""Capacity policies through GraphQL: upsert, list, permissions and bad input."""

import asyncio
from typing import Any

import pytest

from tests.capacity.helpers import FORECAST, POLICIES, TASKS, UPSERT, policy_input
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient


async def test_upsert_creates_a_policy_then_replaces_its_settings(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    labels = [{"label": "mount", "op": "EQ", "value": "/data"}]
    created = (
        await gql.data(UPSERT, {"input": policy_input(labels=labels)}, key=workspace.developer)
    )["upsertCapacityPolicy"]
    assert created["meterKey"] == "checkout/disk_used"
    assert created["labels"] == labels
    assert (created["capacity"], created["warningRatio"], created["horizonDays"]) == (
        1000.0,
        0.8,
        20,
    )
    changed = (
        await gql.data(
            UPSERT,
            {"input": policy_input(capacity=2000, warning_ratio=0.9, horizon_days=60)},
            key=workspace.developer,
        )
    )["upsertCapacityPolicy"]
    assert changed["id"] == created["id"]
    assert (changed["capacity"], changed["warningRatio"], changed["horizonDays"]) == (
        2000.0,
        0.9,
        60,
    )
    assert changed["labels"] == []
    await gql.data(UPSERT, {"input": policy_input(meter_key="search/disk")}, key=workspace.admin)
    listed = (await gql.data(POLICIES, {"first": 1}, key=workspace.viewer))["capacityPolicies"]
    assert listed["totalCount"] == 2
    assert [edge["node"]["meterKey"] for edge in listed["edges"]] == ["search/disk"]
    assert listed["pageInfo"]["hasNextPage"] is True
    rest = await gql.data(
        POLICIES, {"first": 5, "after": listed["pageInfo"]["endCursor"]}, key=workspace.viewer
    )
    assert [e["node"]["id"] for e in rest["capacityPolicies"]["edges"]] == [created["id"]]


async def test_simultaneous_first_upserts_of_a_meter_make_one_policy(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    capacities = [1000.0 + number for number in range(8)]
    answers = await asyncio.wait_for(
        asyncio.gather(
            *(
                gql.execute(
                    UPSERT, {"input": policy_input(capacity=capacity)}, key=workspace.developer
                )
                for capacity in capacities
            )
        ),
        timeout=30,
    )
    assert [answer.get("errors") for answer in answers] == [None] * len(capacities)
    ids = {answer["data"]["upsertCapacityPolicy"]["id"] for answer in answers}
    assert len(ids) == 1
    listed = (await gql.data(POLICIES, key=workspace.viewer))["capacityPolicies"]
    assert listed["totalCount"] == 1
    assert listed["edges"][0]["node"]["capacity"] in capacities


async def test_policies_are_private_to_their_workspace(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    await gql.data(UPSERT, {"input": policy_input()}, key=workspace.developer)
    theirs = await gql.data(POLICIES, key=other_workspace.viewer)
    assert theirs["capacityPolicies"]["totalCount"] == 0
    assert await gql.error_code(
        FORECAST, {"meterKey": "checkout/disk_used"}, key=other_workspace.developer
    ) == ("NOT_FOUND")


async def test_a_viewer_can_neither_upsert_nor_forecast(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    assert await gql.error_code(UPSERT, {"input": policy_input()}, key=workspace.viewer) == (
        "FORBIDDEN"
    )
    await gql.data(UPSERT, {"input": policy_input()}, key=workspace.developer)
    assert await gql.error_code(
        FORECAST, {"meterKey": "checkout/disk_used"}, key=workspace.viewer
    ) == ("FORBIDDEN")
    listed = await gql.data(POLICIES, key=workspace.viewer)
    assert listed["capacityPolicies"]["totalCount"] == 1
    assert (await gql.data(TASKS, key=workspace.viewer))["tasks"]["totalCount"] == 0


BAD_POLICIES: list[tuple[dict[str, Any], str]] = [
    ({"capacity": 0}, "input.capacity"),
    ({"capacity": -5}, "input.capacity"),
    ({"warning_ratio": 0}, "input.warningRatio"),
    ({"warning_ratio": 1.2}, "input.warningRatio"),
    ({"horizon_days": 0}, "input.horizonDays"),
    ({"horizon_days": 366}, "input.horizonDays"),
    ({"service": "bad service!"}, "input.service"),
    ({"signal": "9lives"}, "input.signal"),
    ({"meter_key": "has space"}, "input.meterKey"),
    ({"meter_key": ""}, "input.meterKey"),
    ({"labels": [{"label": "mount", "op": "RE", "value": "(unclosed"}]}, "input.labels[0].value"),
    ({"labels": [{"label": "0bad", "op": "EQ", "value": "x"}]}, "input.labels[0].label"),
]


@pytest.mark.parametrize(("change", "field"), BAD_POLICIES)
async def test_bad_policies_are_refused_with_the_field_and_nothing_is_written(
    gql: GraphQLClient, workspace: Workspace, change: dict[str, Any], field: str
) -> None:
    refused = await gql.bad_input_field(
        UPSERT, {"input": policy_input(**change)}, key=workspace.developer
    )
    assert refused == field
    listed = await gql.data(POLICIES, key=workspace.viewer)
    assert listed["capacityPolicies"]["totalCount"] == 0


async def test_forecasting_an_unknown_meter_is_not_found_and_queues_nothing(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    assert await gql.error_code(FORECAST, {"meterKey": "nope"}, key=workspace.developer) == (
        "NOT_FOUND"
    )
    assert await gql.bad_input_field(
        FORECAST, {"meterKey": "two words"}, key=workspace.developer
    ) == ("meterKey")
    assert (await gql.data(TASKS, key=workspace.viewer))["tasks"]["totalCount"] == 0
