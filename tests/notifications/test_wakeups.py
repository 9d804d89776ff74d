"""The notification loops are woken by new work, not by their interval."""

import asyncio

from server.core.clock import FrozenClock
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient
from tests.notifications.helpers import create_route, deliveries, raise_alert
from tests.notifications.receivers import webhook_receiver


async def test_a_fired_alert_is_posted_long_before_the_notification_interval(
    backend: Backend, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    # Only the second app runs jobs, and its interval is a minute: the alert's
    # event wakes its dispatcher, whose messages wake its sender.
    settings = make_settings(backend, notification_interval="PT1M")
    async with webhook_receiver() as receiver, running_app(settings, paused_runner) as gql:
        await create_route(
            gql, workspace.developer, name="hook", channel="WEBHOOK", url=receiver.url
        )
        await asyncio.sleep(0.3)  # both loops have made their first pass
        await raise_alert(gql, workspace.developer)
        for _ in range(100):
            if receiver.requests:
                break
            await asyncio.sleep(0.05)
        assert len(receiver.requests) == 1


async def test_an_app_that_stops_finishes_and_records_the_sends_it_has_under_way(
    backend: Backend, workspace: Workspace, paused_runner: FrozenClock, gql: GraphQLClient
) -> None:
    # The attempt is handed to the sender as its message is made; the app stops
    # while the receiver is still answering, and records the answer before it goes.
    settings = make_settings(backend, notification_interval="PT1M")
    async with webhook_receiver() as receiver:
        receiver.delay_seconds = 0.5
        async with running_app(settings, paused_runner) as other:
            await create_route(
                other, workspace.developer, name="hook", channel="WEBHOOK", url=receiver.url
            )
            await asyncio.sleep(0.3)
            await raise_alert(other, workspace.developer)
            for _ in range(100):
                if receiver.requests:
                    break
                await asyncio.sleep(0.05)
            assert len(receiver.requests) == 1
    (delivery,) = await deliveries(gql, workspace.developer)
    assert (delivery["status"], delivery["attempt"], delivery["httpStatus"]) == (
        "SUCCEEDED",
        1,
        200,
    )
