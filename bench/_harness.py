"""What the benchmarks share: a throw-away database, server processes, a profiler.

Everything runs on loopback and is torn down on the way out, also on errors and
Ctrl-C: the server processes are stopped and the benchmark database is dropped.
"""

import asyncio
import contextlib
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import httpx
from redis.asyncio import Redis
from sqlalchemy.engine import URL, make_url

from server.access.models import Workspace
from server.core.clock import FrozenClock
from server.core.services import Services
from server.core.settings import Settings
from server.transport.cli import migrate
from server.transport.composition import build_services

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LOOPBACK = "127.0.0.1"
ADMIN_KEY_PREFIX = "OPSGRAPH_ADMIN_KEY="
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A benchmark could not run; the message says why and what to do."""


# --- PostgreSQL ----------------------------------------------------------------


class PgConnection(Protocol):
    """The part of ``asyncpg.Connection`` the benchmarks use (asyncpg ships no types)."""

    async def execute(self, query: str, *args: object) -> str: ...

    async def fetchval(self, query: str, *args: object) -> Any: ...

    async def fetch(self, query: str, *args: object) -> list[Any]: ...

    async def copy_records_to_table(
        self, table_name: str, *, records: Sequence[tuple[object, ...]], columns: Sequence[str]
    ) -> str: ...

    async def close(self) -> None: ...


async def pg_connect(url: URL) -> PgConnection:
    """A raw asyncpg connection to ``url`` (a SQLAlchemy URL, any PostgreSQL driver)."""
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return cast(PgConnection, await asyncpg.connect(dsn))


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    url: URL

    @property
    def server_url(self) -> str:
        """The URL the server gets in ``OPSGRAPH_DATABASE_URL``."""
        return self.url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def admin_url() -> URL:
    return make_url(os.environ.get("OPSGRAPH_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL))


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[BenchDatabase]:
    """Create ``opsgraph_bench_<random>`` next to the admin database; drop it afterwards."""
    admin = admin_url()
    if admin.host not in (LOOPBACK, "localhost", "::1", None):
        raise BenchError(f"refusing a non-loopback database host {admin.host!r}")
    name = f"opsgraph_bench_{secrets.token_hex(4)}"
    try:
        connection = await pg_connect(admin)
    except (OSError, asyncpg.PostgresError) as error:
        shown = admin.render_as_string(hide_password=True)
        raise BenchError(
            f"cannot reach PostgreSQL at {shown}: {error}"
            " (set OPSGRAPH_BENCH_DATABASE_URL to an admin connection URL)"
        ) from error
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield BenchDatabase(name=name, url=admin.set(database=name))
    finally:
        connection = await pg_connect(admin)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@contextlib.asynccontextmanager
async def in_process_services(
    database: BenchDatabase, clock: FrozenClock, **settings: Any
) -> AsyncIterator[Services]:
    """opsgraph's services in this process on ``database``, migrated, for benchmarks
    that call the domains directly: the bus in memory, no job runner (``settings``
    may add others); stopped on the way out."""
    configured = Settings(
        database_url=database.server_url, redis_url="memory://", run_jobs=False, **settings
    )
    await migrate(configured)
    services = build_services(configured, clock)
    await services.bus.connect()
    try:
        yield services
    finally:
        await services.stop()


async def bench_workspace(services: Services, now: datetime) -> int:
    """The id of a new workspace named ``bench``."""
    async with services.db.transaction() as session:
        workspace = Workspace(name="bench", created_at=now)
        session.add(workspace)
        await session.flush()
        return workspace.id


# --- Redis -------------------------------------------------------------------------


async def loopback_redis_url() -> str:
    """OPSGRAPH_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0), checked to answer a PING."""
    url = os.environ.get("OPSGRAPH_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    host = urlsplit(url).hostname
    if host not in (LOOPBACK, "localhost", "::1"):
        raise BenchError(f"refusing a non-loopback Redis host {host!r}")
    client: Redis = Redis.from_url(url)
    try:
        await asyncio.wait_for(client.ping(), 5)
    except Exception as error:
        raise BenchError(
            f"cannot reach Redis at {url}: {error!r} (set OPSGRAPH_BENCH_REDIS_URL)"
        ) from error
    finally:
        await client.aclose()
    return url


# --- processes -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    name: str
    process: asyncio.subprocess.Process
    base_url: str
    log_path: Path
    admin_key: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _server_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without its OPSGRAPH_* settings, plus ``overrides``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPSGRAPH_")}
    return environment | dict(overrides)


async def _read_admin_key(server: ServerProcess, deadline: float) -> str:
    stdout = server.process.stdout
    assert stdout is not None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError(f"{server.name} printed no {ADMIN_KEY_PREFIX} line in time")
        line = await asyncio.wait_for(stdout.readline(), remaining)
        if not line:
            raise BenchError(
                f"{server.name} exited before printing {ADMIN_KEY_PREFIX}"
                f" (status {await server.process.wait()}):\n{server.log_tail()}"
            )
        text = line.decode(errors="replace").strip()
        if text.startswith(ADMIN_KEY_PREFIX):
            return text.removeprefix(ADMIN_KEY_PREFIX)


async def _drain(stream: asyncio.StreamReader | None) -> None:
    """Keep reading a child's stdout so that it can never block on a full pipe."""
    if stream is None:
        return
    while await stream.read(65536):
        pass


async def _wait_healthy(
    server: ServerProcess, path: str, deadline: float, statuses: Sequence[int]
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                break
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(path)).status_code in statuses:
                    return
            await asyncio.sleep(0.1)
    raise BenchError(f"{server.name} did not answer GET {path}:\n{server.log_tail()}")


async def _stop(server: ServerProcess) -> None:
    process = server.process
    if process.returncode is None:
        process.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully on SIGINT
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def running_server(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str],
    health_path: str,
    expect_admin_key: bool,
    healthy_statuses: Sequence[int] = (200,),
) -> AsyncIterator[ServerProcess]:
    """A server process, ready once ``GET health_path`` answers one of ``healthy_statuses``."""
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115  # closed in the finally below
        prefix=f"{name}-", suffix=".log", delete=False
    )
    log_path = Path(log_file.name)
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO,
        env=_server_environment(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=log_file,
        start_new_session=True,  # a Ctrl-C in the terminal reaches only the benchmark
    )
    server = ServerProcess(name, process, f"http://{LOOPBACK}:{port}", log_path)
    drain: asyncio.Task[None] | None = None
    failed = True
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        if expect_admin_key:
            server.admin_key = await _read_admin_key(server, deadline)
        drain = asyncio.create_task(_drain(process.stdout))
        await _wait_healthy(server, health_path, deadline, healthy_statuses)
        yield server
        failed = False
    finally:
        await _stop(server)
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
        log_file.close()
        _finish_log(server, failed=failed)


def _finish_log(server: ServerProcess, *, failed: bool) -> None:
    """Show the end of a failed server's log; delete the log of one that went well."""
    if not failed:
        server.log_path.unlink(missing_ok=True)
    elif tail := server.log_tail():
        print(f"--- last lines of {server.name}'s log ({server.log_path}):", file=sys.stderr)
        print(tail, file=sys.stderr)


def opsgraph_server(
    database: BenchDatabase, *, settings: Mapping[str, str] | None = None
) -> contextlib.AbstractAsyncContextManager[ServerProcess]:
    """``opsgraph serve`` (one uvicorn worker) on a free loopback port of ``database``.

    ``settings`` (``OPSGRAPH_*`` variables) are applied over the defaults below.
    """
    port = free_port()
    env = {
        "OPSGRAPH_DATABASE_URL": database.server_url,
        "OPSGRAPH_REDIS_URL": os.environ.get("OPSGRAPH_BENCH_REDIS_URL", "memory://"),
        "OPSGRAPH_HOST": LOOPBACK,
        "OPSGRAPH_PORT": str(port),
        "OPSGRAPH_RATE_LIMIT_PER_MINUTE": "0",
        "OPSGRAPH_LOG_LEVEL": "WARNING",
    } | dict(settings or {})
    return running_server(
        "opsgraph",
        [str(BIN / "opsgraph"), "serve"],
        port=port,
        env=env,
        health_path="/healthz",
        expect_admin_key=True,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (fields 14 and 15 of /proc/<pid>/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_and_total() -> tuple[float, float]:
    """Busy and total jiffies of all CPUs, from the first line of /proc/stat.

    The first eight fields (user to steal) add up to the total; guest time is
    already part of user time.
    """
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    values = [int(v) for v in fields]
    idle = values[3] + values[4]  # idle + iowait
    return float(sum(values) - idle), float(sum(values))


# --- profiling -------------------------------------------------------------------


def _profile_plan(directory: str, label: str) -> tuple[str, str, str]:
    """py-spy's path, the output format and the output file."""
    py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
    if not Path(py_spy).exists():
        raise BenchError(
            "OPSGRAPH_BENCH_PROFILE_DIR is set, but py-spy is missing: pip install py-spy"
        )
    fmt = os.environ.get("OPSGRAPH_BENCH_PROFILE_FORMAT", "raw")
    suffix = {"raw": "txt", "flamegraph": "svg", "speedscope": "json"}.get(fmt, fmt)
    Path(directory).mkdir(parents=True, exist_ok=True)
    return py_spy, fmt, str(Path(directory) / f"{label}.{suffix}")


@contextlib.asynccontextmanager
async def maybe_profile(server: ServerProcess, label: str) -> AsyncIterator[str | None]:
    """Sample ``server`` with py-spy while the block runs, if OPSGRAPH_BENCH_PROFILE_DIR is set.

    Yields the path of the profile (py-spy's collapsed-stack "raw" format by default;
    OPSGRAPH_BENCH_PROFILE_FORMAT=flamegraph|speedscope for others), or None.
    """
    directory = os.environ.get("OPSGRAPH_BENCH_PROFILE_DIR")
    if not directory:
        yield None
        return
    py_spy, fmt, output = _profile_plan(directory, label)
    recorder = await asyncio.create_subprocess_exec(
        py_spy,
        "record",
        "--pid",
        str(server.pid),
        "--rate",
        "250",
        "--format",
        fmt,
        "--output",
        output,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(0.5)  # let py-spy attach before the load starts
    try:
        yield output
    finally:
        if recorder.returncode is None:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            await asyncio.wait_for(recorder.wait(), 30)
        except TimeoutError:
            recorder.kill()
            await recorder.wait()


# --- settings and reporting ------------------------------------------------------------


def env_int(name: str, default: int, *, low: int, high: int) -> int:
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        raise BenchError(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise BenchError(f"{name} must be between {low} and {high}")
    return value


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (NaN for none)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def latency_summary(values: Sequence[float], scale: float = 1000.0) -> dict[str, float | None]:
    """p50, p90, p99, max and mean of ``values`` times ``scale`` (seconds to ms by default)."""
    ordered = sorted(values)
    if not ordered:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    return {
        "p50": round(percentile(ordered, 0.50) * scale, 2),
        "p90": round(percentile(ordered, 0.90) * scale, 2),
        "p99": round(percentile(ordered, 0.99) * scale, 2),
        "max": round(ordered[-1] * scale, 2),
        "mean": round(sum(ordered) / len(ordered) * scale, 2),
    }


def environment_summary() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_main(main: Callable[[], Coroutine[Any, Any, None]], *, uvloop: bool = False) -> None:
    """Run an async ``main`` and turn a BenchError into a one-line message and status 2.

    ``uvloop=True`` runs it on uvloop when that is installed (a leaner client loop).
    """
    try:
        with asyncio.Runner(loop_factory=_uvloop_factory() if uvloop else None) as runner:
            runner.run(main())
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


def find_alertmanager() -> str:
    """Prometheus Alertmanager's binary, which the benchmarks compare opsgraph with."""
    binary = (
        os.environ.get("OPSGRAPH_BENCH_ALERTMANAGER")
        or shutil.which("prometheus-alertmanager")
        or shutil.which("alertmanager")
    )
    if not binary or not Path(binary).exists():
        raise BenchError(
            "Alertmanager is not installed, and this benchmark compares opsgraph with it."
            " Install it (Debian/Ubuntu: apt-get install -y prometheus-alertmanager)"
            " or point OPSGRAPH_BENCH_ALERTMANAGER at the binary."
        )
    return binary


async def alertmanager_version(binary: str) -> str:
    process = await asyncio.create_subprocess_exec(
        binary,
        "--version",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 10)
    found = re.search(r"version (\S+)", output.decode(errors="replace"))
    return found.group(1) if found else "unknown"


@contextlib.asynccontextmanager
async def alertmanager_server(binary: str, config: str) -> AsyncIterator[ServerProcess]:
    """Alertmanager with ``config`` on a free loopback port, its config and storage
    in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="opsgraph-bench-alertmanager-") as scratch:
        config_file = Path(scratch) / "alertmanager.yml"
        config_file.write_text(config)
        port = free_port()
        argv = [
            binary,
            f"--config.file={config_file}",
            f"--storage.path={Path(scratch) / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        async with running_server(
            "alertmanager", argv, port=port, env={}, health_path="/-/ready", expect_admin_key=False
        ) as server:
            yield server
