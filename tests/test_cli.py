"""The run command: migrates, serves, and once it answers prints the first admin key once."""

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from server.core.migrations import ROOT
from tests.conftest import free_port

KEY_LINE = "OPSGRAPH_ADMIN_KEY="
ME = {"query": "{ me { role workspace { name } } }"}


@dataclass
class Serving:
    process: subprocess.Popen[str]
    url: str
    lines: "queue.Queue[str | None]" = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def read_until_key(self, timeout: float = 30) -> str:
        """The printed key; every stdout line read so far is kept in ``seen``."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"the server ended without a key: {self.seen}")
            self.seen.append(line)
            if line.startswith(KEY_LINE):
                return line.removeprefix(KEY_LINE)
        raise AssertionError(f"no key within {timeout}s: {self.seen}")

    def rest_of_stdout(self) -> list[str]:
        while (line := self.lines.get(timeout=15)) is not None:
            self.seen.append(line)
        return self.seen


def _read_lines(process: subprocess.Popen[str], lines: "queue.Queue[str | None]") -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line.rstrip("\n"))
    lines.put(None)


@contextmanager
def _serve(database: Path, port: int) -> Iterator[Serving]:
    env = {
        **os.environ,
        "OPSGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "OPSGRAPH_REDIS_URL": "memory://",
        "OPSGRAPH_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "server.transport.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    serving = Serving(process, f"http://127.0.0.1:{port}")
    threading.Thread(target=_read_lines, args=(process, serving.lines), daemon=True).start()
    try:
        yield serving
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wait_until_healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not become healthy")


def test_the_printed_key_works_at_once(tmp_path: Path) -> None:
    with _serve(tmp_path / "nested" / "opsgraph.db", free_port()) as serving:
        key = serving.read_until_key()
        response = httpx.post(
            f"{serving.url}/graphql", json=ME, headers={"Authorization": f"Bearer {key}"}
        )
    assert key.startswith("og_")
    assert response.json() == {"data": {"me": {"role": "ADMIN", "workspace": {"name": "default"}}}}


def test_the_key_stands_apart_on_exactly_one_pasteable_line(tmp_path: Path) -> None:
    with _serve(tmp_path / "opsgraph.db", free_port()) as serving:
        key = serving.read_until_key()
        serving.process.terminate()
        printed = serving.rest_of_stdout()
    [line] = [line for line in printed if "OPSGRAPH_ADMIN_KEY" in line]
    assert line == f"{KEY_LINE}{key}"
    at = printed.index(line)
    assert printed[at - 1] == printed[at + 1] == ""  # blank lines around it
    frame = [index for index, text in enumerate(printed) if set(text) == {"="}]
    assert len(frame) == 2
    assert frame[0] < at < frame[1]
    assert printed[frame[0] - 1] == printed[frame[1] + 1] == ""


def test_a_later_start_prints_no_key(tmp_path: Path) -> None:
    database = tmp_path / "opsgraph.db"
    port = free_port()
    with _serve(database, port) as first:
        first.read_until_key()
    with _serve(database, port) as second:
        _wait_until_healthy(second.url)
        second.process.terminate()
        assert not any(KEY_LINE in line for line in second.rest_of_stdout())


def test_a_start_that_cannot_listen_creates_no_key(tmp_path: Path) -> None:
    database = tmp_path / "opsgraph.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with _serve(database, taken.getsockname()[1]) as refused:
            assert refused.process.wait(timeout=30) != 0
            assert not any(KEY_LINE in line for line in refused.rest_of_stdout())
    with _serve(database, free_port()) as started:
        assert started.read_until_key().startswith("og_")
