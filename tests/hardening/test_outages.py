"""A database that goes away under load: 503 SERVICE_UNAVAILABLE, a few log lines, recovery."""

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field

import pytest

from server.core import metrics
from server.core.clock import FrozenClock
from server.transport.cli import bootstrap, migrate
from tests.conftest import Backend, make_settings, running_app
from tests.graphql_client import GraphQLClient
from tests.servers import own_postgres, served
from tests.ws_client import subscription_client

pytestmark = pytest.mark.postgresql_only

ALERTS = "{ alerts(first: 5) { totalCount } }"


@dataclass
class Load:
    """Answers to a steady stream of requests: (status, Retry-After, error code)."""

    answers: list[tuple[int, str | None, str | None]] = field(default_factory=list)

    async def run(self, client: GraphQLClient, key: str) -> None:
        while True:
            response = await client.post(ALERTS, key=key)
            errors = response.json().get("errors") or [{}]
            code = errors[0].get("extensions", {}).get("code")
            self.answers.append((response.status_code, response.headers.get("retry-after"), code))
            await asyncio.sleep(0.01)


async def _until_served(client: GraphQLClient, key: str) -> None:
    for _ in range(300):
        response = await client.post(ALERTS, key=key)
        if response.status_code == 200 and "errors" not in response.json():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("service did not resume once the database was back")


async def test_a_stopped_database_is_503_with_retry_after_and_told_once(
    backend: Backend, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with own_postgres() as cluster:
        settings = make_settings(
            backend,
            database_url=cluster.url,
            redis_url="memory://",
            key_cache_seconds=1.0,
            rate_limit_per_minute=0,
        )
        await migrate(settings)
        key = await bootstrap(settings)
        assert key is not None
        async with running_app(settings, clock) as client:
            await _until_served(client, key)
            load = Load()
            workers = [asyncio.create_task(load.run(client, key)) for _ in range(4)]
            try:
                with caplog.at_level(logging.INFO):
                    await asyncio.sleep(0.3)
                    await cluster.stop()
                    await asyncio.sleep(3)  # longer than the key cache: both paths fail
                    during = len(load.answers)
                    await cluster.start()
                    await asyncio.wait_for(_until_served(client, key), timeout=40)
            finally:
                for worker in workers:
                    worker.cancel()
                for worker in workers:
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
    answers = Counter((status, retry, code) for status, retry, code in load.answers[:during])
    assert answers[(503, "5", "SERVICE_UNAVAILABLE")] >= 20, answers
    assert set(answers) <= {(200, None, None), (503, "5", "SERVICE_UNAVAILABLE")}, answers
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) <= 6, [r.getMessage() for r in loud]
    assert not any(r.exc_info for r in loud), "no traceback for an outage"
    told = [r.getMessage() for r in loud if r.name == "opsgraph.outages"]
    assert any("database unreachable" in message for message in told), told
    assert any("database reachable again" in message for message in told), told
    outages = metrics.registry.get_sample_value(
        "opsgraph_dependency_outages_total", {"dependency": "database"}
    )
    assert outages is not None
    assert outages >= 1


async def test_an_operation_over_a_websocket_during_an_outage_gets_service_unavailable(
    backend: Backend, clock: FrozenClock
) -> None:
    async with own_postgres() as cluster:
        settings = make_settings(
            backend, database_url=cluster.url, redis_url="memory://", rate_limit_per_minute=0
        )
        await migrate(settings)
        key = await bootstrap(settings)
        assert key is not None
        async with (
            served(settings, clock) as address,
            subscription_client(f"ws://{address}/graphql", key) as client,
        ):
            await client.subscribe(ALERTS)
            assert (await client.next_data())["alerts"]["totalCount"] == 0
            await client.receive()  # its completion
            await cluster.stop()
            refused_id = await client.subscribe(ALERTS)
            refused = await client.receive(wait=20)
            await cluster.start()
    assert (refused["id"], refused["type"]) == (refused_id, "next"), refused
    (error,) = refused["payload"]["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
