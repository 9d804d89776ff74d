"""A Redis outage is told once, and its end once, however long it lasts and
however many events are committed meanwhile."""

import asyncio
import logging
from dataclasses import replace

import pytest

from server.core.clock import FrozenClock
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient
from tests.servers import own_redis, redis_command, run, stop_redis

RAISE = "mutation($input: AlertInput!) { raiseAlert(input: $input) { id } }"
#: The loggers of the bus's listener and of the outbox's announcements.
BUS, OUTBOX = "server.core.bus", "server.core.events.outbox"


def _warnings(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == logger and record.levelno >= logging.WARNING
    ]


async def _raise(client: GraphQLClient, key: str, number: int) -> None:
    alert = {"service": "checkout", "summary": f"outage {number}", "severity": "INFO"}
    await client.data(RAISE, {"input": alert | {"labels": {"n": str(number)}}}, key=key)


@pytest.mark.postgresql_only
async def test_a_redis_outage_and_its_end_are_each_logged_once(
    backend: Backend, workspace: Workspace, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with own_redis() as port:
        own = replace(backend, redis_url=f"redis://127.0.0.1:{port}/0")
        async with running_app(make_settings(own), clock) as client:
            await _raise(client, workspace.developer, 0)
            caplog.clear()
            await stop_redis(port)
            # Four seconds of commits: the listener retries five times meanwhile
            # (after 0.1, 0.2, 0.4, 0.8 and 1.6 s), the announcer four times.
            for number in range(1, 9):
                await _raise(client, workspace.developer, number)
                await asyncio.sleep(0.5)
            assert len(_warnings(caplog, BUS)) == 1, _warnings(caplog, BUS)
            assert len(_warnings(caplog, OUTBOX)) == 1, _warnings(caplog, OUTBOX)
            caplog.clear()
            await run(*redis_command(port))
            for _ in range(100):
                if len(_warnings(caplog, BUS)) and len(_warnings(caplog, OUTBOX)):
                    break
                await asyncio.sleep(0.1)
            assert _warnings(caplog, BUS) == ["redis bus reconnected"]
            assert _warnings(caplog, OUTBOX) == ["announcing events on the bus again"]
