"""The run command: migrates, prints the first admin key once, serves."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server.core.migrations import ROOT
from tests.conftest import free_port


def _serve(database: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "OPSGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "OPSGRAPH_REDIS_URL": "memory://",
        "OPSGRAPH_PORT": str(port),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "server.transport.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _wait_until_healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not become healthy")


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=15)
    return output


def test_serve_prints_the_admin_key_once(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "opsgraph.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = _serve(database, port)
    try:
        assert first.stdout is not None
        line = first.stdout.readline().strip()
        assert line.startswith("OPSGRAPH_ADMIN_KEY=og_")
        key = line.split("=", 1)[1]
        _wait_until_healthy(url)
        response = httpx.post(
            f"{url}/graphql",
            json={"query": "{ me { role workspace { name } } }"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.json() == {
            "data": {"me": {"role": "ADMIN", "workspace": {"name": "default"}}}
        }
    finally:
        _stop(first)
    second = _serve(database, port)
    try:
        _wait_until_healthy(url)
    finally:
        output = _stop(second)
    assert "OPSGRAPH_ADMIN_KEY" not in output
