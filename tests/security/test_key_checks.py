"""The checks of API keys, each made to warn or fail and to pass through GraphQL.

Key use is read from ``lastUsedAt``, which the authenticator stamps with the
injected clock; these tests sign in through an app without the key cache so that
every request after a clock move stamps its key again. The session's paused
runner runs the inspections, at the moved time.
"""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from server.core.clock import FrozenClock
from server.core.services import Services
from tests.conftest import Backend, Workspace, make_settings
from tests.graphql_client import GraphQLClient
from tests.security.helpers import ME, create_key, driven_app, inspect, key_ids, revoke_key

DAY = timedelta(days=1)


@pytest.fixture
async def uncached(backend: Backend, paused_runner: FrozenClock) -> AsyncIterator[GraphQLClient]:
    async with driven_app(make_settings(backend, key_cache_seconds=0), paused_runner) as app:
        yield app.gql


async def test_keys_older_than_90_days_warn_until_rotated(
    uncached: GraphQLClient, workspace: Workspace, paused_runner: FrozenClock, services: Services
) -> None:
    runner = services.runner
    fresh = await inspect(uncached, workspace.admin, runner=runner)
    assert fresh.status("api_key_age") == "PASS"
    ids = await key_ids(uncached, workspace.admin)
    paused_runner.advance(91 * DAY)
    old = await inspect(uncached, workspace.admin, runner=runner)
    assert old.status("api_key_age") == "WARN"
    assert old.detail("api_key_age") == (
        f"3 key(s) older than 90 days: admin (#{ids['admin']}), "
        f"developer (#{ids['developer']}), viewer (#{ids['viewer']})"
    )
    new_admin, new_secret = await create_key(uncached, workspace.admin, "admin 2027", "ADMIN")
    for name in ("admin", "developer", "viewer"):
        await revoke_key(uncached, new_secret, ids[name])
    rotated = await inspect(uncached, new_secret, runner=runner)
    assert rotated.status("api_key_age") == "PASS"


async def test_keys_never_used_for_30_days_warn_until_used_or_revoked(
    uncached: GraphQLClient, workspace: Workspace, paused_runner: FrozenClock, services: Services
) -> None:
    runner = services.runner
    ids = await key_ids(uncached, workspace.admin)
    fresh = await inspect(uncached, workspace.admin, runner=runner)
    assert fresh.status("unused_api_keys") == "PASS", "new keys are given 30 days"
    paused_runner.advance(31 * DAY)
    await uncached.data(ME, key=workspace.developer)
    idle = await inspect(uncached, workspace.admin, runner=runner)
    assert idle.status("unused_api_keys") == "WARN"
    assert idle.detail("unused_api_keys") == f"never used: viewer (#{ids['viewer']})"
    await revoke_key(uncached, workspace.admin, ids["viewer"])
    cleared = await inspect(uncached, workspace.admin, runner=runner)
    assert cleared.status("unused_api_keys") == "PASS"


async def test_keys_not_used_for_30_days_warn_until_used_again(
    uncached: GraphQLClient, workspace: Workspace, paused_runner: FrozenClock, services: Services
) -> None:
    runner = services.runner
    ids = await key_ids(uncached, workspace.admin)
    for key in (workspace.developer, workspace.viewer):
        await uncached.data(ME, key=key)
    paused_runner.advance(30 * DAY)
    assert (await inspect(uncached, workspace.admin, runner=runner)).status(
        "unused_api_keys"
    ) == "PASS"
    paused_runner.advance(DAY)
    idle = await inspect(uncached, workspace.admin, runner=runner)
    assert idle.status("unused_api_keys") == "WARN"
    assert idle.detail("unused_api_keys") == (
        f"not used for over 30 days: developer (#{ids['developer']}), viewer (#{ids['viewer']})"
    )
    for key in (workspace.developer, workspace.viewer):
        await uncached.data(ME, key=key)
    used = await inspect(uncached, workspace.admin, runner=runner)
    assert used.status("unused_api_keys") == "PASS"


async def test_more_than_three_admin_keys_warn_until_one_is_revoked(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await create_key(gql, workspace.admin, "second admin", "ADMIN")
    await create_key(gql, workspace.admin, "third admin", "ADMIN")
    three = await inspect(gql, workspace.admin)
    assert three.status("too_many_admins") == "PASS"
    assert three.detail("too_many_admins") == "3 admin key(s), at most 3 advised"
    fourth, _secret = await create_key(gql, workspace.admin, "fourth admin", "ADMIN")
    four = await inspect(gql, workspace.admin)
    assert four.status("too_many_admins") == "WARN"
    assert four.detail("too_many_admins").startswith("4 admin keys, at most 3 advised: admin (#")
    assert f"fourth admin (#{fourth})" in four.detail("too_many_admins")
    await revoke_key(gql, workspace.admin, fourth)
    assert (await inspect(gql, workspace.admin)).status("too_many_admins") == "PASS"
