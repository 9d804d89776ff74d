"""Servers of a test's own: a Redis and a PostgreSQL it may stop, replica
processes of ``opsgraph serve``, and an app with other settings served on a
loopback port."""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import uvicorn

from server.core.clock import FrozenClock
from server.core.migrations import ROOT
from server.core.settings import Settings
from server.transport.app import create_app
from tests.conftest import Backend, free_port

POSTGRESQL_BIN = Path("/usr/lib/postgresql/15/bin")


async def run(*command: str) -> int:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), timeout=60)


async def _redis_answers(port: int) -> bool:
    process = await asyncio.create_subprocess_exec(
        "redis-cli", "-p", str(port), "ping", stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=5)
    return output.strip() == b"PONG"


def redis_command(port: int) -> list[str]:
    return [
        "redis-server",
        "--daemonize",
        "yes",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
    ]


@asynccontextmanager
async def own_redis() -> AsyncIterator[int]:
    """A Redis server of the test's own on a free port, shut down afterwards."""
    port = free_port()
    await run(*redis_command(port))
    try:
        for _ in range(50):
            if await _redis_answers(port):
                break
            await asyncio.sleep(0.1)
        yield port
    finally:
        await run("redis-cli", "-p", str(port), "shutdown", "nosave")


async def stop_redis(port: int) -> None:
    await run("redis-cli", "-p", str(port), "shutdown", "nosave")


class OwnPostgres:
    """A PostgreSQL 15 cluster in a directory of its own, which the test may stop.

    initdb refuses to run as root: as root, the cluster's commands run as postgres.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    async def _pg(self, program: str, *arguments: str) -> int:
        command = [str(POSTGRESQL_BIN / program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return await run(*command)

    async def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        data = str(self.directory / "data")
        code = await self._pg("initdb", "-D", data, "-U", "postgres", "-A", "trust")
        assert code == 0, "initdb failed"
        await self.start()

    async def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        log = str(self.directory / "postgres.log")
        data = str(self.directory / "data")
        code = await self._pg("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "start")
        assert code == 0, "pg_ctl start failed"

    async def stop(self) -> None:
        data = str(self.directory / "data")
        await self._pg("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")


@asynccontextmanager
async def own_postgres() -> AsyncIterator[OwnPostgres]:
    """A cluster of the test's own, in a directory the postgres user can reach."""
    with tempfile.TemporaryDirectory(prefix="opsgraph-pg-") as directory:
        cluster = OwnPostgres(Path(directory))
        await cluster.create()
        try:
            yield cluster
        finally:
            await cluster.stop()


@contextmanager
def replica_process(
    backend: Backend, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """An ``opsgraph serve`` process on the backend's database and Redis, with
    these settings (``OPSGRAPH_<NAME>``) and none of this process's own: its
    address and the process."""
    port = free_port()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("OPSGRAPH_")},
        "OPSGRAPH_DATABASE_URL": backend.database_url,
        "OPSGRAPH_REDIS_URL": backend.redis_url,
        "OPSGRAPH_PORT": str(port),
        "OPSGRAPH_LOG_LEVEL": "WARNING",
        "OPSGRAPH_EVENT_RETENTION": "P3650D",  # the test process runs on a past clock
        **{f"OPSGRAPH_{name.upper()}": value for name, value in settings.items()},
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "server.transport.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=20)


@contextmanager
def replica(backend: Backend, **settings: str) -> Iterator[str]:
    """A replica process: its address."""
    with replica_process(backend, **settings) as (address, _):
        yield address


async def until_ready(address: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"http://{address}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"replica {address} never became ready")


@asynccontextmanager
async def served(settings: Settings, clock: FrozenClock) -> AsyncIterator[str]:
    """An app with these settings served by uvicorn in this process: its address."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        port = free_port()
        config = uvicorn.Config(
            application, host="127.0.0.1", port=port, lifespan="off", log_config=None
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        try:
            yield f"127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, timeout=10)
