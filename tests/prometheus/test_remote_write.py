"""``POST /api/v1/write``: Prometheus' samples become signals, found through GraphQL."""

import math
import struct
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from server.core.clock import FrozenClock
from server.core.settings import Settings
from tests.conftest import Workspace, running_app
from tests.graphql_client import GraphQLClient
from tests.prometheus.wire_client import error_code, remote_write

STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
SIGNALS = """query($filter: SignalFilter) { signals(filter: $filter, first: 100) {
  totalCount edges { node { service name value labels ts } } } }"""
AUDIT = """{ auditLog(first: 5) { edges { node { operation target outcome } } } }"""


def ms(clock: FrozenClock, seconds_ago: float = 0) -> int:
    return int((clock.now() - timedelta(seconds=seconds_ago)).timestamp() * 1000)


async def signals(gql: GraphQLClient, workspace: Workspace, **filter_: Any) -> list[dict[str, Any]]:
    data = await gql.data(SIGNALS, {"filter": filter_}, key=workspace.viewer)
    return [edge["node"] for edge in data["signals"]["edges"]]


async def test_samples_become_signals_named_by_metric_and_serviced_by_job(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    series = [
        (
            {"__name__": "http_requests_total", "job": "api", "instance": "a:9100", "code": "200"},
            [(10.0, ms(clock, 30)), (12.5, ms(clock, 15))],
        ),
        ({"__name__": "up", "job": "api", "service": "checkout"}, [(1.0, ms(clock, 15))]),
        ({"__name__": "queue_depth"}, [(3.0, ms(clock, 15))]),
    ]
    response = await remote_write(http, workspace.developer, series)
    assert response.status_code == 204, response.text
    found = await signals(gql, workspace, service="api", name="http_requests_total")
    assert sorted(s["value"] for s in found) == [10.0, 12.5]
    assert found[0]["labels"] == {"instance": "a:9100", "code": "200"}
    (up,) = await signals(gql, workspace, name="up")
    assert (up["service"], up["labels"]) == ("checkout", {"job": "api"})
    (queue,) = await signals(gql, workspace, name="queue_depth")
    assert queue["service"] == "prometheus"
    newest = (await gql.data(AUDIT, key=workspace.admin))["auditLog"]["edges"][0]["node"]
    assert newest == {
        "operation": "prometheusRemoteWrite",
        "target": "signals:accepted=4,rejected=0",
        "outcome": "ok",
    }


async def test_stale_markers_nan_and_infinities_are_dropped_not_refused(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    values = [1.0, STALE, math.nan, math.inf, -math.inf, 2.0]
    samples = [(value, ms(clock, 60 - i)) for i, value in enumerate(values)]
    response = await remote_write(
        http, workspace.developer, [({"__name__": "g", "job": "j"}, samples)]
    )
    assert response.status_code == 204, response.text
    assert sorted(s["value"] for s in await signals(gql, workspace, name="g")) == [1.0, 2.0]
    metrics = (await http.get("/metrics")).text
    assert 'opsgraph_remote_write_samples_total{outcome="dropped_stale"}' in metrics


async def test_series_opsgraph_cannot_store_are_refused_alone_and_counted(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    before = _rejected_series(await http.get("/metrics"))
    too_long = {"__name__": "bad", "job": "api", "path": "x" * 300}
    series = [
        ({"__name__": "good", "job": "api"}, [(1.0, ms(clock, 5))]),
        (too_long, [(1.0, ms(clock, 5)), (2.0, ms(clock, 4))]),
        ({"job": "api"}, [(1.0, ms(clock, 5))]),
        ({"__name__": "future", "job": "api"}, [(1.0, ms(clock, -3600))]),
    ]
    response = await remote_write(http, workspace.developer, series)
    assert response.status_code == 400, "refused series answer 400: Prometheus must not retry"
    assert error_code(response) == "BAD_USER_INPUT"
    message = response.json()["errors"][0]["message"]
    assert message.startswith("3 series refused, the rest stored")
    for reason in ("longer than 256", "no __name__ label", "in the future"):
        assert reason in message
    assert [s["value"] for s in await signals(gql, workspace, name="good")] == [1.0]
    assert await signals(gql, workspace, name="bad") == []
    assert _rejected_series(await http.get("/metrics")) == before + 3


def _rejected_series(response: httpx.Response) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in response.text.splitlines()
        if line.startswith("opsgraph_remote_write_rejected_series_total{")
    )


async def test_only_developer_and_admin_keys_may_write(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    series = [({"__name__": "keyed", "job": "api"}, [(1.0, ms(clock))])]
    missing = await remote_write(http, None, series)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert (await remote_write(http, "not-a-key", series)).status_code == 401
    viewer = await remote_write(http, workspace.viewer, series)
    assert (viewer.status_code, error_code(viewer)) == (403, "FORBIDDEN")
    assert await signals(gql, workspace, name="keyed") == []
    assert (await remote_write(http, workspace.admin, series)).status_code == 204


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Encoding": "gzip"}, 415),
        ({"Content-Type": "application/json"}, 415),
        ({"X-Prometheus-Remote-Write-Version": "2.0.0"}, 415),
        ({"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"}, 415),
    ],
)
async def test_other_formats_than_remote_write_1_are_refused(
    http: httpx.AsyncClient, workspace: Workspace, headers: dict[str, str], status: int
) -> None:
    response = await remote_write(http, workspace.developer, [], headers=headers)
    assert response.status_code == status


async def test_an_undecodable_body_is_400_and_writes_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace
) -> None:
    response = await remote_write(http, workspace.developer, [], body=b"\x10\x00garbage")
    assert (response.status_code, error_code(response)) == (400, "BAD_USER_INPUT")
    assert await signals(gql, workspace) == []


async def test_a_request_larger_than_a_batch_is_stored_whole_in_one_transaction(
    settings: Settings, clock: FrozenClock, workspace: Workspace
) -> None:
    small_batches = settings.model_copy(update={"max_ingest_batch": 2, "run_jobs": False})
    name = f"m_{uuid.uuid4().hex[:8]}"
    samples = [(float(i), ms(clock, 10 - i)) for i in range(5)]
    async with running_app(small_batches, clock) as client:
        response = await remote_write(
            client.http, workspace.developer, [({"__name__": name}, samples)]
        )
        assert response.status_code == 204, response.text
        found = await signals(client, workspace, name=name)
    assert sorted(s["value"] for s in found) == [0.0, 1.0, 2.0, 3.0, 4.0]


async def test_writes_share_the_graphql_rate_limit(
    settings: Settings, clock: FrozenClock, workspace: Workspace
) -> None:
    limited = settings.model_copy(update={"rate_limit_mutations_per_minute": 1, "run_jobs": False})
    series = [({"__name__": "limited"}, [(1.0, ms(clock))])]
    async with running_app(limited, clock) as client:
        first = await remote_write(client.http, workspace.developer, series)
        second = await remote_write(client.http, workspace.developer, series)
    assert first.status_code == 204
    assert "X-RateLimit-Limit" in first.headers
    assert (second.status_code, error_code(second)) == (429, "RATE_LIMITED")
    assert int(second.headers["Retry-After"]) >= 1
