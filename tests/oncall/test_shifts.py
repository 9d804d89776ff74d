"""Explicit shifts over GraphQL: managing them, validation, overlaps, who is on call now."""

from datetime import timedelta

from server.core.clock import FrozenClock
from tests.conftest import START, Workspace
from tests.graphql_client import GraphQLClient
from tests.oncall.helpers import (
    CREATE_SHIFT,
    DELETE_SHIFT,
    ONCALL_NOW,
    SCHEDULES,
    SHIFTS,
    UPDATE_SHIFT,
    create_shift,
    iso,
    moment,
    shift_input,
    shifts,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


async def test_create_a_shift_and_read_it_back_in_its_schedule(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    created = await create_shift(
        gql,
        workspace.developer,
        schedule="primary",
        person="ann",
        starts_at=START,
        ends_at=START + 8 * HOUR,
    )
    assert created["id"].isdigit()
    assert (created["schedule"], created["person"], created["contact"], created["source"]) == (
        "primary",
        "ann",
        "ann@example.com",
        "SHIFT",
    )
    assert (moment(created["startsAt"]), moment(created["endsAt"])) == (START, START + 8 * HOUR)
    assert await shifts(gql, workspace.viewer, "primary", START - DAY, START + DAY) == [created]
    # The schedule was created with it, without a fallback contact.
    listed = (await gql.data(SCHEDULES, key=workspace.viewer))["oncallSchedules"]
    assert [e["node"]["name"] for e in listed["edges"]] == ["primary"]
    assert listed["edges"][0]["node"]["fallbackContact"] is None


async def test_update_and_delete_a_shift(gql: GraphQLClient, workspace: Workspace) -> None:
    key = workspace.developer
    created = await create_shift(
        gql, key, schedule="primary", person="ann", starts_at=START, ends_at=START + HOUR
    )
    moved = shift_input("secondary", "bob", START + HOUR, START + 3 * HOUR, contact="+49 30 1234")
    updated = (await gql.data(UPDATE_SHIFT, {"id": created["id"], "input": moved}, key=key))[
        "updateOncallShift"
    ]
    assert (updated["id"], updated["schedule"], updated["person"], updated["contact"]) == (
        created["id"],
        "secondary",
        "bob",
        "+49 30 1234",
    )
    assert await shifts(gql, key, "primary", START - DAY, START + DAY) == []
    assert await shifts(gql, key, "secondary", START - DAY, START + DAY) == [updated]
    deleted = (await gql.data(DELETE_SHIFT, {"id": created["id"]}, key=key))["deleteOncallShift"]
    assert deleted == updated
    assert await shifts(gql, key, "secondary", START - DAY, START + DAY) == []
    assert await gql.error_code(DELETE_SHIFT, {"id": created["id"]}, key=key) == "NOT_FOUND"
    again = await create_shift(
        gql, key, schedule="primary", person="ann", starts_at=START, ends_at=START + HOUR
    )
    assert int(again["id"]) > int(created["id"])


async def test_invalid_shifts_are_refused_with_the_field_at_fault(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    good = shift_input("primary", "ann", START, START + HOUR)
    cases = [
        ({"endsAt": iso(START)}, "input.endsAt"),
        ({"endsAt": iso(START - HOUR)}, "input.endsAt"),
        ({"startsAt": "2026-03-02T12:00:00"}, "input.startsAt"),
        ({"person": "  "}, "input.person"),
        ({"contact": ""}, "input.contact"),
        ({"contact": "x" * 321}, "input.contact"),
        ({"schedule": "no spaces please"}, "input.schedule"),
        ({"schedule": ""}, "input.schedule"),
    ]
    for change, field in cases:
        variables = {"input": good | change}
        assert await gql.bad_input_field(CREATE_SHIFT, variables, key=key) == field, change
    created = await create_shift(
        gql, key, schedule="primary", person="ann", starts_at=START, ends_at=START + HOUR
    )
    variables = {"id": created["id"], "input": good | {"endsAt": iso(START)}}
    assert await gql.bad_input_field(UPDATE_SHIFT, variables, key=key) == "input.endsAt"
    for start, end, field in ((START, START, "to"), (START, START + 400 * DAY, "to")):
        range_ = {"schedule": "primary", "from": iso(start), "to": iso(end)}
        assert await gql.bad_input_field(SHIFTS, range_, key=key) == field


async def test_overlapping_shifts_are_both_on_call(
    gql: GraphQLClient, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    key = workspace.developer
    ann = await create_shift(
        gql, key, schedule="primary", person="ann", starts_at=START, ends_at=START + 8 * HOUR
    )
    bob = await create_shift(
        gql,
        key,
        schedule="primary",
        person="bob",
        starts_at=START + 4 * HOUR,
        ends_at=START + 12 * HOUR,
    )
    assert await shifts(gql, key, "primary", START, START + DAY) == [ann, bob]
    paused_runner.set(START + 5 * HOUR)
    now = (await gql.data(ONCALL_NOW, {"schedule": "primary"}, key=workspace.viewer))["oncallNow"]
    assert [s["person"] for s in now] == ["ann", "bob"]


async def test_oncall_now_follows_the_clock_across_schedules(
    gql: GraphQLClient, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    key = workspace.developer
    await create_shift(
        gql, key, schedule="db", person="ann", starts_at=START, ends_at=START + 8 * HOUR
    )
    await create_shift(
        gql, key, schedule="web", person="bob", starts_at=START + 8 * HOUR, ends_at=START + DAY
    )
    await create_shift(
        gql, key, schedule="web", person="cat", starts_at=START, ends_at=START + 2 * HOUR
    )

    async def on_call(schedule: str | None) -> list[tuple[str, str]]:
        found = (await gql.data(ONCALL_NOW, {"schedule": schedule}, key=workspace.viewer))[
            "oncallNow"
        ]
        return [(s["schedule"], s["person"]) for s in found]

    paused_runner.set(START + HOUR)
    assert await on_call(None) == [("db", "ann"), ("web", "cat")]
    assert await on_call("web") == [("web", "cat")]
    paused_runner.set(START + 8 * HOUR)  # a shift's end is exclusive, its start inclusive
    assert await on_call(None) == [("web", "bob")]
    assert await on_call("db") == []
    assert await on_call("nonexistent") == []
    paused_runner.set(START + DAY)
    assert await on_call(None) == []


async def test_permissions_and_workspaces_are_kept_apart(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace, paused_runner: FrozenClock
) -> None:
    fields = shift_input("primary", "ann", START, START + HOUR)
    assert (
        await gql.error_code(CREATE_SHIFT, {"input": fields}, key=workspace.viewer) == "FORBIDDEN"
    )
    created = await create_shift(
        gql,
        workspace.developer,
        schedule="primary",
        person="ann",
        starts_at=START,
        ends_at=START + HOUR,
    )
    for query, variables in (
        (UPDATE_SHIFT, {"id": created["id"], "input": fields}),
        (DELETE_SHIFT, {"id": created["id"]}),
    ):
        assert await gql.error_code(query, variables, key=workspace.viewer) == "FORBIDDEN"
        assert await gql.error_code(query, variables, key=other_workspace.admin) == "NOT_FOUND"
    assert await shifts(gql, other_workspace.viewer, "primary", START - DAY, START + DAY) == []
    paused_runner.set(START)
    assert (await gql.data(ONCALL_NOW, key=other_workspace.viewer))["oncallNow"] == []
    assert len((await gql.data(ONCALL_NOW, key=workspace.viewer))["oncallNow"]) == 1
    anonymous = await gql.execute(ONCALL_NOW)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
