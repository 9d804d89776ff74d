"""The entry point other domains call: ``oncall://`` targets and shift handovers."""

from datetime import UTC, datetime, timedelta

import pytest

from server.core.errors import InvalidInput
from server.core.services import Services
from server.oncall import targets
from server.oncall.targets import Handover, OnCallContact, Resolution
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.oncall.helpers import (
    UPSERT_SCHEDULE,
    create_override,
    create_rotation,
    create_shift,
    rotation_input,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MONDAY = datetime(2026, 7, 6, 9, tzinfo=UTC)


def contact(schedule: str, person: str) -> OnCallContact:
    return OnCallContact(schedule, person, f"{person}@example.com")


async def resolve(
    services: Services, workspace: Workspace, target: str, at: datetime
) -> Resolution:
    async with services.db.reader() as session:
        return await targets.resolve(session, workspace_id=int(workspace.id), target=target, at=at)


async def handovers(
    services: Services, workspace: Workspace, after: datetime, until: datetime
) -> list[Handover]:
    async with services.db.reader() as session:
        return await targets.handovers(
            session, workspace_id=int(workspace.id), after=after, until=until
        )


async def test_targets_resolve_to_whoever_is_on_call_or_to_the_fallbacks(
    gql: GraphQLClient, services: Services, workspace: Workspace, other_workspace: Workspace
) -> None:
    key = workspace.developer
    await create_rotation(gql, key, rotation_input("db", ["ann", "bob"], starts_at=MONDAY))
    await create_shift(
        gql, key, schedule="web", person="cat", starts_at=MONDAY, ends_at=MONDAY + 8 * HOUR
    )
    for name, fallback in (("db", "db-lead@example.com"), ("web", "web-lead@example.com")):
        settings = {"input": {"name": name, "fallbackContact": fallback}}
        await gql.data(UPSERT_SCHEDULE, settings, key=key)
    fallbacks = ["db-lead@example.com", "web-lead@example.com"]

    at = MONDAY + HOUR
    assert await resolve(services, workspace, "oncall://active", at) == Resolution(
        contacts=[contact("db", "ann"), contact("web", "cat")], fallback_contacts=fallbacks
    )
    assert await resolve(services, workspace, "oncall://web", at) == Resolution(
        contacts=[contact("web", "cat")], fallback_contacts=["web-lead@example.com"]
    )
    later = MONDAY + DAY + HOUR
    assert await resolve(services, workspace, "oncall://active", later) == Resolution(
        contacts=[contact("db", "bob")], fallback_contacts=fallbacks
    )
    assert await resolve(services, workspace, "oncall://web", later) == Resolution(
        contacts=[], fallback_contacts=["web-lead@example.com"]
    )
    assert await resolve(services, workspace, "oncall://unknown", at) == Resolution([], [])
    assert await resolve(services, other_workspace, "oncall://active", at) == Resolution([], [])


async def test_an_override_and_a_doubled_person_resolve_once_each(
    gql: GraphQLClient, services: Services, workspace: Workspace
) -> None:
    key = workspace.developer
    await create_rotation(gql, key, rotation_input("ops", ["ann"], starts_at=MONDAY))
    await create_override(
        gql, key, schedule="ops", person="dan", starts_at=MONDAY, ends_at=MONDAY + 2 * HOUR
    )
    for _ in range(2):
        await create_shift(
            gql, key, schedule="ops", person="eve", starts_at=MONDAY, ends_at=MONDAY + HOUR
        )
    found = await resolve(services, workspace, "oncall://ops", MONDAY)
    assert found.contacts == [contact("ops", "dan"), contact("ops", "eve")]


@pytest.mark.parametrize(
    "target", ["oncall://", "oncall://a/b", "route://pager", "active", "oncall:// x"]
)
async def test_other_targets_are_invalid_input(
    services: Services, workspace: Workspace, target: str
) -> None:
    with pytest.raises(InvalidInput):
        await resolve(services, workspace, target, MONDAY)


async def test_handovers_name_who_came_on_call_in_each_schedule(
    gql: GraphQLClient, services: Services, workspace: Workspace
) -> None:
    key = workspace.developer
    await create_rotation(gql, key, rotation_input("db", ["ann", "bob"], starts_at=MONDAY))
    await create_rotation(gql, key, rotation_input("solo", ["sam"], starts_at=MONDAY))
    await create_shift(
        gql, key, schedule="web", person="cat", starts_at=MONDAY + HOUR, ends_at=MONDAY + DAY
    )
    await create_override(
        gql,
        key,
        schedule="db",
        person="dan",
        starts_at=MONDAY + DAY + 2 * HOUR,
        ends_at=MONDAY + DAY + 4 * HOUR,
    )
    found = await handovers(services, workspace, MONDAY, MONDAY + 2 * DAY)
    assert found == [
        # MONDAY itself is not in (after, until]; sam hands over to sam: no handover.
        Handover("web", MONDAY + HOUR, [contact("web", "cat")]),
        Handover("db", MONDAY + DAY, [contact("db", "bob")]),
        Handover("db", MONDAY + DAY + 2 * HOUR, [contact("db", "dan")]),
        Handover("db", MONDAY + DAY + 4 * HOUR, [contact("db", "bob")]),
        Handover("db", MONDAY + 2 * DAY, [contact("db", "ann")]),  # until is included
    ]
    assert await handovers(services, workspace, MONDAY + HOUR, MONDAY + DAY - HOUR) == []
    assert await handovers(services, workspace, MONDAY + DAY, MONDAY) == []
