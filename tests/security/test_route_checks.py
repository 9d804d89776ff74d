"""The checks of webhook routes, made to fail and to pass through GraphQL.

Routes are written through the notifications API. That API always gives a
WEBHOOK route a secret, so a route without one (as an older version or a hand
edit of the database leaves it) is made by clearing the column.
"""

from sqlalchemy import update

from server.core.services import Services
from server.notifications.models import NotificationRoute
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.notifications.helpers import UPDATE_ROUTE, create_route
from tests.security.helpers import inspect

SECURE_URL = "https://127.0.0.1:9/hooks/opsgraph"
PLAIN_URL = "http://127.0.0.1:9/hooks/opsgraph"


async def test_without_webhook_routes_both_route_checks_pass(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await create_route(gql, workspace.developer, name="inbox", channel="IN_APP")
    inspection = await inspect(gql, workspace.admin)
    for check in ("webhook_route_secrets", "webhook_route_tls"):
        assert inspection.status(check) == "PASS"
        assert inspection.detail(check) == "no webhook routes"


async def test_a_webhook_route_over_plain_http_fails_until_it_uses_https(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await create_route(gql, workspace.developer, name="secure", channel="WEBHOOK", url=SECURE_URL)
    plain = await create_route(
        gql, workspace.developer, name="plain", channel="WEBHOOK", url=PLAIN_URL
    )
    failing = await inspect(gql, workspace.admin)
    assert failing.status("webhook_route_tls") == "FAIL"
    assert failing.detail("webhook_route_tls") == (
        f"webhook route(s) sending alerts without TLS: plain (#{plain['id']})"
    )
    assert "https://" in failing.item("webhook_route_tls")["remediation"]
    assert failing.status("webhook_route_secrets") == "PASS"
    fixed = {"name": "plain", "channel": "WEBHOOK", "url": SECURE_URL}
    await gql.data(UPDATE_ROUTE, {"id": plain["id"], "input": fixed}, key=workspace.developer)
    passing = await inspect(gql, workspace.admin)
    assert passing.status("webhook_route_tls") == "PASS"
    assert passing.detail("webhook_route_tls") == "all 2 webhook route(s) use https"


async def test_a_webhook_route_without_a_secret_fails_until_it_gets_one(
    gql: GraphQLClient, workspace: Workspace, services: Services
) -> None:
    route = await create_route(
        gql, workspace.developer, name="unsigned", channel="WEBHOOK", url=SECURE_URL
    )
    signed = await inspect(gql, workspace.admin)
    assert signed.status("webhook_route_secrets") == "PASS"
    async with services.db.transaction() as session:
        await session.execute(
            update(NotificationRoute)
            .where(NotificationRoute.id == int(route["id"]))
            .values(secret=None)
        )
    unsigned = await inspect(gql, workspace.admin)
    assert unsigned.status("webhook_route_secrets") == "FAIL"
    assert unsigned.detail("webhook_route_secrets") == (
        f"webhook route(s) without a signing secret: unsigned (#{route['id']})"
    )
    same = {"name": "unsigned", "channel": "WEBHOOK", "url": SECURE_URL}
    updated = await gql.data(
        UPDATE_ROUTE, {"id": route["id"], "input": same}, key=workspace.developer
    )
    assert updated["updateNotificationRoute"]["hasSecret"] is True
    assert (await inspect(gql, workspace.admin)).status("webhook_route_secrets") == "PASS"


async def test_a_disabled_webhook_route_is_still_reported(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await create_route(
        gql, workspace.developer, name="parked", channel="WEBHOOK", url=PLAIN_URL, enabled=False
    )
    inspection = await inspect(gql, workspace.admin)
    assert inspection.status("webhook_route_tls") == "FAIL"
    assert "parked (#" in inspection.detail("webhook_route_tls")
    assert inspection.detail("webhook_route_tls").endswith(", disabled)")
