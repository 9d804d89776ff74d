"""Benchmark: live task events fanned out to 100 and to 1,000 websocket subscribers.

For each subscriber count it creates a throw-away PostgreSQL database, starts
``opsgraph serve`` on it (one uvicorn process, loopback, the Redis bus) and opens
that many graphql-transport-ws connections, one ``taskEvents`` subscription each.
The subscribers live in client subprocesses of this script (asyncio + uvloop, the
``websockets`` library), so that the client side gets more than one core when
the server needs one. Once every subscription is live and idle the server's RSS
is read; then ``startSecurityInspection`` is sent at a steady rate (each task
emits four task events: queued, started, progress, succeeded) for a bounded
time. Every subscriber must receive every event exactly once, in cursor order;
the receipt time minus the envelope's ``occurredAt`` is the publish-to-receipt
latency (server and clients share this machine's clock). Prints one JSON
document to stdout; progress goes to stderr.

    .venv/bin/python -m bench.fanout          # or: make bench

Needs PostgreSQL and Redis on loopback.

Environment:
  OPSGRAPH_BENCH_DATABASE_URL       admin connection used to create and drop the
                                    benchmark databases (default
                                    postgresql+asyncpg://postgres@127.0.0.1:5432/test)
  OPSGRAPH_BENCH_REDIS_URL          the server's bus (default redis://127.0.0.1:6379/0)
  OPSGRAPH_BENCH_SUBSCRIBERS        subscriber counts, one run each (default 100,1000)
  OPSGRAPH_BENCH_DURATION           seconds of load per subscriber count (default 20)
  OPSGRAPH_BENCH_EVENTS_PER_S       task events published per second (default 10)
  OPSGRAPH_BENCH_CLIENT_PROCESSES   client subprocesses (default: 1 per 500 subscribers)
  OPSGRAPH_BENCH_WS_COMPRESSION     deflate (default, what browsers offer) or none
  OPSGRAPH_BENCH_PROFILE_DIR        if set, record a py-spy profile of the server
                                    during one extra, unmeasured load pass per count
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import os
import resource
import signal
import sys
import time
from array import array
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench._harness import (
    REPO,
    BenchDatabase,
    BenchError,
    PgConnection,
    ServerProcess,
    cpu_seconds,
    environment_summary,
    fresh_database,
    latency_summary,
    loopback_redis_url,
    machine_busy_and_total,
    maybe_profile,
    opsgraph_server,
    pg_connect,
    run_main,
)

DEFAULT_SUBSCRIBER_COUNTS = "100,1000"
EVENTS_PER_TASK = 4  # task.queued, task.started, task.progress, task.succeeded
SUBSCRIPTION = "subscription { taskEvents { cursor type occurredAt payload } }"
MUTATION = "mutation { startSecurityInspection { id } }"
PROTOCOL = Subprotocol("graphql-transport-ws")

TARGET_SUBSCRIBERS = 1_000
TARGET_EVENTS_PER_S = 10.0
TARGET_P99_MS = 250.0
TARGET_IDLE_RSS_MB = 300.0
#: The share of the aimed-at rates that counts as reaching them.
RATE_TOLERANCE = 0.95

#: Leaves time to stop the servers and clients and drop the databases within 5 minutes.
TIME_LIMIT_S = 260.0
CONNECT_TIMEOUT_S = 60.0
CONNECT_CONCURRENCY = 50
LIVE_TIMEOUT_S = 30.0
IDLE_SETTLE_S = 3.0
SAMPLE_EVERY_S = 0.5
TASKS_DONE_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 45.0
GRACE_S = 1.0
PROFILE_SECONDS = 10.0
MUTATION_TIMEOUT_S = 30.0
MAX_IN_FLIGHT_MUTATIONS = 64
PIPE_LIMIT = 256 * 1024 * 1024
#: A process using this share of a core or more is taken to be saturated.
BUSY_CORE = 0.9


# --- shared helpers ----------------------------------------------------------------


def encode_floats(values: array[float]) -> str:
    return base64.b64encode(values.tobytes()).decode()


def decode_floats(text: str) -> array[float]:
    values = array("d")
    values.frombytes(base64.b64decode(text))
    return values


def env_number(name: str, default: float, *, low: float, high: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        raise BenchError(f"{name} must be a number") from None
    if not low <= value <= high:
        raise BenchError(f"{name} must be between {low:g} and {high:g}")
    return value


# --- the client subprocess: subscribers ----------------------------------------------


@dataclass
class Subscriber:
    cursors: list[int] = field(default_factory=list)
    error: str | None = None
    connection: ClientConnection | None = None
    reader: asyncio.Task[None] | None = None


@dataclass
class SubscriberPool:
    """``count`` graphql-transport-ws connections with one ``taskEvents`` subscription each."""

    url: str
    key: str
    count: int
    compression: str | None
    subscribers: list[Subscriber] = field(default_factory=list)
    receipts: array[float] = field(default_factory=lambda: array("d"))
    latencies: array[float] = field(default_factory=lambda: array("d"))
    extensions: Counter[str] = field(default_factory=Counter)
    closing: bool = False

    async def open_all(self) -> None:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def open_one(subscriber: Subscriber) -> None:
            async with gate:
                try:
                    await asyncio.wait_for(self._open(subscriber), CONNECT_TIMEOUT_S)
                except Exception as error:
                    subscriber.error = f"connect: {error!r}"

        self.subscribers = [Subscriber() for _ in range(self.count)]
        await asyncio.gather(*(open_one(s) for s in self.subscribers))

    async def _open(self, subscriber: Subscriber) -> None:
        connection = await connect(
            self.url,
            subprotocols=[PROTOCOL],
            compression=self.compression,
            ping_interval=None,  # the server pings; a busy server must not get us dropped
            open_timeout=CONNECT_TIMEOUT_S,
            max_size=2**22,
        )
        subscriber.connection = connection
        extensions = ",".join(sorted(e.name for e in connection.protocol.extensions)) or "none"
        self.extensions[extensions] += 1
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.key}"}}
        await connection.send(json.dumps(init))
        acknowledged = json.loads(await connection.recv())
        if acknowledged.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {acknowledged}")
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}
        await connection.send(json.dumps(subscribe))
        subscriber.reader = asyncio.create_task(self._read(subscriber, connection))

    async def _read(self, subscriber: Subscriber, connection: ClientConnection) -> None:
        cursors = subscriber.cursors
        receipts = self.receipts
        latencies = self.latencies
        parse_time = datetime.fromisoformat
        try:
            async for raw in connection:
                received = time.time()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    payload = message.get("payload") or {}
                    envelope = (payload.get("data") or {}).get("taskEvents")
                    if payload.get("errors") or not envelope:
                        subscriber.error = subscriber.error or f"bad result: {str(message)[:300]}"
                        continue
                    cursors.append(int(envelope["cursor"]))
                    receipts.append(received)
                    latencies.append(received - parse_time(envelope["occurredAt"]).timestamp())
                elif kind == "ping":
                    await connection.send('{"type": "pong"}')
                elif kind != "pong":
                    subscriber.error = subscriber.error or f"unexpected: {str(message)[:300]}"
        except ConnectionClosed as closed:
            if not self.closing:
                subscriber.error = subscriber.error or f"connection closed: {closed!r}"
            return
        if not self.closing:
            subscriber.error = subscriber.error or "connection closed by the server"

    def ready_report(self) -> dict[str, Any]:
        failed = [s.error for s in self.subscribers if s.error]
        return {
            "event": "ready",
            "connected": self.count - len(failed),
            "failed": len(failed),
            "errors": failed[:3],
            "extensions": dict(self.extensions),
        }

    async def collect(self, expected: list[int], wait_s: float) -> dict[str, Any]:
        """Wait until each subscriber has as many events as expected, then check them."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if all(s.error or len(s.cursors) >= len(expected) for s in self.subscribers):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(GRACE_S)  # late duplicates would arrive now
        return self.verify(expected) | {"event": "result"}

    def verify(self, expected: list[int]) -> dict[str, Any]:
        """Compare each subscriber's cursors up to the last expected one with ``expected``.

        Later cursors (events committed after the measured window) are only
        checked for order.
        """
        wanted = set(expected)
        last = expected[-1] if expected else 0
        ok = missing = duplicates = out_of_order = unexpected = 0
        errors: list[str] = []
        for subscriber in self.subscribers:
            got = [cursor for cursor in subscriber.cursors if cursor <= last]
            if subscriber.error:
                errors.append(subscriber.error)
            inversions = _inversions(subscriber.cursors)
            out_of_order += inversions
            if got == expected and not subscriber.error and not inversions:
                ok += 1
                continue
            seen = Counter(got)
            missing += len(wanted - seen.keys())
            duplicates += sum(n - 1 for n in seen.values() if n > 1)
            unexpected += sum(n for cursor, n in seen.items() if cursor not in wanted)
        return {
            "subscribers": self.count,
            "ok": ok,
            "missing": missing,
            "duplicates": duplicates,
            "out_of_order": out_of_order,
            "unexpected": unexpected,
            "errors": len(errors),
            "error_samples": errors[:3],
            "deliveries": len(self.receipts),
            "receipts": encode_floats(self.receipts),
            "latencies": encode_floats(self.latencies),
        }

    async def close_all(self) -> None:
        self.closing = True
        connections = [s.connection for s in self.subscribers if s.connection is not None]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(c.close() for c in connections), return_exceptions=True), 10
            )
        for subscriber in self.subscribers:
            if subscriber.reader is not None:
                subscriber.reader.cancel()


def _inversions(cursors: list[int]) -> int:
    """Neighbours out of strictly increasing order."""
    return sum(1 for a, b in zip(cursors, cursors[1:], strict=False) if b <= a)


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def client_main() -> None:
    """Commands arrive as JSON lines on stdin; answers leave as JSON lines on stdout.

    The end of stdin (the benchmark went away) closes every connection and exits.
    """
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader(limit=PIPE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    config = json.loads(await commands.readline())
    pool = SubscriberPool(
        url=config["url"],
        key=config["key"],
        count=config["count"],
        compression=config["compression"],
    )
    try:
        await pool.open_all()
        emit(pool.ready_report())
        while line := await commands.readline():
            command = json.loads(line)
            if command["cmd"] == "collect":
                emit(await pool.collect(command["expected"], command["wait_s"]))
            elif command["cmd"] == "close":
                break
    finally:
        await pool.close_all()


def run_client() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the benchmark decides when clients stop
    try:
        import uvloop
    except ImportError:
        asyncio.run(client_main())
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(client_main())


# --- the benchmark process: client subprocesses ----------------------------------------


@dataclass
class ClientProcess:
    process: asyncio.subprocess.Process
    subscribers: int

    @property
    def pid(self) -> int:
        return self.process.pid

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        await self.process.stdin.drain()

    async def receive(self, wait_s: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), wait_s)
        except TimeoutError:
            raise BenchError(f"client process {self.pid} did not answer in time") from None
        if not line:
            raise BenchError(f"client process {self.pid} exited ({await self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer


async def _stop_client(client: ClientProcess) -> None:
    process = client.process
    if process.returncode is None:
        with contextlib.suppress(Exception):
            await client.send({"cmd": "close"})
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def client_processes(
    url: str, key: str, shares: Sequence[int], compression: str | None
) -> AsyncIterator[list[ClientProcess]]:
    clients: list[ClientProcess] = []
    try:
        for share in shares:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.fanout",
                "--client",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=PIPE_LIMIT,
                start_new_session=True,  # a Ctrl-C reaches the benchmark, which stops them
                cwd=REPO,
            )
            client = ClientProcess(process, share)
            clients.append(client)
            await client.send({"url": url, "key": key, "count": share, "compression": compression})
        yield clients
    finally:
        await asyncio.gather(*(_stop_client(c) for c in clients), return_exceptions=True)


# --- measurements of processes ----------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


@dataclass(frozen=True)
class CpuMark:
    at: float
    server: float
    clients: tuple[float, ...]
    machine: tuple[float, float]

    @classmethod
    def take(cls, server: ServerProcess, clients: Sequence[ClientProcess]) -> CpuMark:
        return cls(
            time.monotonic(),
            cpu_seconds(server.pid),
            tuple(cpu_seconds(c.pid) for c in clients),
            machine_busy_and_total(),
        )

    def usage_since(self, start: CpuMark) -> dict[str, Any]:
        wall = self.at - start.at
        busy = self.machine[0] - start.machine[0]
        total = self.machine[1] - start.machine[1]
        server = (self.server - start.server) / wall
        clients = [
            (end - begin) / wall for begin, end in zip(start.clients, self.clients, strict=True)
        ]
        machine = busy / total * (os.cpu_count() or 1) if total else math.nan
        return {
            "seconds": round(wall, 2),
            "server_cores": round(server, 3),
            "client_cores": [round(c, 3) for c in clients],
            "machine_busy_cores": round(machine, 3),
            # PostgreSQL, Redis, the kernel's loopback work, anything else running
            "other_cores": round(machine - server - sum(clients), 3),
        }


@dataclass
class RssSampler:
    pid: int
    samples: list[float] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            self.samples.append(rss_mb(self.pid))
            await asyncio.sleep(SAMPLE_EVERY_S)


# --- load ----------------------------------------------------------------------------------


@dataclass
class Publisher:
    client: httpx.AsyncClient
    key: str
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    async def one(self, gate: asyncio.Semaphore) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                answer = await self.client.post(
                    "/graphql",
                    json={"query": MUTATION},
                    headers={"Authorization": f"Bearer {self.key}"},
                )
                body = answer.json()
                if answer.status_code != 200 or body.get("errors"):
                    self.failures.append(f"{answer.status_code}: {answer.text[:300]}")
                    return
                assert body["data"]["startSecurityInspection"]["id"]
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
                self.failures.append(repr(error))
                return
            self.latencies_ms.append((time.perf_counter() - started) * 1000)

    async def run(self, rate: float, seconds: float) -> None:
        """``rate`` mutations/s on a fixed schedule; slow answers do not delay the next."""
        gate = asyncio.Semaphore(MAX_IN_FLIGHT_MUTATIONS)
        loop = asyncio.get_running_loop()
        start = loop.time()
        sends: list[asyncio.Task[None]] = []
        try:
            for number in range(round(rate * seconds)):
                await asyncio.sleep(max(0.0, start + number / rate - loop.time()))
                sends.append(asyncio.create_task(self.one(gate)))
            await asyncio.gather(*sends)
        finally:
            for send in sends:
                send.cancel()


async def live_subscriptions(http: httpx.AsyncClient) -> float:
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith("opsgraph_live_subscriptions "):
            return float(line.split()[1])
    raise BenchError("/metrics has no opsgraph_live_subscriptions")


async def wait_until(check: Callable[[], Awaitable[bool]], wait_s: float, what: str) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > wait_s:
            raise BenchError(f"timed out after {wait_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def eventually(check: Callable[[], Awaitable[bool]], wait_s: float) -> float | None:
    """Seconds until ``check`` held, or None if it did not within ``wait_s``."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > wait_s:
            return None
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def latest_seq(pg: PgConnection) -> int:
    return int(await pg.fetchval("SELECT coalesce(max(seq), 0) FROM events"))


async def all_settled(pg: PgConnection) -> bool:
    """No task is queued or running, and every committed event has its cursor.

    A task's last event is sequenced just after the transaction that finishes
    the task commits, so both must be checked.
    """
    pending = await pg.fetchval(
        "SELECT (SELECT count(*) FROM tasks WHERE status IN ('QUEUED', 'RUNNING'))"
        " + (SELECT count(*) FROM events WHERE seq IS NULL)"
    )
    return int(pending) == 0


async def succeeded_tasks(pg: PgConnection) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM tasks WHERE status = 'SUCCEEDED'"))


@dataclass(frozen=True)
class Published:
    cursors: list[int]
    occurred: list[float]  # epoch seconds, in cursor order


async def published_events(pg: PgConnection, after: int, through: int) -> Published:
    rows = await pg.fetch(
        "SELECT seq, occurred_at FROM events"
        " WHERE stream = 'task' AND seq > $1 AND seq <= $2 ORDER BY seq",
        after,
        through,
    )
    workspaces = await pg.fetchval(
        "SELECT count(DISTINCT workspace_id) FROM events WHERE seq > $1 AND seq <= $2",
        after,
        through,
    )
    if workspaces > 1:
        raise BenchError("events of more than one workspace: the expectations would be wrong")
    return Published(
        [int(r["seq"]) for r in rows],
        [_aware(r["occurred_at"]).timestamp() for r in rows],
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- one subscriber count ---------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    subscriber_counts: tuple[int, ...]
    seconds: float
    events_per_s: float
    compression: str | None
    client_processes: int | None

    @property
    def inspections_per_s(self) -> float:
        return self.events_per_s / EVENTS_PER_TASK

    def shares(self, subscribers: int) -> list[int]:
        count = self.client_processes or max(1, math.ceil(subscribers / 500))
        count = min(count, subscribers)
        return [subscribers // count + (1 if n < subscribers % count else 0) for n in range(count)]


def per_second(times: Sequence[float], start: float) -> list[int]:
    counts: Counter[int] = Counter(int(t - start) for t in times if t >= start)
    return [counts[s] for s in range(max(counts, default=-1) + 1)]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run_count(
    server: ServerProcess, database: BenchDatabase, subscribers: int, plan: Plan
) -> dict[str, Any]:
    assert server.admin_key is not None
    key = server.admin_key
    ws_url = server.base_url.replace("http://", "ws://", 1) + "/graphql"
    shares = plan.shares(subscribers)
    pg = await pg_connect(database.url)
    try:
        async with (
            httpx.AsyncClient(base_url=server.base_url, timeout=MUTATION_TIMEOUT_S) as http,
            client_processes(ws_url, key, shares, plan.compression) as clients,
        ):
            return await _measure(server, pg, http, clients, subscribers, plan)
    finally:
        await pg.close()


async def _measure(
    server: ServerProcess,
    pg: PgConnection,
    http: httpx.AsyncClient,
    clients: list[ClientProcess],
    subscribers: int,
    plan: Plan,
) -> dict[str, Any]:
    assert server.admin_key is not None
    rss_baseline = rss_mb(server.pid)
    connect_started = time.monotonic()
    readies = [await c.receive(CONNECT_TIMEOUT_S * 3) for c in clients]
    connected = int(sum(r["connected"] for r in readies))
    connect_s = time.monotonic() - connect_started
    if not connected:
        raise BenchError(f"no subscriber could connect: {readies[0]['errors']}")
    extensions: Counter[str] = Counter()
    for ready in readies:
        extensions.update(ready["extensions"])

    async def all_live() -> bool:
        return await live_subscriptions(http) >= connected

    live_s = await wait_until(all_live, LIVE_TIMEOUT_S, f"{connected} live subscriptions")
    log(
        f"{subscribers} subscribers: {connected} connected in {connect_s:.1f} s,"
        f" all live {live_s:.1f} s later"
    )
    await asyncio.sleep(IDLE_SETTLE_S)
    idle_samples = []
    for _ in range(4):
        idle_samples.append(rss_mb(server.pid))
        await asyncio.sleep(0.25)
    rss_idle = max(idle_samples)

    before = await latest_seq(pg)
    sampler = RssSampler(server.pid)
    sampling = asyncio.create_task(sampler.run())
    publisher = Publisher(http, server.admin_key)
    wall_start = time.time()
    cpu_start = CpuMark.take(server, clients)
    try:
        await publisher.run(plan.inspections_per_s, plan.seconds)
        cpu_load = CpuMark.take(server, clients)
        load_samples = list(sampler.samples)

        async def settled() -> bool:
            return await all_settled(pg)

        settle_s = await eventually(settled, TASKS_DONE_TIMEOUT_S)
        if settle_s is None:
            log(f"{subscribers} subscribers: inspections still running; checking what committed")
        succeeded = await succeeded_tasks(pg)
        published = await published_events(pg, before, await latest_seq(pg))
        for client in clients:
            await client.send(
                {"cmd": "collect", "expected": published.cursors, "wait_s": DRAIN_TIMEOUT_S}
            )
        results = [
            await c.receive(DRAIN_TIMEOUT_S + GRACE_S + 30 + i) for i, c in enumerate(clients)
        ]
        cpu_end = CpuMark.take(server, clients)
    finally:
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
    rss_after = rss_mb(server.pid)
    profile = await _maybe_profile(server, publisher, subscribers, plan)
    report = _phase_report(
        subscribers=subscribers,
        plan=plan,
        wall_start=wall_start,
        published=published,
        results=results,
        publisher=publisher,
        succeeded=succeeded,
    )
    report["settled_s"] = None if settle_s is None else round(settle_s, 2)
    report["connections"] = {
        "connected": connected,
        "failed": subscribers - connected,
        "connect_errors": [e for r in readies for e in r["errors"]][:3],
        "connect_s": round(connect_s, 2),
        "permessage_deflate": dict(extensions),
    }
    report["server_rss_mb"] = {
        "before_subscribers": round(rss_baseline, 1),
        "idle": round(rss_idle, 1),
        "idle_per_subscriber_kb": round((rss_idle - rss_baseline) * 1024 / connected, 1),
        "under_load_mean": round(sum(load_samples) / len(load_samples), 1)
        if load_samples
        else None,
        "under_load_and_drain_max": round(max([*sampler.samples, rss_after]), 1),
        "after_drain": round(rss_after, 1),
        # Memory kept per delivery is a leak unless it levels off in longer runs.
        "growth_after_idle_kb_per_1000_deliveries": round(
            (rss_after - rss_idle) * 1024 / report["deliveries"] * 1000, 1
        )
        if report["deliveries"]
        else None,
    }
    load = cpu_load.usage_since(cpu_start)
    deliveries = report["deliveries"] or 1
    report["cpu"] = {
        "load": load,
        "load_and_drain": cpu_end.usage_since(cpu_start),
        # All CPU time of the load and the drain over the deliveries made in them.
        "server_us_per_delivery": round((cpu_end.server - cpu_start.server) / deliveries * 1e6),
        "clients_us_per_delivery": round(
            (sum(cpu_end.clients) - sum(cpu_start.clients)) / deliveries * 1e6
        ),
        "bottleneck": "server (one core saturated)"
        if load["server_cores"] >= BUSY_CORE
        else "clients"
        if any(c >= BUSY_CORE for c in load["client_cores"])
        else "none: the load stayed below capacity",
    }
    if profile is not None:
        report["profile"] = profile
    return report


async def _maybe_profile(
    server: ServerProcess, publisher: Publisher, subscribers: int, plan: Plan
) -> str | None:
    """One extra, unmeasured load pass under py-spy, if OPSGRAPH_BENCH_PROFILE_DIR is set."""
    async with maybe_profile(server, f"fanout-{subscribers}") as profile:
        if profile is not None:
            scratch = Publisher(publisher.client, publisher.key)
            await scratch.run(plan.inspections_per_s, PROFILE_SECONDS)
            await asyncio.sleep(2.0)
    return profile


def _phase_report(
    *,
    subscribers: int,
    plan: Plan,
    wall_start: float,
    published: Published,
    results: list[dict[str, Any]],
    publisher: Publisher,
    succeeded: int,
) -> dict[str, Any]:
    receipts = array("d")
    latencies = array("d")
    for result in results:
        receipts.extend(decode_floats(result.pop("receipts")))
        latencies.extend(decode_floats(result.pop("latencies")))
    events = len(published.cursors)
    last_event = max(published.occurred, default=wall_start)
    last_receipt = max(receipts, default=wall_start)
    events_per_s = events / max(plan.seconds, last_event - wall_start)
    deliveries_per_s = len(receipts) / max(plan.seconds, last_receipt - wall_start)
    expected_deliveries = events * subscribers
    totals = {
        k: sum(r[k] for r in results)
        for k in ("ok", "missing", "duplicates", "out_of_order", "unexpected", "errors")
    }
    return {
        "subscribers": subscribers,
        "events_published": events,
        "events_per_s": round(events_per_s, 2),
        "inspections_requested": len(publisher.latencies_ms) + len(publisher.failures),
        "inspections_succeeded": succeeded,
        "events_match_inspections": events == EVENTS_PER_TASK * succeeded,
        "mutation_failures": len(publisher.failures),
        "mutation_failure_samples": publisher.failures[:3],
        "mutation_latency_ms": latency_summary(publisher.latencies_ms, scale=1.0),
        "deliveries": len(receipts),
        "expected_deliveries": expected_deliveries,
        "deliveries_per_s": round(deliveries_per_s, 1),
        "offered_deliveries_per_s": round(events_per_s * subscribers, 1),
        "latency_ms": latency_summary(latencies),
        "drain_s": round(last_receipt - last_event, 3) if receipts else None,
        "correctness": {
            "every_event_once_in_order": totals["ok"] == subscribers and events > 0,
            "subscribers_ok": totals["ok"],
            "subscribers_failed": subscribers - totals["ok"],
            "missing": totals["missing"],
            "duplicates": totals["duplicates"],
            "out_of_order": totals["out_of_order"],
            "unexpected": totals["unexpected"],
            "subscriber_errors": totals["errors"],
            "error_samples": [e for r in results for e in r["error_samples"]][:3],
        },
        "timeline_per_s": {
            "events": per_second(published.occurred, wall_start),
            "deliveries": per_second(receipts, wall_start),
        },
    }


# --- the whole run ----------------------------------------------------------------------------


def _plan() -> Plan:
    compression = os.environ.get("OPSGRAPH_BENCH_WS_COMPRESSION", "deflate")
    if compression not in ("deflate", "none"):
        raise BenchError("OPSGRAPH_BENCH_WS_COMPRESSION must be deflate or none")
    processes = os.environ.get("OPSGRAPH_BENCH_CLIENT_PROCESSES")
    counts = os.environ.get("OPSGRAPH_BENCH_SUBSCRIBERS", DEFAULT_SUBSCRIBER_COUNTS)
    try:
        subscriber_counts = tuple(int(n) for n in counts.split(","))
    except ValueError:
        raise BenchError("OPSGRAPH_BENCH_SUBSCRIBERS must be counts like 100,1000") from None
    if not all(1 <= n <= 5_000 for n in subscriber_counts):
        raise BenchError("OPSGRAPH_BENCH_SUBSCRIBERS: each count must be between 1 and 5000")
    return Plan(
        subscriber_counts=subscriber_counts,
        seconds=env_number("OPSGRAPH_BENCH_DURATION", 20, low=5, high=40),
        events_per_s=env_number("OPSGRAPH_BENCH_EVENTS_PER_S", TARGET_EVENTS_PER_S, low=1, high=40),
        compression=None if compression == "none" else compression,
        client_processes=int(env_number("OPSGRAPH_BENCH_CLIENT_PROCESSES", 1, low=1, high=16))
        if processes
        else None,
    )


def _raise_file_limit(needed: int) -> int:
    """Server and clients each hold one descriptor per connection; they inherit this."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def _target_report(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    at_target = next((r for r in results if r["subscribers"] == TARGET_SUBSCRIBERS), None)
    if at_target is None:
        return [{"description": f"not measured: no run with {TARGET_SUBSCRIBERS} subscribers"}]
    aimed = TARGET_SUBSCRIBERS * TARGET_EVENTS_PER_S
    p99 = at_target["latency_ms"]["p99"]
    rss = at_target["server_rss_mb"]["idle"]
    return [
        {
            "description": "1,000 subscribers at 10 events/s each (10,000 deliveries/s),"
            " publish-to-receipt p99 < 250 ms, every event delivered once in order",
            "subscribers": TARGET_SUBSCRIBERS,
            "min_events_per_s": TARGET_EVENTS_PER_S * RATE_TOLERANCE,
            "min_deliveries_per_s": aimed * RATE_TOLERANCE,
            "max_p99_ms": TARGET_P99_MS,
            "events_per_s": at_target["events_per_s"],
            "deliveries_per_s": at_target["deliveries_per_s"],
            "p99_ms": p99,
            "every_event_once_in_order": at_target["correctness"]["every_event_once_in_order"],
            "met": bool(
                at_target["events_per_s"] >= TARGET_EVENTS_PER_S * RATE_TOLERANCE
                and at_target["deliveries_per_s"] >= aimed * RATE_TOLERANCE
                and p99 is not None
                and p99 < TARGET_P99_MS
                and at_target["correctness"]["every_event_once_in_order"]
            ),
        },
        {
            "description": "server RSS < 300 MB with 1,000 idle subscriptions",
            "subscribers": TARGET_SUBSCRIBERS,
            "max_rss_mb": TARGET_IDLE_RSS_MB,
            "rss_mb": rss,
            "met": bool(rss < TARGET_IDLE_RSS_MB),
        },
    ]


async def run(plan: Plan, redis_url: str) -> dict[str, Any]:
    environment = environment_summary()
    results: list[dict[str, Any]] = []
    for subscribers in plan.subscriber_counts:
        # Every subscriber uses the benchmark's one key, whose websocket limit is raised.
        settings = {
            "OPSGRAPH_REDIS_URL": redis_url,
            "OPSGRAPH_MAX_WEBSOCKET_CONNECTIONS_PER_KEY": str(subscribers),
        }
        async with fresh_database() as database, opsgraph_server(database, settings=settings) as s:
            log(f"{subscribers} subscribers: server pid {s.pid} on {s.base_url}")
            result = await run_count(s, database, subscribers, plan)
            results.append(result)
            log(
                f"{subscribers} subscribers: {result['events_per_s']} events/s,"
                f" {result['deliveries_per_s']} deliveries/s,"
                f" p50 {result['latency_ms']['p50']} ms, p99 {result['latency_ms']['p99']} ms,"
                f" idle RSS {result['server_rss_mb']['idle']} MB,"
                f" ok {result['correctness']['subscribers_ok']}/{subscribers}"
            )
    client_cores = [c for r in results for c in r["cpu"]["load"]["client_cores"]]
    return {
        "benchmark": "fanout",
        "unit": "deliveries/s",
        "targets": _target_report(results),
        "results": results,
        "clients": {
            "kind": "subprocesses of bench/fanout.py --client, each one asyncio (uvloop) loop"
            " holding its share of the connections (websockets library); results are"
            " aggregated by the benchmark process",
            "why_subprocesses": "a client spends ~100 us of CPU per delivery, so one process"
            " would need about a core at the 10,000 deliveries/s target, on a machine whose"
            " other core the server needs; one process per 500 subscribers keeps each"
            " under half a core (see cpu.client_cores)",
            "processes": {str(n): len(plan.shares(n)) for n in plan.subscriber_counts},
            "compression": plan.compression or "none",
            "max_client_cores_under_load": max(client_cores, default=None),
            "client_bound": any(c >= BUSY_CORE for c in client_cores),
        },
        "method": {
            "subscription": SUBSCRIPTION + " over graphql-transport-ws, one per connection",
            "load": f"{MUTATION} (admin key, HTTP keep-alive) every"
            f" {1 / plan.inspections_per_s:.2f} s for {plan.seconds:g} s: {EVENTS_PER_TASK}"
            f" task events each, {plan.events_per_s:g} events/s aimed at",
            "events_per_s": "task events committed in the load / max(load seconds, last"
            " occurredAt - load start)",
            "deliveries_per_s": "subscription results received by all subscribers / max(load"
            " seconds, last receipt - load start)",
            "latency": "receipt time (client, time.time() on arrival) - the envelope's"
            " occurredAt (server clock, set when the event is appended, before commit);"
            " all deliveries of all subscribers",
            "drain_s": "last receipt - last event's occurredAt",
            "correctness": "each subscriber's cursors must equal the task events committed"
            " during the load (read from PostgreSQL), in order, each once",
            "rss": "VmRSS from /proc/<server pid>/status; idle = all subscriptions live and"
            f" {IDLE_SETTLE_S:g} s without events; under load sampled every {SAMPLE_EVERY_S} s;"
            " after_drain once every subscriber has every event",
            "cpu": "cores used (CPU seconds / wall seconds) from /proc/<pid>/stat; machine"
            " busy cores from /proc/stat; other = machine - server - clients",
            "targets": f"rates count as reached at >= {RATE_TOLERANCE:.0%} of the aim",
        },
        "server": {
            "command": "opsgraph serve",
            "workers": 1,
            "bus": redis_url,
            "settings": {
                "OPSGRAPH_RATE_LIMIT_PER_MINUTE": "0",
                "OPSGRAPH_LOG_LEVEL": "WARNING",
                "OPSGRAPH_MAX_WEBSOCKET_CONNECTIONS_PER_KEY": "the subscriber count",
            },
            "fresh_database_and_server_per_subscriber_count": True,
        },
        "environment": environment,
    }


async def main() -> None:
    started = time.monotonic()
    plan = _plan()
    redis_url = await loopback_redis_url()
    _raise_file_limit(2 * max(plan.subscriber_counts) + 1_024)
    # SIGTERM cancels the run like Ctrl-C does, so that the servers, the client
    # processes and the databases are cleaned up on the way out.
    main_task = asyncio.current_task()
    assert main_task is not None
    terminated = asyncio.Event()

    def terminate() -> None:
        terminated.set()
        main_task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
    try:
        async with asyncio.timeout(TIME_LIMIT_S):
            report = await run(plan, redis_url)
    except TimeoutError:
        raise BenchError(f"the benchmark did not finish within {TIME_LIMIT_S:.0f} s") from None
    except asyncio.CancelledError:
        if terminated.is_set():
            raise BenchError("terminated (SIGTERM); cleaned up") from None
        raise
    report["duration_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    if sys.argv[1:] == ["--client"]:
        run_client()
    else:
        run_main(main)
