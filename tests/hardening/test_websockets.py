"""Websocket limits: connections per key, message size, idle and ping timeouts."""

import asyncio
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.core.clock import FrozenClock
from tests.conftest import Backend, Workspace, make_settings
from tests.servers import served
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, subscription_client

TASKS = "subscription { taskEvents { cursor } }"


async def _close_code(connection: ClientConnection, wait: float = 5.0) -> int | None:
    """The close code, once the server closes the connection (within ``wait`` per message)."""
    while True:
        try:
            await asyncio.wait_for(connection.recv(), timeout=wait)
        except ConnectionClosed:
            return connection.close_code


async def _initialised(address: str, key: str, protocol: str = TRANSPORT_WS) -> ClientConnection:
    connection = await connect(f"ws://{address}/graphql", subprotocols=[protocol])  # type: ignore[list-item]
    payload = {"Authorization": f"Bearer {key}"}
    await connection.send(json.dumps({"type": "connection_init", "payload": payload}))
    return connection


async def test_a_key_holds_at_most_its_connections(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    settings = make_settings(backend, max_websocket_connections_per_key=2)
    async with served(settings, clock) as address:
        url = f"ws://{address}/graphql"
        async with (
            subscription_client(url, workspace.viewer),
            subscription_client(url, workspace.viewer, LEGACY_WS),
        ):
            third = await _initialised(address, workspace.viewer)
            assert await _close_code(third) == 4429
            async with subscription_client(url, workspace.developer):
                pass  # another key is not held back
        async with subscription_client(url, workspace.viewer):
            pass  # closed connections are given back


async def test_a_message_over_the_size_limit_closes_with_1009(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    settings = make_settings(backend, max_websocket_message_bytes=2048)
    async with served(settings, clock) as address:
        url = f"ws://{address}/graphql"
        async with subscription_client(url, workspace.viewer) as client:
            padding = " " * 1900
            await client.subscribe(TASKS + padding)  # at the limit, with its envelope
            await client.expect_silence(0.3)
            await client.subscribe(TASKS + padding + " " * 200)
            assert await _close_code(client.connection) == 1009


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_silent_connection_is_closed_as_idle(
    backend: Backend, workspace: Workspace, clock: FrozenClock, protocol: str
) -> None:
    settings = make_settings(
        backend, websocket_idle_timeout_seconds=0.6, websocket_ping_interval_seconds=0.2
    )
    async with served(settings, clock) as address:
        connection = await _initialised(address, workspace.viewer, protocol)
        assert await _close_code(connection) == 4408


async def test_a_client_that_answers_pings_stays_and_one_that_does_not_is_closed(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    # Seconds, not tenths: a loaded machine may delay a ping by a few hundred ms.
    settings = make_settings(
        backend, websocket_idle_timeout_seconds=1.5, websocket_ping_interval_seconds=0.4
    )
    async with served(settings, clock) as address:
        connection = await _initialised(address, workspace.viewer)
        pings = 0
        loop = asyncio.get_running_loop()
        until = loop.time() + 3.0
        while loop.time() < until:
            message = json.loads(await asyncio.wait_for(connection.recv(), timeout=2))
            if message["type"] == "ping":
                pings += 1
                await connection.send(json.dumps({"type": "pong"}))
        assert pings >= 4, "pinged every 0.4 s and still open after 3 s, twice the idle timeout"
        assert await _close_code(connection) == 4408, "then silent: closed"


async def test_a_legacy_connection_running_a_subscription_is_not_idle(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    settings = make_settings(backend, websocket_idle_timeout_seconds=0.5)
    async with served(settings, clock) as address:
        url = f"ws://{address}/graphql"
        async with subscription_client(url, workspace.viewer, LEGACY_WS) as client:
            await client.subscribe(TASKS)
            await client.expect_silence(1.2)
