"""The clients in web-examples/, run as their README shows, against a live server."""

import asyncio
import json
import os
import sys

import httpx

from server.core.migrations import ROOT
from tests.examples.conftest import FreshServer


def _environment(server: FreshServer) -> dict[str, str]:
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("OPSGRAPH")},
        "OPSGRAPH_ADMIN_KEY": server.admin_key,
        "OPSGRAPH_URL": f"{server.url}/graphql",
        "OPSGRAPH_WS_URL": f"{server.url.replace('http://', 'ws://')}/graphql",
        "PYTHON": sys.executable,
    }


async def _start_pipeline(command: str, server: FreshServer) -> asyncio.subprocess.Process:
    """A shell pipeline whose status is its first command's (``pipefail``)."""
    return await asyncio.create_subprocess_exec(
        "bash",
        "-o",
        "pipefail",
        "-c",
        command,
        cwd=ROOT,
        env=_environment(server),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_ingest_and_query_stops_quietly_when_head_has_read_enough(
    fresh_server: FreshServer,
) -> None:
    process = await _start_pipeline(
        '"$PYTHON" web-examples/ingest_and_query.py | head -n 1', fresh_server
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert stderr.decode() == ""
    assert stdout.decode() == "ingested 60 samples, rejected 0\n"
    assert process.returncode == 0


async def test_subscribe_events_stops_quietly_when_head_has_read_enough(
    fresh_server: FreshServer,
) -> None:
    process = await _start_pipeline(
        '"$PYTHON" web-examples/subscribe_events.py tasks | head -n 1', fresh_server
    )
    assert process.stderr is not None
    connected = await asyncio.wait_for(process.stderr.readline(), timeout=30)
    assert b"connected to" in connected
    # The client learns that head has gone only when it writes the next line, and
    # events written before head exited still fit in the pipe: start tasks until
    # one lands after it.
    communicating = asyncio.ensure_future(process.communicate())
    async with httpx.AsyncClient() as client:
        for _ in range(30):
            started = await client.post(
                f"{fresh_server.url}/graphql",
                json={"query": "mutation { startSecurityInspection { id } }"},
                headers={"Authorization": f"Bearer {fresh_server.admin_key}"},
            )
            assert "errors" not in started.json()
            done, _ = await asyncio.wait([communicating], timeout=1)
            if done:
                break
    stdout, stderr = await asyncio.wait_for(communicating, timeout=30)
    assert stderr.decode() == ""
    assert json.loads(stdout)["type"] == "task.queued"
    assert process.returncode == 0


async def test_subscribe_events_reports_an_unknown_type_as_the_server_refuses_it(
    fresh_server: FreshServer,
) -> None:
    process = await _start_pipeline(
        '"$PYTHON" web-examples/subscribe_events.py alerts --type alert.fird', fresh_server
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert stdout == b""
    refusal = stderr.decode().splitlines()[-1]
    assert "BAD_USER_INPUT: unknown event type 'alert.fird'" in refusal
    assert "alert.fired" in refusal  # the server names the types it knows
    assert process.returncode == 1
