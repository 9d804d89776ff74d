"""Debian's Prometheus and Alertmanager, run on loopback for a test.

Under CI (``CI=true``) a missing binary fails the test: ``make test`` installs both
(scripts/system-packages.sh). Elsewhere the test is skipped with the package to install.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import uvicorn

from server.core.clock import SystemClock
from server.core.settings import Settings
from server.transport.app import create_app
from tests.conftest import free_port

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
T = TypeVar("T")


def binary(names: Sequence[str], package: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    message = f"{' or '.join(names)} not found: apt-get install -y {package}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Process:
    process: asyncio.subprocess.Process
    base_url: str
    log: Path

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextlib.asynccontextmanager
async def running(argv: list[str], *, port: int, log: Path) -> AsyncIterator[Process]:
    """``argv`` started, ready on ``/-/ready`` of ``port``; stopped on the way out."""
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=sink, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL
        )
    started = Process(process, f"http://127.0.0.1:{port}", log)
    try:
        await _wait_ready(started)
        yield started
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_ready(started: Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if started.process.returncode is not None:
                raise AssertionError(f"{started.log.name} exited:\n{started.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{started.base_url}/-/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise AssertionError(f"not ready in {START_TIMEOUT_S}s:\n{started.output()}")


@contextlib.asynccontextmanager
async def wall_clock_opsgraph(settings: Settings) -> AsyncIterator[str]:
    """opsgraph on the session's database, served on a loopback port, on the wall
    clock: Prometheus stamps samples and alerts with real time. Without jobs, so
    that nothing of the session's frozen-clock data is swept by real time."""
    application = create_app(settings.model_copy(update={"run_jobs": False}), clock=SystemClock())
    port = free_port()
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    async with application.router.lifespan_context(application):
        serving = asyncio.create_task(server.serve())
        try:
            await eventually(lambda: _started(server), within=10, what="uvicorn to start")
            yield f"127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, STOP_TIMEOUT_S)


async def _started(server: uvicorn.Server) -> bool:
    return server.started


async def eventually(check: Callable[[], Awaitable[T]], *, within: float, what: str) -> T:
    """The first truthy answer of ``check``, polled for at most ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        answer = await check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.25)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"
