"""Websocket limits: connections per key (on one process and across replicas),
message size, idle and ping timeouts."""

import asyncio
import json
import signal
from contextlib import AsyncExitStack
from dataclasses import replace

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.core import metrics
from server.core.clock import FrozenClock
from tests.conftest import Backend, Workspace, make_settings
from tests.servers import (
    own_redis,
    replica,
    replica_process,
    served,
    stop_redis,
    until_ready,
)
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


async def _acknowledged_once_free(address: str, key: str, within: float = 3.0) -> ClientConnection:
    """A connection of ``key`` that the server acknowledged, once a slot is free.
    A closed connection gives its slot back when the server has finished with
    it, which may be just after the client saw it close: until then (at most
    ``within`` seconds) the key is refused with 4429 and tries again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        connection = await _initialised(address, key)
        try:
            reply = json.loads(await asyncio.wait_for(connection.recv(), timeout=5))
        except ConnectionClosed:
            assert connection.close_code == 4429, connection.close_code
            assert loop.time() < deadline, f"no slot was given back within {within}s"
            await asyncio.sleep(0.05)
            continue
        assert reply["type"] == "connection_ack", reply
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


#: Replicas allowing two connections a key, with leases short enough to watch run out.
TWO_A_KEY = {
    "max_websocket_connections_per_key": "2",
    "websocket_slot_lease_seconds": "3",
    "run_jobs": "false",
}


@pytest.mark.postgresql_only
async def test_a_keys_connections_are_counted_across_replicas(
    backend: Backend, workspace: Workspace
) -> None:
    with replica(backend, **TWO_A_KEY) as first, replica(backend, **TWO_A_KEY) as second:
        await asyncio.gather(until_ready(first), until_ready(second))
        key = workspace.viewer
        async with AsyncExitStack() as on_first:
            await on_first.enter_async_context(subscription_client(f"ws://{first}/graphql", key))
            async with subscription_client(f"ws://{second}/graphql", key, LEGACY_WS):
                await asyncio.sleep(4)  # longer than a lease: renewed, still held
                for address in (first, second):
                    third = await _initialised(address, key)
                    assert await _close_code(third) == 4429, address
                async with subscription_client(f"ws://{second}/graphql", workspace.developer):
                    pass  # another key is not held back
                await on_first.aclose()  # the first replica gives its slot back
                given_back = await _acknowledged_once_free(second, key)
                third = await _initialised(first, key)
                assert await _close_code(third) == 4429, "the slot is taken again"
                await given_back.close()


@pytest.mark.postgresql_only
async def test_a_replica_that_dies_frees_its_slots_when_their_leases_end(
    backend: Backend, workspace: Workspace
) -> None:
    key = workspace.viewer
    with (
        replica(backend, **TWO_A_KEY) as survivor,
        replica_process(backend, **TWO_A_KEY) as (doomed, process),
    ):
        await asyncio.gather(until_ready(survivor), until_ready(doomed))
        async with AsyncExitStack() as held:
            for _ in range(2):
                url = f"ws://{doomed}/graphql"
                await held.enter_async_context(subscription_client(url, key))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            refused = await _initialised(survivor, key)
            assert await _close_code(refused) == 4429, "leases still run"
            await asyncio.sleep(3.5)
            async with subscription_client(f"ws://{survivor}/graphql", key):
                pass


def _slot_fail_opens() -> float:
    sample = metrics.registry.get_sample_value("opsgraph_websocket_slots_fail_open_total")
    return sample or 0.0


@pytest.mark.postgresql_only
async def test_with_redis_stopped_connections_are_let_in_and_counted(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    async with own_redis() as port:
        own = replace(backend, redis_url=f"redis://127.0.0.1:{port}/0")
        settings = make_settings(own, max_websocket_connections_per_key=1)
        async with served(settings, clock) as address:
            url = f"ws://{address}/graphql"
            async with subscription_client(url, workspace.viewer):
                second = await _initialised(address, workspace.viewer)
                assert await _close_code(second) == 4429, "counted in Redis"
            before = _slot_fail_opens()
            await stop_redis(port)
            async with (
                subscription_client(url, workspace.viewer),
                subscription_client(url, workspace.viewer),
            ):
                pass  # over the limit, but let in: Redis is down
            assert _slot_fail_opens() - before == 2
