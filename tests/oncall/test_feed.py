"""The iCalendar feed of a schedule: its content, its token, and what a wrong token gets."""

from datetime import datetime, timedelta

import httpx
from icalendar import Calendar

from server.core.clock import FrozenClock
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.oncall.helpers import (
    ROTATE_TOKEN,
    create_rotation,
    create_shift,
    rotation_input,
    shifts,
)

DAY = timedelta(days=1)


async def rotate(gql: GraphQLClient, key: str, schedule: str) -> tuple[str, str]:
    issued = (await gql.data(ROTATE_TOKEN, {"schedule": schedule}, key=key))[
        "rotateScheduleFeedToken"
    ]
    assert issued["schedule"]["feedEnabled"] is True
    return issued["url"], issued["token"]


def events(body: bytes) -> list[tuple[str, str, datetime, datetime]]:
    calendar = Calendar.from_ical(body)
    return [
        (str(e["uid"]), str(e["summary"]), e.decoded("dtstart"), e.decoded("dtend"))
        for e in calendar.walk("VEVENT")
    ]


async def test_the_feed_lists_every_shift_of_its_window_with_stable_uids(
    gql: GraphQLClient, http: httpx.AsyncClient, workspace: Workspace, clock: FrozenClock
) -> None:
    now = clock.now()
    key = workspace.developer
    await create_rotation(gql, key, rotation_input("feed", ["ann", "bob"], starts_at=now - 2 * DAY))
    await create_shift(
        gql, key, schedule="feed", person="eve", starts_at=now - 40 * DAY, ends_at=now - 35 * DAY
    )  # outside the window
    await create_shift(
        gql, key, schedule="feed", person="eve", starts_at=now + DAY, ends_at=now + 2 * DAY
    )
    url, token = await rotate(gql, workspace.admin, "feed")
    assert url == f"/oncall/feed.ics?token={token}"
    response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    found = events(response.content)
    expected = await shifts(gql, key, "feed", now - 30 * DAY, now + 90 * DAY)
    assert len(found) == len(expected) > 90
    assert [summary for _, summary, _, _ in found] == [f"On call: {s['person']}" for s in expected]
    assert [(start, end) for _, _, start, end in found] == [
        (datetime.fromisoformat(s["startsAt"]), datetime.fromisoformat(s["endsAt"]))
        for s in expected
    ]
    first = found[0]
    assert first[2] == now - 2 * DAY  # the rotation's first turn, in UTC
    assert first[2].utcoffset() == timedelta(0)
    assert "On call: eve" in {summary for _, summary, _, _ in found}
    assert len({uid for uid, *_ in found}) == len(found)
    again = events((await http.get(url)).content)
    assert [uid for uid, *_ in again] == [uid for uid, *_ in found]
    assert b"DTSTART:" in response.content
    assert b"Z\r\n" in response.content


async def test_a_new_token_voids_the_old_one_and_wrong_tokens_get_404(
    gql: GraphQLClient, http: httpx.AsyncClient, workspace: Workspace, clock: FrozenClock
) -> None:
    now = clock.now()
    await create_shift(
        gql, workspace.developer, schedule="tok", person="ann", starts_at=now, ends_at=now + DAY
    )
    await create_shift(
        gql, workspace.developer, schedule="other", person="bob", starts_at=now, ends_at=now + DAY
    )
    old_url, old_token = await rotate(gql, workspace.admin, "tok")
    assert (await http.get(old_url)).status_code == 200
    new_url, new_token = await rotate(gql, workspace.admin, "tok")
    assert new_token != old_token
    assert (await http.get(old_url)).status_code == 404
    assert (await http.get(new_url)).status_code == 200
    for url in (
        "/oncall/tok.ics",
        "/oncall/tok.ics?token=",
        f"/oncall/tok.ics?token={new_token}x",
        f"/oncall/other.ics?token={new_token}",  # a token opens its own schedule only
        f"/oncall/nonexistent.ics?token={new_token}",
    ):
        response = await http.get(url)
        assert response.status_code == 404, url
        assert response.content == b""


async def test_only_an_admin_of_the_workspace_rotates_a_feed_token(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace, clock: FrozenClock
) -> None:
    now = clock.now()
    await create_shift(
        gql, workspace.developer, schedule="adm", person="ann", starts_at=now, ends_at=now + DAY
    )
    variables = {"schedule": "adm"}
    assert await gql.error_code(ROTATE_TOKEN, variables, key=workspace.developer) == "FORBIDDEN"
    assert await gql.error_code(ROTATE_TOKEN, variables, key=other_workspace.admin) == "NOT_FOUND"
    missing = {"schedule": "never-made"}
    assert await gql.error_code(ROTATE_TOKEN, missing, key=workspace.admin) == "NOT_FOUND"
