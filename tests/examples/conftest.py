"""A server as a newcomer starts it: a fresh database, the real clock, a real port.

The examples in the README and in web-examples/ compute their times from the
current time and run in order from a first start, so they get a server of
their own rather than the session's (whose clock stands still at a past moment
and whose database the other tests fill): the session's settings and backend,
on a database created for the module and dropped after it.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import uvicorn

from server.transport.app import create_app
from server.transport.cli import bootstrap, migrate
from tests.conftest import Backend, free_port, fresh_database_url, make_settings


@dataclass(frozen=True)
class FreshServer:
    url: str  # http://127.0.0.1:<port>
    admin_key: str


@pytest.fixture(scope="module")
async def fresh_server(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FreshServer]:
    directory = str(tmp_path_factory.mktemp("examples"))
    async with fresh_database_url(backend, directory, "opsgraph_examples") as database_url:
        settings = make_settings(
            Backend(backend.name, database_url, backend.redis_url),
            backup_dir=f"{directory}/backups",
            # The escalation example waits for a sweep; the default 15 s would
            # be most of the run.
            escalation_sweep_interval=timedelta(seconds=1),
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
