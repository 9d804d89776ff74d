"""Rotations and overrides over GraphQL: turns across DST changes, overrides, coverage."""

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.oncall.helpers import (
    COVERAGE,
    CREATE_ROTATION,
    DELETE_OVERRIDE,
    DELETE_ROTATION,
    OVERRIDES,
    ROTATIONS,
    SCHEDULES,
    UPDATE_ROTATION,
    UPSERT_SCHEDULE,
    create_override,
    create_rotation,
    create_shift,
    iso,
    rotation_input,
    shifts,
    spans,
)

HOUR = timedelta(hours=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def test_a_berlin_rotation_hands_off_at_nine_local_through_both_dst_changes(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    rotation = await create_rotation(
        gql,
        key,
        rotation_input(
            "berlin", ["ann", "bob"], starts_at=utc(2026, 3, 27, 8), time_zone="Europe/Berlin"
        ),
    )
    assert (rotation["schedule"], rotation["handoffTime"], rotation["timeZone"]) == (
        "berlin",
        "09:00",
        "Europe/Berlin",
    )
    spring = spans(await shifts(gql, key, "berlin", utc(2026, 3, 28, 12), utc(2026, 3, 30)))
    assert spring == [
        ("bob", utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), "ROTATION"),  # 23 hours
        ("ann", utc(2026, 3, 29, 7), utc(2026, 3, 30, 7), "ROTATION"),
    ]
    autumn = spans(await shifts(gql, key, "berlin", utc(2026, 10, 24, 12), utc(2026, 10, 25, 12)))
    assert [(p, end - start) for p, start, end, _ in autumn] == [
        (autumn[0][0], 25 * HOUR),
        (autumn[1][0], 24 * HOUR),
    ]
    assert autumn[0][1] == utc(2026, 10, 24, 7)
    assert autumn[1][1] == utc(2026, 10, 25, 8)


async def test_a_new_york_rotation_follows_its_own_dst_dates(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    fields = rotation_input(
        "nyc", ["ann", "bob", "cat"], starts_at=utc(2026, 3, 1, 14), time_zone="America/New_York"
    )
    rotation = await create_rotation(gql, key, fields)
    found = await shifts(gql, key, "nyc", utc(2026, 3, 7, 15), utc(2026, 3, 9, 14))
    assert [(s["id"], s["person"]) for s in found] == [
        (f"rotation:{rotation['id']}:6", "ann"),
        (f"rotation:{rotation['id']}:7", "bob"),
        (f"rotation:{rotation['id']}:8", "cat"),
    ]
    assert spans(found)[0][1:3] == (utc(2026, 3, 7, 14), utc(2026, 3, 8, 13))  # 23 hours
    assert spans(found)[1][1:3] == (utc(2026, 3, 8, 13), utc(2026, 3, 9, 13))  # 09:00 EDT


async def test_an_override_replaces_the_rotation_participant_for_its_period(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    start = utc(2026, 4, 6, 9)
    await create_rotation(gql, key, rotation_input("ops", ["ann", "bob"], starts_at=start))
    shift = await create_shift(
        gql, key, schedule="ops", person="eve", starts_at=start + 2 * HOUR, ends_at=start + 3 * HOUR
    )
    override = await create_override(
        gql, key, schedule="ops", person="dan", starts_at=start + HOUR, ends_at=start + 5 * HOUR
    )
    assert override["id"].isdigit()
    assert override["schedule"] == "ops"
    found = await shifts(gql, key, "ops", start, start + 24 * HOUR)
    assert spans(found) == [
        ("ann", start, start + HOUR, "ROTATION"),
        ("dan", start + HOUR, start + 5 * HOUR, "OVERRIDE"),
        ("eve", start + 2 * HOUR, start + 3 * HOUR, "SHIFT"),  # explicit shifts stay on call
        ("ann", start + 5 * HOUR, start + 24 * HOUR, "ROTATION"),
    ]
    assert [s["id"] for s in found][:3] == [
        found[0]["id"],
        f"override:{override['id']}",
        shift["id"],
    ]
    assert found[0]["id"].endswith(":0:0")
    assert found[3]["id"].endswith(":0:1")
    listed = (await gql.data(OVERRIDES, {"schedule": "ops"}, key=workspace.viewer))[
        "oncallOverrides"
    ]
    assert [e["node"] for e in listed["edges"]] == [override]
    await gql.data(DELETE_OVERRIDE, {"id": override["id"]}, key=key)
    restored = spans(await shifts(gql, key, "ops", start, start + 24 * HOUR))
    assert [(person, source) for person, *_, source in restored] == [
        ("ann", "ROTATION"),
        ("eve", "SHIFT"),
    ]


async def test_rotations_are_listed_changed_and_deleted(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    key = workspace.developer
    start = utc(2026, 5, 4, 9)
    first = await create_rotation(gql, key, rotation_input("a", ["ann"], starts_at=start))
    second = await create_rotation(
        gql, key, rotation_input("b", ["bob", "cat"], starts_at=start, name="secondary")
    )
    listed = (await gql.data(ROTATIONS, {"schedule": None}, key=workspace.viewer))[
        "oncallRotations"
    ]
    assert [e["node"]["id"] for e in listed["edges"]] == [second["id"], first["id"]]
    only_b = (await gql.data(ROTATIONS, {"schedule": "b"}, key=workspace.viewer))["oncallRotations"]
    assert [e["node"] for e in only_b["edges"]] == [second]
    changed_fields = rotation_input(
        "b", ["cat", "bob"], starts_at=start, hours=12, handoff="08:30", time_zone="Asia/Tokyo"
    )
    changed = (
        await gql.data(UPDATE_ROTATION, {"id": second["id"], "input": changed_fields}, key=key)
    )["updateOncallRotation"]
    assert (changed["shiftLengthHours"], changed["handoffTime"], changed["timeZone"]) == (
        12,
        "08:30",
        "Asia/Tokyo",
    )
    assert [p["person"] for p in changed["participants"]] == ["cat", "bob"]
    turns = await shifts(gql, key, "b", start, start + 24 * HOUR)
    assert [s["person"] for s in turns] == ["cat", "bob", "cat"]
    assert turns[1]["startsAt"] == iso(utc(2026, 5, 4, 11, 30))  # 20:30 in Tokyo
    for query, variables in (
        (UPDATE_ROTATION, {"id": first["id"], "input": changed_fields}),
        (DELETE_ROTATION, {"id": first["id"]}),
    ):
        assert await gql.error_code(query, variables, key=workspace.viewer) == "FORBIDDEN"
        assert await gql.error_code(query, variables, key=other_workspace.admin) == "NOT_FOUND"
    await gql.data(DELETE_ROTATION, {"id": first["id"]}, key=key)
    assert await shifts(gql, key, "a", start, start + 24 * HOUR) == []
    empty = await gql.data(ROTATIONS, {"schedule": None}, key=other_workspace.viewer)
    assert empty["oncallRotations"]["totalCount"] == 0


async def test_invalid_rotations_are_refused_with_the_field_at_fault(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    good = rotation_input("ops", ["ann", "bob"], starts_at=utc(2026, 3, 2, 9))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"timeZone": "Mars/Olympus"}, "input.timeZone"),
        ({"timeZone": "../etc/passwd"}, "input.timeZone"),
        ({"handoffTime": "25:00"}, "input.handoffTime"),
        ({"handoffTime": "9"}, "input.handoffTime"),
        ({"shiftLengthHours": 0}, "input.shiftLengthHours"),
        ({"participants": []}, "input.participants"),
        ({"participants": [{"person": "ann", "contact": " "}]}, "input.participants.0.contact"),
        ({"endsAt": iso(utc(2026, 3, 1))}, "input.endsAt"),
        ({"name": ""}, "input.name"),
        ({"schedule": "a/b"}, "input.schedule"),
    ]
    for change, field in cases:
        variables = {"input": good | change}
        found = await gql.bad_input_field(CREATE_ROTATION, variables, key=workspace.developer)
        assert found == field, change


async def test_coverage_reports_gaps_and_hours_per_person(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    day = utc(2026, 6, 1)
    await create_shift(
        gql, key, schedule="cov", person="ann", starts_at=day, ends_at=day + 8 * HOUR
    )
    await create_shift(
        gql, key, schedule="cov", person="bob", starts_at=day + 6 * HOUR, ends_at=day + 12 * HOUR
    )
    await create_rotation(
        gql, key, rotation_input("cov", ["cat"], starts_at=day + 18 * HOUR, hours=24)
    )
    variables = {"schedule": "cov", "from": iso(day), "to": iso(day + 24 * HOUR)}
    found = (await gql.data(COVERAGE, variables, key=workspace.viewer))["scheduleCoverage"]
    assert found == {
        "gaps": [{"from": iso(day + 12 * HOUR), "to": iso(day + 18 * HOUR)}],
        "people": [
            {"person": "ann", "hours": 8.0},
            {"person": "bob", "hours": 6.0},
            {"person": "cat", "hours": 6.0},
        ],
    }
    nobody = {"schedule": "unknown", "from": iso(day), "to": iso(day + HOUR)}
    assert (await gql.data(COVERAGE, nobody, key=workspace.viewer))["scheduleCoverage"] == {
        "gaps": [{"from": iso(day), "to": iso(day + HOUR)}],
        "people": [],
    }


async def test_a_schedule_is_created_implicitly_and_upserted_with_a_fallback(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    await create_rotation(gql, key, rotation_input("payments", ["ann"], starts_at=utc(2026, 3, 2)))
    settings = {"name": "payments", "fallbackContact": "sre-lead@example.com", "description": "x"}
    upserted = (await gql.data(UPSERT_SCHEDULE, {"input": settings}, key=key))[
        "upsertOncallSchedule"
    ]
    assert (upserted["name"], upserted["fallbackContact"], upserted["feedEnabled"]) == (
        "payments",
        "sre-lead@example.com",
        False,
    )
    created = (
        await gql.data(
            UPSERT_SCHEDULE, {"input": {"name": "search", "fallbackContact": "a@b"}}, key=key
        )
    )["upsertOncallSchedule"]
    listed = (await gql.data(SCHEDULES, key=workspace.viewer))["oncallSchedules"]
    assert [e["node"]["id"] for e in listed["edges"]] == [created["id"], upserted["id"]]
    bad = {"input": {"name": "search", "fallbackContact": ""}}
    assert await gql.bad_input_field(UPSERT_SCHEDULE, bad, key=key) == "input.fallbackContact"
    viewer = {"input": {"name": "search", "fallbackContact": "x@y"}}
    assert await gql.error_code(UPSERT_SCHEDULE, viewer, key=workspace.viewer) == "FORBIDDEN"
