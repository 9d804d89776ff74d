"""An opsgraph server a test stops and starts again, on one port and one database.

Each start builds a new application (new services, bus connection and job
runner), as a restarted process would; clients see their connections drop,
the port refuse, then the same address answer again.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import uvicorn

from server.core.services import Services
from server.core.settings import Settings
from server.transport.app import create_app
from tests.conftest import free_port

START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 30


@dataclass
class RestartableServer:
    settings: Settings
    port: int = field(default_factory=free_port)
    services: Services | None = None
    _server: uvicorn.Server | None = None
    _serving: asyncio.Task[None] | None = None
    _lifespan: contextlib.AsyncExitStack | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def start(self) -> None:
        app = create_app(self.settings)
        self._lifespan = contextlib.AsyncExitStack()
        await self._lifespan.enter_async_context(app.router.lifespan_context(app))
        self.services = app.state.services
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_config=None,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve())
        await asyncio.wait_for(self._started(), START_TIMEOUT_SECONDS)

    async def _started(self) -> None:
        assert self._server is not None
        assert self._serving is not None
        while not self._server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            if self._serving.done():
                self._serving.result()  # raises why it could not start
                raise RuntimeError(f"the server on port {self.port} did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._serving, STOP_TIMEOUT_SECONDS)
        if self._lifespan is not None:
            await self._lifespan.aclose()
        self._server = self._serving = self._lifespan = None
        self.services = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@contextlib.asynccontextmanager
async def another_replica(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An application on the same database, reached in-process: it writes while the
    server the clients follow is down, as another replica would."""
    app = create_app(settings.model_copy(update={"run_jobs": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as client:
            yield client
