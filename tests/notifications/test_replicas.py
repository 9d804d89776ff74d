"""Two replicas on one PostgreSQL database: each message is made once and each
attempt sent once, however the dispatchers and senders interleave."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from server.core.clock import FrozenClock
from server.core.services import Services
from server.notifications import jobs
from server.transport.app import create_app
from tests.conftest import Backend, Workspace, make_settings
from tests.graphql_client import GraphQLClient
from tests.notifications.helpers import create_route, deliveries
from tests.notifications.receivers import webhook_receiver

pytestmark = pytest.mark.postgresql_only

ALERTS = 40
RAISE_MANY = "mutation($inputs: [AlertInput!]!) { raiseAlerts(inputs: $inputs) { id } }"


@asynccontextmanager
async def replica(backend: Backend, clock: FrozenClock) -> AsyncIterator[Services]:
    """Another server process on the same database and bus, its runner left off."""
    app = create_app(make_settings(backend, run_jobs=False), clock=clock)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        yield services


async def test_two_replicas_never_send_one_attempt_twice(
    backend: Backend,
    gql: GraphQLClient,
    workspace: Workspace,
    paused_runner: FrozenClock,
) -> None:
    assert backend.name == "postgresql"
    async with webhook_receiver() as receiver:
        receiver.answer_with(*[500] * (ALERTS // 4))  # some fail once and are retried
        await create_route(
            gql, workspace.developer, name="hook", channel="WEBHOOK", url=receiver.url
        )
        inputs = [
            {
                "service": "checkout",
                "summary": f"alert {n}",
                "severity": "PAGE",
                "labels": {"n": str(n)},
            }
            for n in range(ALERTS)
        ]
        await gql.data(RAISE_MANY, {"inputs": inputs}, key=workspace.developer)
        async with (
            replica(backend, paused_runner) as first,
            replica(backend, paused_runner) as second,
        ):
            for _ in range(3):
                await asyncio.gather(*(jobs.dispatch(r) for r in (first, second, first, second)))
                await asyncio.gather(
                    *(jobs.send(r, uniform=lambda: 0.0) for r in (first, second, first, second))
                )
                paused_runner.advance(timedelta(minutes=1))  # the retries fall due
    attempts = await deliveries(gql, workspace.viewer)
    sent = Counter((request.headers["webhook-id"], request.body) for request in receiver.requests)
    assert all(count == 1 for count in sent.values()), sent.most_common(3)
    per_message = Counter(request.headers["webhook-id"] for request in receiver.requests)
    assert len(per_message) == ALERTS
    assert sum(1 for a in attempts if a["status"] == "SUCCEEDED") == ALERTS
    assert len(receiver.requests) == len(attempts) == ALERTS + ALERTS // 4
    assert len({(a["webhookId"], a["attempt"]) for a in attempts}) == len(attempts)
