"""A server as a newcomer starts it: a fresh database, the real clock, a real port.

The examples in the README and in web-examples/ compute their times from the
current time and run in order from a first start, so they get a server of
their own rather than the session's (whose clock stands still at a past moment
and whose database the other tests fill): the session's settings and backend,
on a database created for the module and dropped after it.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import uvicorn
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from server.transport.app import create_app
from server.transport.cli import bootstrap, migrate
from tests.conftest import Backend, free_port, make_settings


@dataclass(frozen=True)
class FreshServer:
    url: str  # http://127.0.0.1:<port>
    admin_key: str


@asynccontextmanager
async def fresh_database(backend: Backend, directory: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the backend's server."""
    if backend.name == "sqlite":
        yield f"sqlite+aiosqlite:///{directory}/opsgraph.db"
        return
    server_url = make_url(backend.database_url)
    name = f"opsgraph_examples_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="module")
async def fresh_server(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FreshServer]:
    directory = str(tmp_path_factory.mktemp("examples"))
    async with fresh_database(backend, directory) as database_url:
        settings = make_settings(
            Backend(backend.name, database_url, backend.redis_url),
            backup_dir=f"{directory}/backups",
        )
        await migrate(settings)
        admin_key = await bootstrap(settings)
        assert admin_key is not None
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            port = free_port()
            config = uvicorn.Config(
                app, host="127.0.0.1", port=port, lifespan="off", log_config=None
            )
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await asyncio.sleep(0.01)
            try:
                yield FreshServer(f"http://127.0.0.1:{port}", admin_key)
            finally:
                server.should_exit = True
                await serving
