"""A long-lived subscription's memory stays flat however many events it receives."""

import asyncio
import gc
import tracemalloc
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from schema.context import Context
from schema.events import ENVELOPES_KEPT
from schema.root import build_schema
from server.core.auth import Principal, Role
from server.core.events.service import EventRecord, Stream
from server.core.services import Services
from tests.conftest import Workspace

QUERY = "subscription { taskEvents { schema cursor type occurredAt workspace payload } }"


def _record(seq: int, workspace_id: int) -> EventRecord:
    return EventRecord(
        seq=seq,
        workspace_id=workspace_id,
        stream=Stream.TASK,
        type="task.progress",
        subject_id=1,
        service=None,
        severity=None,
        payload={"taskId": "1", "progress": 0.5},
        occurred_at=datetime.now(UTC),
    )


async def _deliver(
    services: Services, stream: AsyncGenerator[Any], seqs: range, workspace_id: int
) -> None:
    for seq in seqs:
        services.feed._dispatch(_record(seq, workspace_id))
        result = await asyncio.wait_for(anext(stream), timeout=5)
        assert not result.errors


async def test_memory_stays_flat_over_thousands_of_deliveries(
    services: Services, workspace: Workspace
) -> None:
    workspace_id = int(workspace.id)
    principal = Principal(key_id=0, key_name="t", workspace_id=workspace_id, role=Role.VIEWER)
    context = Context(services, request_id=None, principal=principal, share_read_session=False)
    stream = await build_schema(services.settings).subscribe(QUERY, context_value=context)
    assert isinstance(stream, AsyncGenerator)
    saved_position = await services.feed.current_position()
    start = saved_position + 1_000_000  # beyond any real cursor; the position is restored
    try:
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.05)  # let the subscription register with the feed
        services.feed._dispatch(_record(start, workspace_id))
        assert not (await asyncio.wait_for(first, timeout=5)).errors
        # Warm up past the bounded caches (the recent envelopes shared by
        # subscribers), traced: what replaces their entries must be seen to replace.
        tracemalloc.start()
        warm = start + ENVELOPES_KEPT + 500
        await _deliver(services, stream, range(start + 1, warm), workspace_id)
        gc.collect()
        before = tracemalloc.take_snapshot()
        await _deliver(services, stream, range(warm, warm + 3_000), workspace_id)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    finally:
        services.feed.position = saved_position
        await stream.aclose()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 1024 * 1024, f"grew {grown} bytes over 3,000 deliveries"
