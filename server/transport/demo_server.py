"""The server of ``opsgraph demo``: it seeds the demo once it can answer, then keeps
its data moving until it stops."""

import asyncio
import contextlib
import socket
import sys

import uvicorn

from server.core.services import Services
from server.core.settings import Settings
from server.transport.demo import DemoWorkspace, LiveData, seed


class DemoServer(uvicorn.Server):
    """uvicorn's server, which seeds the demo workspace after it has started and
    prints its keys, then runs ``LiveData`` beside the requests."""

    def __init__(self, config: uvicorn.Config, settings: Settings, services: Services) -> None:
        super().__init__(config)
        self.settings = settings
        self.services = services
        self.live: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)  # exits when it cannot bind
        if self.should_exit:  # the application could not start
            return
        services = self.services
        demo = await seed(services)
        sys.stdout.write(demo_notice(demo, self.settings))
        sys.stdout.flush()
        live = LiveData(services, demo.workspace_id, started=services.clock.now())
        self.live = asyncio.create_task(live.run(), name="demo live data")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.live is not None:
            self.live.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.live
        await super().shutdown(sockets=sockets)


def demo_notice(demo: DemoWorkspace, settings: Settings) -> str:
    """Where to look and the demo's keys, one ``NAME=value`` line each."""
    address = f"http://{settings.host}:{settings.port}"
    rule = "=" * 78
    return "\n".join(
        [
            "",
            rule,
            f' opsgraph demo: workspace "{demo.name}" with four services, their SLOs',
            " (checkout burning fast, payments slowly), alerts, on-call and live data.",
            "",
            f" dashboard:  {address}/dashboard   (paste a key below)",
            f" playground: {address}/graphql",
            "",
            " New samples arrive every 5 s and alerts come and go; Ctrl-C stops the demo.",
            "",
            f"OPSGRAPH_ADMIN_KEY={demo.admin_key}",
            f"OPSGRAPH_DEVELOPER_KEY={demo.developer_key}",
            f"OPSGRAPH_VIEWER_KEY={demo.viewer_key}",
            rule,
            "",
        ]
    )
