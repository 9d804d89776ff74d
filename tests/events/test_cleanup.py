"""Subscriptions leave nothing behind when clients go away."""

import asyncio
import gc
import tracemalloc

from server.core.events.service import Stream
from server.core.events.stream import Scope, follow
from server.core.services import Services
from tests.conftest import Workspace
from tests.ws_client import subscription_client

TASK_EVENTS = "subscription { taskEvents { cursor } }"


async def _settle(services: Services, expected: int) -> None:
    for _ in range(200):
        if services.feed.listener_count == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{services.feed.listener_count} listeners, expected {expected}")


async def test_ten_thousand_subscribe_and_leave_cycles_leak_nothing(
    services: Services, workspace: Workspace
) -> None:
    await services.feed.current_position()
    baseline = services.feed.listener_count
    scope = Scope(Stream.TASK, int(workspace.id), lambda record: True)

    async def cycle() -> None:
        stream = follow(services.db, services.feed, services.clock, scope, after=None)
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await stream.aclose()

    for _ in range(1_000):  # warm up allocator caches before measuring
        await cycle()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(10_000):
        await cycle()
    gc.collect()
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert services.feed.listener_count == baseline
    assert grown < 512 * 1024, f"memory grew by {grown} bytes over 10,000 cycles"


async def test_websocket_clients_that_disconnect_release_their_subscriptions(
    services: Services, live_server: str, workspace: Workspace
) -> None:
    baseline = services.feed.listener_count
    for _ in range(100):
        async with subscription_client(live_server, workspace.viewer) as client:
            await client.subscribe(TASK_EVENTS)
            await _settle(services, baseline + 1)
    await _settle(services, baseline)
