"""web-examples/notify/notify.py against a live server that it outlives, and that outlives it."""

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from server.core.migrations import ROOT
from server.transport.cli import bootstrap, migrate
from tests.conftest import Backend, fresh_database_url, make_settings
from tests.examples.restartable import RestartableServer, another_replica

NOTIFY = ROOT / "web-examples" / "notify" / "notify.py"
WAIT_SECONDS = 30
RAISE_ALERT = """
mutation($input: AlertInput!) { raiseAlert(input: $input) { id } }"""
LINE = re.compile(r"^\S+ #(?P<cursor>\d+) alert\.fired PAGE checkout: (?P<summary>.+) \[FIRING\]")


@dataclass
class NotifyClient:
    """The client as a process: started, stopped with SIGTERM, started again."""

    server: RestartableServer
    api_key: str
    directory: Path
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = None
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        command = 'echo "$OPSGRAPH_EVENT_CURSOR $OPSGRAPH_EVENT_TYPE" >> commands.txt'
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(NOTIFY),
            *("--service", "checkout", "--type", "alert.fired", "--exec", command),
            cwd=self.directory,
            env={
                **os.environ,
                "OPSGRAPH_API_KEY": self.api_key,
                "OPSGRAPH_WS_URL": self.server.ws_url,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.readers = [
            asyncio.create_task(self._read(self.process.stdout, self.lines)),
            asyncio.create_task(self._read(self.process.stderr, self.errors)),
        ]
        await self.wait_for(self.errors, "connected to")

    async def _read(self, stream: asyncio.StreamReader, into: list[str]) -> None:
        async for line in stream:
            into.append(line.decode().rstrip("\n"))
            self.arrived.set()

    async def wait_for(self, lines: list[str], text: str) -> None:
        async def seen() -> None:
            while True:
                self.arrived.clear()
                if any(text in line for line in lines):
                    return
                await self.arrived.wait()

        try:
            await asyncio.wait_for(seen(), WAIT_SECONDS)
        except TimeoutError:
            pytest.fail(f"notify never wrote {text!r}; stdout {self.lines}, stderr {self.errors}")

    async def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(self.process.wait(), WAIT_SECONDS)
        await asyncio.wait_for(asyncio.gather(*self.readers), WAIT_SECONDS)
        return returncode

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


async def raise_alert(http: httpx.AsyncClient, key: str, summary: str, service: str) -> None:
    alert = {
        "service": service,
        "summary": summary,
        "severity": "PAGE",
        "fingerprint": summary.replace(" ", "-"),
    }
    variables = {"input": alert}
    answer = await http.post(
        "/graphql",
        json={"query": RAISE_ALERT, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert "errors" not in answer.json(), answer.text


@pytest.fixture
async def server_and_key(
    backend: Backend, tmp_path: Path
) -> AsyncIterator[tuple[RestartableServer, str]]:
    async with fresh_database_url(backend, tmp_path, "opsgraph_examples") as database_url:
        settings = make_settings(
            Backend(backend.name, database_url, backend.redis_url),
            backup_dir=tmp_path / "backups",
        )
        await migrate(settings)
        admin_key = await bootstrap(settings)
        assert admin_key is not None
        server = RestartableServer(settings)
        await server.start()
        try:
            yield server, admin_key
        finally:
            await server.stop()


async def test_notify_prints_every_event_once_across_its_own_and_the_servers_restarts(
    server_and_key: tuple[RestartableServer, str], tmp_path: Path
) -> None:
    server, key = server_and_key
    client = NotifyClient(server, key, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            await client.start()
            await raise_alert(http, key, "first page", "checkout")
            await raise_alert(http, key, "filtered out by service", "search")
            await client.wait_for(client.lines, "first page")
            assert await client.stop() == 0

            await raise_alert(http, key, "raised while notify was stopped", "checkout")
            await client.start()
            await client.wait_for(client.lines, "raised while notify was stopped")

            await server.stop()
            await client.wait_for(client.errors, "disconnected")
            async with another_replica(server.settings) as replica:
                await raise_alert(replica, key, "raised while the server was down", "checkout")
            await server.start()
            await client.wait_for(client.lines, "raised while the server was down")

            await raise_alert(http, key, "raised after the restart", "checkout")
            await client.wait_for(client.lines, "raised after the restart")
            assert await client.stop() == 0
    finally:
        client.kill()

    printed = [LINE.match(line) for line in client.lines]
    assert all(printed), client.lines
    summaries = [match["summary"] for match in printed if match]
    assert summaries == [
        "first page",
        "raised while notify was stopped",
        "raised while the server was down",
        "raised after the restart",
    ]
    cursors = [match["cursor"] for match in printed if match]
    commands = (tmp_path / "commands.txt").read_text().splitlines()
    assert commands == [f"{cursor} alert.fired" for cursor in cursors]
    assert (tmp_path / "notify.cursor").read_text().strip() == cursors[-1]
