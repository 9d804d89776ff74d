"""Notification routes over GraphQL: managing them, validating them, refusing targets."""

import base64

import pytest

from server.core.clock import FrozenClock
from server.core.settings import Settings
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient
from tests.notifications.helpers import (
    CREATE_ROUTE,
    DELETE_ROUTE,
    GET_ROUTE,
    LIST_ROUTES,
    UPDATE_ROUTE,
    create_route,
)

MATCH_PAGES = [{"label": "severity", "op": "EQ", "value": "PAGE"}]


def webhook(url: str = "http://127.0.0.1:9/hook", **fields: object) -> dict[str, object]:
    return {"name": "pager", "channel": "WEBHOOK", "url": url, **fields}


async def test_create_a_webhook_route_and_read_it_back_without_its_secret(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    route = await create_route(gql, workspace.developer, **webhook(matchers=MATCH_PAGES))
    assert (route["name"], route["channel"], route["enabled"]) == ("pager", "WEBHOOK", True)
    assert route["matchers"] == MATCH_PAGES
    assert route["createdBy"] == "developer"
    secret = route["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert route["hasSecret"] is True

    stored = (await gql.data(GET_ROUTE, {"id": route["id"]}, key=workspace.viewer))[
        "notificationRoute"
    ]
    assert stored == {**route, "secret": None}  # shown once
    listed = (await gql.data(LIST_ROUTES, key=workspace.viewer))["notificationRoutes"]
    assert listed["totalCount"] == 1
    # Another workspace neither sees nor changes it.
    theirs = await gql.data(GET_ROUTE, {"id": route["id"]}, key=other_workspace.admin)
    assert theirs["notificationRoute"] is None
    other_list = await gql.data(LIST_ROUTES, key=other_workspace.viewer)
    assert other_list["notificationRoutes"]["totalCount"] == 0
    code = await gql.error_code(DELETE_ROUTE, {"id": route["id"]}, key=other_workspace.admin)
    assert code == "NOT_FOUND"


async def test_a_given_secret_is_kept_and_an_update_without_one_keeps_it(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    route = await create_route(gql, workspace.developer, **webhook(secret=secret))
    assert route["secret"] == secret
    variables = {"id": route["id"], "input": webhook(name="pager-2", enabled=False)}
    updated = (await gql.data(UPDATE_ROUTE, variables, key=workspace.developer))[
        "updateNotificationRoute"
    ]
    assert (updated["name"], updated["enabled"], updated["secret"]) == ("pager-2", False, None)
    assert updated["hasSecret"] is True
    # A route that becomes EMAIL drops its secret; back to WEBHOOK, it gets a new one.
    email = {"name": "pager-2", "channel": "EMAIL", "email": "oncall@example.com"}
    updated = (
        await gql.data(UPDATE_ROUTE, {"id": route["id"], "input": email}, key=workspace.developer)
    )["updateNotificationRoute"]
    assert updated["hasSecret"] is False
    again = (
        await gql.data(
            UPDATE_ROUTE, {"id": route["id"], "input": webhook()}, key=workspace.developer
        )
    )["updateNotificationRoute"]
    assert again["secret"].startswith("whsec_")
    assert again["secret"] != secret


async def test_names_are_unique_in_a_workspace_and_free_in_another(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    await create_route(gql, workspace.developer, name="team", channel="IN_APP")
    variables = {"input": {"name": "team", "channel": "IN_APP"}}
    assert await gql.error_code(CREATE_ROUTE, variables, key=workspace.developer) == "CONFLICT"
    await create_route(gql, other_workspace.developer, name="team", channel="IN_APP")


async def test_a_viewer_cannot_manage_routes(gql: GraphQLClient, workspace: Workspace) -> None:
    variables = {"input": {"name": "team", "channel": "IN_APP"}}
    assert await gql.error_code(CREATE_ROUTE, variables, key=workspace.viewer) == "FORBIDDEN"
    route = await create_route(gql, workspace.developer, name="team", channel="IN_APP")
    for query, arguments in (
        (UPDATE_ROUTE, {"id": route["id"], "input": variables["input"]}),
        (DELETE_ROUTE, {"id": route["id"]}),
    ):
        assert await gql.error_code(query, arguments, key=workspace.viewer) == "FORBIDDEN"


async def test_delete_a_route(gql: GraphQLClient, workspace: Workspace) -> None:
    first = await create_route(gql, workspace.developer, name="team", channel="IN_APP")
    await gql.data(DELETE_ROUTE, {"id": first["id"]}, key=workspace.developer)
    assert (await gql.data(GET_ROUTE, {"id": first["id"]}, key=workspace.viewer))[
        "notificationRoute"
    ] is None
    second = await create_route(gql, workspace.developer, name="team", channel="IN_APP")
    assert int(second["id"]) > int(first["id"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "", "channel": "IN_APP"}, "input.name"),
        ({"name": "w", "channel": "WEBHOOK"}, "input.url"),
        ({"name": "w", "channel": "WEBHOOK", "url": "ftp://127.0.0.1/x"}, "input.url"),
        ({"name": "w", "channel": "WEBHOOK", "url": "http://u:p@127.0.0.1/x"}, "input.url"),
        (
            {"name": "w", "channel": "WEBHOOK", "url": "http://127.0.0.1:9/", "secret": "s3cr3t"},
            "input.secret",
        ),
        (
            {
                "name": "w",
                "channel": "WEBHOOK",
                "url": "http://127.0.0.1:9/",
                "secret": "whsec_c2hvcnQ=",
            },
            "input.secret",
        ),
        (
            {"name": "w", "channel": "WEBHOOK", "url": "http://127.0.0.1:9/", "email": "a@b.c"},
            "input.email",
        ),
        ({"name": "e", "channel": "EMAIL"}, "input.email"),
        ({"name": "e", "channel": "EMAIL", "email": "not-an-address"}, "input.email"),
        ({"name": "e", "channel": "EMAIL", "email": "a@b.c", "url": "https://x/"}, "input.url"),
        ({"name": "i", "channel": "IN_APP", "secret": "whsec_x"}, "input.secret"),
        (
            {
                "name": "i",
                "channel": "IN_APP",
                "matchers": [{"label": "1x", "op": "EQ", "value": "a"}],
            },
            "input.matchers[0].label",
        ),
        (
            {
                "name": "i",
                "channel": "IN_APP",
                "matchers": [{"label": "a", "op": "RE", "value": "("}],
            },
            "input.matchers[0].value",
        ),
    ],
)
async def test_invalid_routes_are_refused_with_the_field(
    gql: GraphQLClient, workspace: Workspace, fields: dict[str, object], field: str
) -> None:
    found, _message = await gql.bad_input(CREATE_ROUTE, {"input": fields}, key=workspace.developer)
    assert found == field


REFUSED_TARGETS = [
    (
        {"channel": "WEBHOOK", "url": "https://169.254.169.254/latest/meta-data/"},
        "input.url",
        "link-local",
    ),
    ({"channel": "WEBHOOK", "url": "https://10.0.0.1/hook"}, "input.url", "private"),
    ({"channel": "WEBHOOK", "url": "https://172.16.5.4/hook"}, "input.url", "private"),
    ({"channel": "WEBHOOK", "url": "https://192.168.1.1/hook"}, "input.url", "private"),
    ({"channel": "WEBHOOK", "url": "https://[fe80::1]/hook"}, "input.url", "link-local"),
    ({"channel": "WEBHOOK", "url": "https://[fd00::1]/hook"}, "input.url", "private"),
    ({"channel": "WEBHOOK", "url": "https://[::ffff:10.0.0.1]/hook"}, "input.url", "private"),
    ({"channel": "WEBHOOK", "url": "https://0.0.0.0/hook"}, "input.url", "unspecified"),
    ({"channel": "WEBHOOK", "url": "https://224.0.0.1/hook"}, "input.url", "multicast"),
    ({"channel": "WEBHOOK", "url": "https://127.0.0.1/hook"}, "input.url", "loopback"),
    ({"channel": "WEBHOOK", "url": "http://localhost:8080/hook"}, "input.url", "loopback"),
    (
        {"channel": "WEBHOOK", "url": "https://no-such-host.invalid/hook"},
        "input.url",
        "does not resolve",
    ),
    ({"channel": "EMAIL", "email": "root@169.254.169.254"}, "input.email", "link-local"),
    ({"channel": "EMAIL", "email": "root@[10.0.0.1]"}, "input.email", "private"),
    ({"channel": "EMAIL", "email": "root@localhost"}, "input.email", "loopback"),
]


@pytest.fixture(scope="module")
def strict_settings(backend: Backend) -> Settings:
    return make_settings(backend, allow_loopback_webhooks=False, run_jobs=False)


@pytest.mark.parametrize(("target", "field", "why"), REFUSED_TARGETS)
async def test_targets_that_reach_inside_are_refused(
    strict_settings: Settings,
    clock: FrozenClock,
    workspace: Workspace,
    target: dict[str, str],
    field: str,
    why: str,
) -> None:
    async with running_app(strict_settings, clock) as strict:
        found, message = await strict.bad_input(
            CREATE_ROUTE, {"input": {"name": "x", **target}}, key=workspace.developer
        )
    assert found == field
    assert why in message, message
    assert "refused" in message


async def test_an_update_to_a_refused_target_is_refused_too(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    route = await create_route(gql, workspace.developer, **webhook())
    variables = {"id": route["id"], "input": webhook("https://169.254.169.254/")}
    found, message = await gql.bad_input(UPDATE_ROUTE, variables, key=workspace.developer)
    assert (found, "link-local" in message) == ("input.url", True)


async def test_loopback_is_allowed_only_with_the_setting(
    gql: GraphQLClient, workspace: Workspace, settings: Settings
) -> None:
    assert settings.allow_loopback_webhooks  # the session's settings, as tests run
    route = await create_route(gql, workspace.developer, **webhook("http://localhost:8080/hook"))
    assert route["url"] == "http://localhost:8080/hook"
    # Plain http only to loopback: a public address needs https.
    variables = {"input": webhook("http://8.8.8.8/hook", name="public")}
    found, message = await gql.bad_input(CREATE_ROUTE, variables, key=workspace.developer)
    assert (found, "https" in message) == ("input.url", True)
