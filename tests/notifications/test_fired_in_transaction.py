"""A replica that runs the jobs makes an alert's messages in the transaction
that fires it, and sends them as soon as it commits; the dispatcher, reading the
same events later, makes none again."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx

from server.core.clock import FrozenClock
from server.core.services import Services
from server.notifications import jobs
from server.transport.app import create_app
from tests.conftest import Backend, Workspace, make_settings
from tests.graphql_client import GraphQLClient
from tests.notifications.helpers import create_route, deliveries, raise_alert
from tests.notifications.receivers import Received, WebhookReceiver, webhook_receiver

RAISE_MANY = """
mutation($inputs: [AlertInput!]!) {
  raiseAlerts(inputs: $inputs) { id silenced noiseSuppressed }
}"""
SILENCE = """
mutation($input: SilenceRuleInput!) { createSilenceRule(input: $input) { id } }"""
AGGREGATE = """
mutation($input: AggregationRuleInput!) { createAggregationRule(input: $input) { id } }"""


@asynccontextmanager
async def _app_without_dispatcher(
    backend: Backend, clock: FrozenClock
) -> AsyncIterator[tuple[GraphQLClient, Services]]:
    """An app whose job runner runs everything but the dispatcher loop: what it
    notifies, it notifies from the firing transaction."""
    application = create_app(make_settings(backend, notification_interval="PT1M"), clock=clock)
    services: Services = application.state.services
    del services.runner.loops["notification_dispatch"]
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://other.test") as client:
            yield GraphQLClient(client), services


async def _received(receiver: WebhookReceiver, count: int) -> None:
    for _ in range(100):
        if len(receiver.requests) >= count:
            return
        await asyncio.sleep(0.05)


def _alert_id(request: Received) -> str:
    alert_id: str = json.loads(request.body)["data"]["alert"]["alertId"]
    return alert_id


async def test_a_fired_alert_is_posted_without_the_dispatcher(
    backend: Backend, workspace: Workspace, paused_runner: FrozenClock, gql: GraphQLClient
) -> None:
    async with (
        webhook_receiver() as receiver,
        _app_without_dispatcher(backend, paused_runner) as (other, services),
    ):
        await create_route(
            other, workspace.developer, name="hook", channel="WEBHOOK", url=receiver.url
        )
        alert = await raise_alert(other, workspace.developer)
        await _received(receiver, 1)
        assert [_alert_id(request) for request in receiver.requests] == [alert["id"]]
        # The dispatcher then reads the same fired event and makes nothing of it.
        assert await jobs.dispatch(services) == 0
    (delivery,) = await deliveries(gql, workspace.developer)
    assert (delivery["status"], delivery["attempt"], delivery["alert"]["id"]) == (
        "SUCCEEDED",
        1,
        alert["id"],
    )


async def test_the_firing_transaction_leaves_out_what_the_dispatcher_would(
    backend: Backend, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    # A repeat, an alert the route's matcher leaves out, a silenced one and one
    # over its aggregation group's cap: only the first alert is posted.
    key = workspace.developer
    async with (
        webhook_receiver() as receiver,
        _app_without_dispatcher(backend, paused_runner) as (gql, services),
    ):
        await create_route(
            gql,
            key,
            name="hook",
            channel="WEBHOOK",
            url=receiver.url,
            matchers=[{"label": "team", "op": "EQ", "value": "payments"}],
        )
        silence = {
            "matchers": [{"label": "service", "op": "EQ", "value": "batch"}],
            "endsAt": (paused_runner.now() + timedelta(hours=1)).isoformat(),
        }
        await gql.data(SILENCE, {"input": silence}, key=key)
        rule = {"name": "one", "groupBy": ["service"], "windowSeconds": 600, "maxNotifications": 1}
        await gql.data(AGGREGATE, {"input": rule}, key=key)
        inputs = [
            _alert("web", team="payments", n="1"),
            _alert("web", team="payments", n="1"),
            _alert("api", team="search", n="2"),
            _alert("batch", team="payments", n="3"),
        ]
        raised = (await gql.data(RAISE_MANY, {"inputs": inputs}, key=key))["raiseAlerts"]
        over_cap = (
            await gql.data(RAISE_MANY, {"inputs": [_alert("web", team="payments")]}, key=key)
        )["raiseAlerts"]
        assert [(a["silenced"], a["noiseSuppressed"]) for a in (raised[3], *over_cap)] == [
            (True, False),
            (False, True),
        ]
        await _received(receiver, 1)
        await asyncio.sleep(0.2)  # time for a wrong second post to arrive
        assert [_alert_id(request) for request in receiver.requests] == [raised[0]["id"]]
        assert await jobs.dispatch(services) == 0
        assert len(await deliveries(gql, key)) == 1


def _alert(service: str, **labels: str) -> dict[str, object]:
    return {"service": service, "summary": "s", "severity": "PAGE", "labels": labels}
