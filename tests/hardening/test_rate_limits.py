"""Rate limits per key and per workspace, reads and mutations apart, across replicas."""

import asyncio
import time
from dataclasses import replace

import httpx
import pytest

from server.core import metrics
from server.core.clock import FrozenClock
from server.core.gcra import Bucket, decide
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient
from tests.servers import own_redis, replica, served, stop_redis, until_ready
from tests.ws_client import subscription_client

ME = "{ me { role } }"
INGEST = 'mutation { ingestSignals(signals: [{service: "s", name: "n", value: 1}]) { accepted } }'


def test_a_bucket_accepts_its_capacity_at_once_and_refuses_the_next() -> None:
    bucket = Bucket("reads", capacity=3, period_seconds=60)
    tat: int | None = None
    answers = []
    for _ in range(4):
        verdict, new_tat = decide(bucket, tat_us=tat, now_us=0, cost=1)
        answers.append((verdict.allowed, verdict.remaining))
        if verdict.allowed:
            tat = new_tat
    assert answers == [(True, 2), (True, 1), (True, 0), (False, 0)]
    refused, _ = decide(bucket, tat_us=tat, now_us=0, cost=1)
    assert refused.retry_after_us == 20_000_000, "one token back every 20 s"


def test_a_bucket_refills_one_request_per_interval() -> None:
    bucket = Bucket("reads", capacity=3, period_seconds=60)
    full_at = 60_000_000  # three requests taken at 0
    early, _ = decide(bucket, tat_us=full_at, now_us=19_999_999, cost=1)
    on_time, _ = decide(bucket, tat_us=full_at, now_us=20_000_000, cost=1)
    assert (early.allowed, on_time.allowed) == (False, True)
    assert on_time.remaining == 0
    assert on_time.reset_us == 60_000_000


async def test_every_answer_carries_the_rate_limit_headers(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    response = await gql.post(ME, key=workspace.viewer)
    assert response.status_code == 200
    assert int(response.headers["x-ratelimit-limit"]) > 0
    assert (
        0
        <= int(response.headers["x-ratelimit-remaining"])
        < int(response.headers["x-ratelimit-limit"])
    )
    assert int(response.headers["x-ratelimit-reset"]) >= 1


async def test_mutations_have_their_own_smaller_budget(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    settings = make_settings(backend, rate_limit_per_minute=100, rate_limit_mutations_per_minute=2)
    async with running_app(settings, clock) as client:
        first, second, third = [await client.post(INGEST, key=workspace.developer) for _ in "abc"]
        assert [first.status_code, second.status_code] == [200, 200], "accepted at the bound"
        assert second.headers["x-ratelimit-remaining"] == "0"
        assert third.status_code == 429, "refused just past it"
        error = third.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert "mutations" in error["message"]
        assert int(third.headers["retry-after"]) == error["extensions"]["retryAfter"] >= 1
        read = await client.post(ME, key=workspace.developer)
        assert read.status_code == 200, "reads keep their own budget"
        assert int(read.headers["x-ratelimit-limit"]) == 100


async def test_a_workspace_budget_binds_all_its_keys_together(
    backend: Backend, workspace: Workspace, other_workspace: Workspace, clock: FrozenClock
) -> None:
    settings = make_settings(backend, rate_limit_per_minute=3, rate_limit_workspace_factor=1.0)
    async with running_app(settings, clock) as client:
        statuses = [
            (await client.post(ME, key=key)).status_code
            for key in (workspace.viewer, workspace.developer, workspace.admin, workspace.viewer)
        ]
        assert statuses == [200, 200, 200, 429]
        fresh_key = await client.post(ME, key=workspace.developer)
        assert fresh_key.status_code == 429, "the developer's own budget is not spent"
        elsewhere = await client.post(ME, key=other_workspace.viewer)
        assert elsewhere.status_code == 200, "another workspace is not held back"


async def test_a_subscription_over_the_limit_gets_a_coded_error(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    settings = make_settings(backend, rate_limit_per_minute=2)
    query = "subscription { taskEvents { cursor } }"
    async with (
        served(settings, clock) as address,
        subscription_client(f"ws://{address}/graphql", workspace.viewer) as client,
    ):
        await client.subscribe(query)
        await client.subscribe(query)
        refused_id = await client.subscribe(query)
        message = await client.receive()
        assert message["type"] == "error"
        assert message["id"] == refused_id
        assert message["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert message["payload"][0]["extensions"]["retryAfter"] >= 1


def _fail_opens() -> float:
    return metrics.registry.get_sample_value("opsgraph_rate_limit_fail_open_total") or 0.0


async def _alternating(addresses: tuple[str, str], key: str, rounds: int) -> list[list[int]]:
    """Statuses per replica of ``rounds`` rounds, each a request to both at once."""
    statuses: list[list[int]] = [[], []]
    async with httpx.AsyncClient() as http:
        for _ in range(rounds):
            answers = await asyncio.gather(
                *(
                    http.post(
                        f"http://{address}/graphql",
                        json={"query": ME},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    for address in addresses
                )
            )
            for index, answer in enumerate(answers):
                statuses[index].append(answer.status_code)
    return statuses


@pytest.mark.postgresql_only
async def test_two_replicas_sharing_redis_accept_the_limit_once_in_total(
    backend: Backend, workspace: Workspace
) -> None:
    limit = 20
    settings = {"rate_limit_per_minute": str(limit), "run_jobs": "false"}
    with replica(backend, **settings) as first, replica(backend, **settings) as second:
        await asyncio.gather(until_ready(first), until_ready(second))
        started = time.monotonic()
        statuses = await _alternating((first, second), workspace.viewer, 25)
        elapsed = time.monotonic() - started
    accepted = sum(status == 200 for batch in statuses for status in batch)
    refused = sum(status == 429 for batch in statuses for status in batch)
    refilled = int(elapsed * limit / 60) + 1
    assert limit <= accepted <= limit + refilled, (accepted, elapsed)
    assert accepted + refused == 50
    assert all(200 in batch for batch in statuses), "both replicas served some"


@pytest.mark.postgresql_only
async def test_with_redis_stopped_requests_succeed_and_the_fail_open_is_counted(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    async with own_redis() as port:
        own = replace(backend, redis_url=f"redis://127.0.0.1:{port}/0")
        settings = make_settings(own, rate_limit_per_minute=5)
        async with running_app(settings, clock) as client:
            limited = await client.post(ME, key=workspace.viewer)
            assert limited.headers["x-ratelimit-limit"] == "5", "checked in Redis"
            before = _fail_opens()
            await stop_redis(port)
            statuses = [(await client.post(ME, key=workspace.viewer)).status_code for _ in range(8)]
            assert statuses == [200] * 8, "over the limit, but let through: Redis is down"
            assert _fail_opens() - before == 8
