"""Fixtures: the suite runs once per configured backend.

The embedded default (SQLite file + memory:// bus) always runs. PostgreSQL +
Redis run too when ``OPSGRAPH_TEST_DATABASE_URL`` (an admin URL of a server,
e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``) and
``OPSGRAPH_TEST_REDIS_URL`` are set; each run gets a fresh database.
"""

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import make_url, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from server.core.clock import FrozenClock
from server.core.services import Services
from server.core.settings import Settings
from server.core.tasks.models import PeriodicJob
from server.transport.app import create_app
from server.transport.cli import bootstrap, migrate
from tests.graphql_client import GraphQLClient

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str


def _backend_names() -> list[str]:
    names = ["sqlite"]
    if os.environ.get("OPSGRAPH_TEST_DATABASE_URL"):
        names.append("postgresql")
    return names


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "postgresql_only: a test of what only PostgreSQL + Redis have (replicas, commits"
        " out of id order); its embedded-default variant is not collected",
    )
    if os.environ.get("CI") == "true" and not os.environ.get("OPSGRAPH_TEST_DATABASE_URL"):
        raise pytest.UsageError(
            "CI must prove both backends: set OPSGRAPH_TEST_DATABASE_URL (.ci/run does)"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the SQLite variants of ``postgresql_only`` tests: not applicable
    there, so neither run nor reported as skipped; the PostgreSQL variant runs."""
    kept: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        if on_sqlite and item.get_closest_marker("postgresql_only"):
            left_out.append(item)
        else:
            kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture(scope="session", params=_backend_names())
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "opsgraph.db"
        yield Backend("sqlite", f"sqlite+aiosqlite:///{path}", "memory://")
        return
    server_url = os.environ["OPSGRAPH_TEST_DATABASE_URL"]
    async with new_postgres_database(server_url, "opsgraph_test") as url:
        yield Backend(
            "postgresql", url, os.environ.get("OPSGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
        )


@asynccontextmanager
async def new_postgres_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """The URL of a new, empty database ``<prefix>_<random>`` on the PostgreSQL
    server of ``server_url``, dropped afterwards."""
    admin_url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@asynccontextmanager
async def fresh_database_url(
    backend: Backend, directory: Path | str, prefix: str
) -> AsyncIterator[str]:
    """The URL of a new, empty database of the backend's kind: a file in
    ``directory`` on SQLite, a database of its own on PostgreSQL."""
    if backend.name == "sqlite":
        yield f"sqlite+aiosqlite:///{directory}/{prefix}.db"
        return
    async with new_postgres_database(backend.database_url, prefix) as url:
        yield url


def make_settings(backend: Backend, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": backend.database_url,
        "redis_url": backend.redis_url,
        "backup_dir": Path("/tmp/opsgraph-test-backups"),
        "allow_loopback_webhooks": True,
        "websocket_init_timeout_seconds": 1.0,
        "event_poll_seconds": 0.2,
        "job_poll_seconds": 0.1,
        # A test process stalls now and then (a collection of its large heap):
        # a stall is not a Redis outage. The outage tests stop Redis instead.
        "redis_limits_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def settings(backend: Backend) -> Settings:
    return make_settings(backend)


@pytest.fixture(scope="session")
async def root_key(settings: Settings) -> str:
    await migrate(settings)
    secret = await bootstrap(settings)
    assert secret is not None, "a fresh database must get a bootstrap key"
    return secret


@pytest.fixture(scope="session")
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture(scope="session")
async def app(settings: Settings, root_key: str, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """The session's app served by uvicorn on a loopback port, for websocket clients."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{port}/graphql"
    server.should_exit = True
    await serving


@pytest.fixture(scope="session")
def services(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


@pytest.fixture(scope="session")
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://opsgraph.test") as client:
        yield client


@pytest.fixture(scope="session")
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    admin: str
    developer: str
    viewer: str


CREATE_WORKSPACE = """
mutation($name: String!) {
  createWorkspace(name: $name) { workspace { id name } secret }
}"""
CREATE_KEY = """
mutation($name: String!, $role: Role!) {
  createApiKey(name: $name, role: $role) { apiKey { id } secret }
}"""


async def make_workspace(gql: GraphQLClient, root_key: str) -> Workspace:
    name = f"ws-{uuid.uuid4().hex[:10]}"
    created = (await gql.data(CREATE_WORKSPACE, {"name": name}, key=root_key))["createWorkspace"]
    admin = created["secret"]
    keys = {}
    for role in ("DEVELOPER", "VIEWER"):
        issued = await gql.data(CREATE_KEY, {"name": role.lower(), "role": role}, key=admin)
        keys[role] = issued["createApiKey"]["secret"]
    return Workspace(
        id=created["workspace"]["id"],
        name=name,
        admin=admin,
        developer=keys["DEVELOPER"],
        viewer=keys["VIEWER"],
    )


@pytest.fixture
async def workspace(gql: GraphQLClient, root_key: str) -> Workspace:
    return await make_workspace(gql, root_key)


@pytest.fixture
async def other_workspace(gql: GraphQLClient, root_key: str) -> Workspace:
    return await make_workspace(gql, root_key)


@pytest.fixture
def restore_clock(clock: FrozenClock) -> Iterator[FrozenClock]:
    saved = clock.now()
    yield clock
    clock.set(saved)


@pytest.fixture
async def paused_runner(
    restore_clock: FrozenClock, services: Services
) -> AsyncIterator[FrozenClock]:
    """The session clock, for a test to move, with the job runner paused meanwhile:
    its periodic jobs (silence and SLO sweeps) would otherwise read the clock while
    the test moves it and race the test's own sweeps. The clock, and when each
    periodic job is next due, are put back before the runner resumes, so that it
    never runs jobs at a moved time and a later test finds them due as before."""
    saved = restore_clock.now()
    await services.runner.stop()
    async with services.db.reader() as session:
        due = (await session.execute(select(PeriodicJob.name, PeriodicJob.next_run_at))).all()
    try:
        yield restore_clock
    finally:
        restore_clock.set(saved)
        async with services.db.transaction() as session:
            for name, next_run_at in due:
                await session.execute(
                    update(PeriodicJob)
                    .where(PeriodicJob.name == name)
                    .values(next_run_at=next_run_at)
                )
        if services.settings.run_jobs:
            await services.runner.start()


@asynccontextmanager
async def running_app(settings: Settings, clock: FrozenClock) -> AsyncIterator[GraphQLClient]:
    """A separate app (e.g. with other limits) sharing the session's database."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://other.test") as client:
            yield GraphQLClient(client)
