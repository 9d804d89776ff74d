"""Requests without an API key take from their client address's budget."""

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from server.core.clock import FrozenClock
from server.transport.app import create_app
from tests.conftest import Backend, Workspace, make_settings

TYPENAME = "{ __typename }"
ME = "{ me { role } }"


_hosts = itertools.count(1)


def _address() -> str:
    """An address of the benchmarking range no other request of the run comes
    from, so that nothing else shares its budget (buckets in a shared Redis are
    kept apart per database, and each run has its own)."""
    host = next(_hosts)
    return f"198.18.{host // 250}.{host % 250 + 1}"


@asynccontextmanager
async def _app_seen_from(
    backend: Backend, clock: FrozenClock, address: str, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    """An app with these settings, whose requests come from ``address``."""
    application = create_app(make_settings(backend, **overrides), clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=(address, 40_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://anon.test") as client:
            yield client


async def _post(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers=headers or {})


async def test_requests_without_a_key_are_refused_just_past_their_budget(
    backend: Backend, workspace: Workspace, clock: FrozenClock
) -> None:
    async with _app_seen_from(
        backend, clock, _address(), rate_limit_anonymous_per_minute=3
    ) as client:
        at_the_bound = [await _post(client, TYPENAME) for _ in range(3)]
        assert [answer.status_code for answer in at_the_bound] == [200, 200, 200]
        assert at_the_bound[-1].headers["x-ratelimit-limit"] == "3"
        assert at_the_bound[-1].headers["x-ratelimit-remaining"] == "0"
        past = await _post(client, ME, {"Authorization": "Bearer not-a-key"})
        assert past.status_code == 429, "a refused key counts as none"
        error = past.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert "without an API key" in error["message"]
        assert int(past.headers["retry-after"]) == error["extensions"]["retryAfter"] >= 20
        keyed = await _post(client, ME, {"Authorization": f"Bearer {workspace.viewer}"})
        assert keyed.status_code == 200, "a request with a key takes from the key's budget"
        assert keyed.json()["data"]["me"]["role"] == "VIEWER"


async def test_each_client_address_has_its_own_budget(backend: Backend, clock: FrozenClock) -> None:
    first, second = _address(), _address()
    async with _app_seen_from(backend, clock, first, rate_limit_anonymous_per_minute=1) as client:
        assert (await _post(client, TYPENAME)).status_code == 200
        assert (await _post(client, TYPENAME)).status_code == 429
    async with _app_seen_from(backend, clock, second, rate_limit_anonymous_per_minute=1) as client:
        assert (await _post(client, TYPENAME)).status_code == 200, "another address"


async def test_behind_a_trusted_proxy_the_address_it_added_is_the_client(
    backend: Backend, clock: FrozenClock
) -> None:
    client_address, proxy = _address(), _address()
    async with _app_seen_from(
        backend, clock, proxy, rate_limit_anonymous_per_minute=2, trust_forwarded_proto=True
    ) as client:
        statuses = []
        for spoofed in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
            forwarded = {"X-Forwarded-For": f"{spoofed}, {client_address}"}
            statuses.append((await _post(client, TYPENAME, forwarded)).status_code)
        assert statuses == [200, 200, 429], "addresses a client puts first change nothing"
        other = {"X-Forwarded-For": _address()}
        assert (await _post(client, TYPENAME, other)).status_code == 200, "another client"


async def test_no_budget_for_anonymous_requests_when_rate_limits_are_off(
    backend: Backend, clock: FrozenClock
) -> None:
    async with _app_seen_from(
        backend, clock, _address(), rate_limit_per_minute=0, rate_limit_anonymous_per_minute=1
    ) as client:
        statuses = [(await _post(client, TYPENAME)).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        assert "x-ratelimit-limit" not in (await _post(client, TYPENAME)).headers
