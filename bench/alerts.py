"""Benchmark: alerts/s of the ``raiseAlerts`` mutation beside Prometheus Alertmanager.

Both systems receive the same stream of alerts in the same batches of 100: in each
batch 10 % are new fingerprints and 90 % repeat fingerprints sent before (the very
first warm-up batch, which seeds the stream, is all new). A repeat has the same
service and labels as its first occurrence, so both systems must deduplicate it.
Each system gets a sequential warm-up, then the measured run with 1 client, then
another with 8 concurrent clients (each run the next N alerts of the stream).

- Alertmanager (the ``prometheus-alertmanager`` binary) runs on loopback with a
  single null receiver and default route timings, storage in a temporary
  directory and clustering off; batches go to ``POST /api/v2/alerts``.
- opsgraph runs as ``opsgraph serve`` (one uvicorn worker, loopback) on a fresh
  PostgreSQL database and the Redis bus; batches go to ``POST /graphql`` as the
  ``$inputs`` variable of ``raiseAlerts``, with the admin key. Every answer must
  be free of errors and hold one item per alert.
- opsgraph again, on a fresh database, receiving the very bodies Alertmanager
  gets on its Alertmanager-compatible ``POST /api/v2/alerts`` (``ratio_api_v2_alerts_N``).

Afterwards each system is asked how many alerts it holds, which must equal the
number of distinct fingerprints it was sent. Alertmanager is stopped before
opsgraph starts, so the two never share the machine. Prints one JSON document to
stdout; progress goes to stderr.

    .venv/bin/python -m bench.alerts          # or: make bench

Needs PostgreSQL and Redis on loopback and Alertmanager (Debian/Ubuntu:
``apt-get install -y prometheus-alertmanager``).

Environment:
  OPSGRAPH_BENCH_DATABASE_URL    admin connection used to create and drop the
                                 benchmark database (default
                                 postgresql+asyncpg://postgres@127.0.0.1:5432/test)
  OPSGRAPH_BENCH_REDIS_URL       the server's bus (default redis://127.0.0.1:6379/0)
  OPSGRAPH_BENCH_ALERTMANAGER    path of the Alertmanager binary (default: found on
                                 PATH as prometheus-alertmanager or alertmanager)
  OPSGRAPH_BENCH_ALERTS          alerts per measured run, a multiple of 100
                                 (default 20000)
  OPSGRAPH_BENCH_PROFILE_DIR     if set, record a py-spy profile of the opsgraph
                                 server during one extra, unmeasured 8-client run
"""

import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench._harness import (
    BenchDatabase,
    BenchError,
    ServerProcess,
    alertmanager_server,
    alertmanager_version,
    cpu_seconds,
    env_int,
    environment_summary,
    find_alertmanager,
    fresh_database,
    latency_summary,
    loopback_redis_url,
    machine_busy_and_total,
    maybe_profile,
    opsgraph_server,
    pg_connect,
    run_main,
)

BATCH_SIZE = 100
NEW_PER_BATCH = 10
REPEATS_PER_BATCH = BATCH_SIZE - NEW_PER_BATCH
DEFAULT_ALERTS = 20_000
WARMUP_BATCHES = 20
CLIENT_COUNTS = (1, 8)
#: A repeat is drawn from the fingerprints first sent at least this many batches
#: earlier, so that with 8 clients in flight it (nearly) never overtakes its first
#: occurrence.
REPEAT_LAG = max(CLIENT_COUNTS)
SEED = 20_240_601
TIME_LIMIT_S = 900.0
REQUEST_TIMEOUT_S = 30.0

MUTATION = (
    "mutation($inputs: [AlertInput!]!) { raiseAlerts(inputs: $inputs) { id occurrenceCount } }"
)
COUNT_QUERY = "{ alerts(first: 1) { totalCount } }"
ME_QUERY = "{ me { role } }"

ALERT_NAMES = ("HighLatency", "ErrorRate", "DiskFull", "CPUThrottled", "PodRestarts")
SERVICES = 50
#: opsgraph ``Severity`` values, weighted like a real stream: mostly warnings.
SEVERITIES = ("WARNING",) * 6 + ("CRITICAL",) * 2 + ("INFO", "PAGE")

ALERTMANAGER_CONFIG = """\
route:
  receiver: "null"
receivers:
  - name: "null"
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the workload ---------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSpec:
    """Everything about one fingerprint; every occurrence of it sends exactly this."""

    service: str
    severity: str
    labels: dict[str, str]
    summary: str


def alert_spec(number: int) -> AlertSpec:
    alertname = ALERT_NAMES[number % len(ALERT_NAMES)]
    instance = f"host-{number}:9100"
    return AlertSpec(
        service=f"svc-{number % SERVICES}",
        severity=SEVERITIES[number % len(SEVERITIES)],
        labels={
            "alertname": alertname,
            "instance": instance,
            "env": "prod" if number % 3 else "staging",
            "job": "node",
        },
        summary=f"{alertname} on {instance}",
    )


@dataclass(frozen=True)
class Batch:
    """Fingerprint numbers (new ones and repeats, shuffled) and how many are new."""

    numbers: tuple[int, ...]
    new: int


class Workload:
    """The one alert stream both systems receive, batch by batch, from a fixed seed."""

    def __init__(self, seed: int = SEED) -> None:
        self._random = random.Random(seed)
        self._known_after: list[int] = []  # fingerprints known after each batch

    def batches(self, count: int) -> list[Batch]:
        return [self._next() for _ in range(count)]

    def _next(self) -> Batch:
        index = len(self._known_after)
        known = self._known_after[-1] if index else 0
        if index == 0:
            numbers = list(range(BATCH_SIZE))
        else:
            eligible = self._known_after[max(0, index - REPEAT_LAG)]
            numbers = list(range(known, known + NEW_PER_BATCH))
            numbers += self._random.sample(range(eligible), REPEATS_PER_BATCH)
            self._random.shuffle(numbers)
        new = len(numbers) if index == 0 else NEW_PER_BATCH
        self._known_after.append(known + new)
        return Batch(tuple(numbers), new)


def distinct_fingerprints(batches: Sequence[Batch]) -> int:
    return sum(batch.new for batch in batches)


@dataclass(frozen=True)
class Plan:
    alerts: int
    warmup: list[Batch]
    #: The measured runs: number of clients -> the batches they send.
    runs: dict[int, list[Batch]]
    #: Sent to opsgraph only, under the profiler, if one was asked for.
    profile: list[Batch]


def make_plan() -> Plan:
    alerts = env_int("OPSGRAPH_BENCH_ALERTS", DEFAULT_ALERTS, low=BATCH_SIZE, high=1_000_000)
    if alerts % BATCH_SIZE:
        raise BenchError(f"OPSGRAPH_BENCH_ALERTS must be a multiple of {BATCH_SIZE}")
    workload = Workload()
    warmup = workload.batches(WARMUP_BATCHES)
    runs = {clients: workload.batches(alerts // BATCH_SIZE) for clients in CLIENT_COUNTS}
    profiling = bool(os.environ.get("OPSGRAPH_BENCH_PROFILE_DIR"))
    profile = workload.batches(alerts // BATCH_SIZE if profiling else 0)
    return Plan(alerts=alerts, warmup=warmup, runs=runs, profile=profile)


def alertmanager_body(batch: Batch, starts: datetime) -> bytes:
    alerts = []
    for number in batch.numbers:
        spec = alert_spec(number)
        labels = spec.labels | {"service": spec.service, "severity": spec.severity.lower()}
        alerts.append(
            {
                "labels": labels,
                "annotations": {"summary": spec.summary},
                # Like Prometheus: every occurrence carries the time it first fired.
                "startsAt": (starts + timedelta(milliseconds=number)).isoformat(),
            }
        )
    return json.dumps(alerts).encode()


def opsgraph_body(batch: Batch) -> bytes:
    inputs = []
    for number in batch.numbers:
        spec = alert_spec(number)
        inputs.append(
            {
                "service": spec.service,
                "summary": spec.summary,
                "severity": spec.severity,
                "labels": spec.labels,
            }
        )
    return json.dumps({"query": MUTATION, "variables": {"inputs": inputs}}).encode()


# --- a lean HTTP/1.1 client -----------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def _parse_head(head: bytes) -> tuple[int, int | None]:
    """The status and Content-Length (None: chunked) of a response head."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            return status, int(value)
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return status, None
    return status, 0


class KeepAlive:
    """One HTTP/1.1 keep-alive connection sending pre-encoded requests one at a time.

    httpx spends more client CPU on a 20 KB POST than Alertmanager needs to handle
    it (measured: ~1.7 ms per batch, half the throughput), so the load comes from
    requests encoded before the clock starts, written as bytes, their answers read
    by Content-Length (or chunks).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, base_url: str) -> "KeepAlive":
        parts = urlsplit(base_url)
        assert parts.hostname is not None
        assert parts.port is not None
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> Answer:
        self._writer.write(request)
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
            status, length = _parse_head(head)
            if length is None:
                body = await self._read_chunks()
            else:
                body = await self._reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as error:
            raise BenchError(f"the connection broke or the answer was garbled: {error!r}") from None
        return Answer(status, body)

    async def _read_chunks(self) -> bytes:
        chunks: list[bytes] = []
        while size := int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)
        while await self._reader.readuntil(b"\r\n") != b"\r\n":  # trailers
            pass
        return b"".join(chunks)

    def close(self) -> None:
        self._writer.close()


def encode_request(base_url: str, path: str, headers: Mapping[str, str], body: bytes) -> bytes:
    host = urlsplit(base_url).netloc
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- measuring ------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One system under load: where batches go and how its answers are judged."""

    name: str
    server: ServerProcess
    path: str
    headers: Mapping[str, str]
    encode: Callable[[Batch], bytes]
    #: Raises BenchError on a wrong answer; returns the alerts it reports as new,
    #: or None if the answer does not say.
    check: Callable[[Answer, Batch], int | None]

    def request(self, batch: Batch) -> bytes:
        return encode_request(self.server.base_url, self.path, self.headers, self.encode(batch))


@dataclass(frozen=True)
class CpuMark:
    at: float
    server: float
    client: float
    machine: tuple[float, float]

    @classmethod
    def take(cls, server_pid: int) -> "CpuMark":
        return cls(
            time.perf_counter(),
            cpu_seconds(server_pid),
            time.process_time(),
            machine_busy_and_total(),
        )

    def cores_since(self, start: "CpuMark") -> dict[str, float]:
        """Cores used (CPU seconds / wall seconds) between ``start`` and this mark."""
        wall = self.at - start.at
        busy = self.machine[0] - start.machine[0]
        total = self.machine[1] - start.machine[1]
        machine = busy / total * (os.cpu_count() or 1) if total else 0.0
        server = (self.server - start.server) / wall
        client = (self.client - start.client) / wall
        return {
            "server": round(server, 2),
            "client": round(client, 2),
            "machine_busy": round(machine, 2),
            # PostgreSQL, Redis, the kernel's loopback work, anything else running
            "other": round(machine - server - client, 2),
        }


@dataclass
class Tally:
    """What one system was sent, over all its runs."""

    batches: list[Batch] = field(default_factory=list)
    first_occurrences: int | None = None

    def add(self, batches: Sequence[Batch], first_occurrences: int | None) -> None:
        self.batches += batches
        if first_occurrences is not None:
            self.first_occurrences = (self.first_occurrences or 0) + first_occurrences


async def _send_all(
    connections: Sequence[KeepAlive], requests: Sequence[bytes]
) -> tuple[list[Answer], list[float]]:
    """Each connection takes the next request as soon as it has its last answer."""
    answers: list[Answer | None] = [None] * len(requests)
    latencies = [0.0] * len(requests)
    pending = iter(range(len(requests)))

    async def client(connection: KeepAlive) -> None:
        for index in pending:
            started = time.perf_counter()
            answers[index] = await connection.send(requests[index])
            latencies[index] = time.perf_counter() - started

    tasks = [asyncio.create_task(client(connection)) for connection in connections]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return [answer for answer in answers if answer is not None], latencies


def _first_occurrences(
    target: Target, batches: Sequence[Batch], answers: Sequence[Answer]
) -> int | None:
    counts = [target.check(answer, batch) for answer, batch in zip(answers, batches, strict=True)]
    return None if None in counts else sum(count or 0 for count in counts)


async def run_once(
    target: Target, batches: Sequence[Batch], clients: int, tally: Tally
) -> dict[str, Any]:
    """Send ``batches`` over ``clients`` keep-alive connections; check every answer."""
    requests = [target.request(batch) for batch in batches]
    connections = [await KeepAlive.open(target.server.base_url) for _ in range(clients)]
    try:
        start = CpuMark.take(target.server.pid)
        answers, latencies = await _send_all(connections, requests)
        end = CpuMark.take(target.server.pid)
    finally:
        for connection in connections:
            connection.close()
    tally.add(batches, _first_occurrences(target, batches, answers))
    seconds = end.at - start.at
    alerts = sum(len(batch.numbers) for batch in batches)
    return {
        "clients": clients,
        "batches": len(batches),
        "alerts": alerts,
        "seconds": round(seconds, 3),
        "alerts_per_s": round(alerts / seconds),
        "batches_per_s": round(len(batches) / seconds, 1),
        "batch_latency_ms": latency_summary(latencies),
        "cpu_cores": end.cores_since(start),
    }


async def measure(target: Target, plan: Plan, tally: Tally) -> dict[str, Any]:
    """The warm-up (one client, unmeasured), then one measured run per client count."""
    await run_once(target, plan.warmup, 1, tally)
    report: dict[str, Any] = {}
    for clients, batches in plan.runs.items():
        result = await run_once(target, batches, clients, tally)
        report[f"clients_{clients}"] = result
        latency, cores = result["batch_latency_ms"], result["cpu_cores"]
        log(
            f"{target.name}, {clients} client(s): {result['alerts_per_s']} alerts/s,"
            f" batch p50 {latency['p50']} ms, p99 {latency['p99']} ms; cores: server"
            f" {cores['server']}, client {cores['client']}, other {cores['other']}"
        )
    report["request_bytes_mean"] = round(
        sum(len(target.request(batch)) for batch in plan.warmup) / len(plan.warmup)
    )
    return report


def stored_report(tally: Tally, stored: int) -> dict[str, Any]:
    distinct = distinct_fingerprints(tally.batches)
    report: dict[str, Any] = {
        "alerts_sent": sum(len(batch.numbers) for batch in tally.batches),
        "distinct_fingerprints_sent": distinct,
        "stored_alerts": stored,
    }
    if tally.first_occurrences is not None:
        report["answered_as_new"] = tally.first_occurrences
    report["deduplicated"] = stored == distinct and tally.first_occurrences in (None, distinct)
    if not report["deduplicated"]:
        log(f"warning: {json.dumps(report)}")
    return report


# --- Alertmanager ---------------------------------------------------------------------

#: Alertmanager needs no other process: CPU used beyond it and the client is noise.
DISTURBED_CORES = 0.25


def warn_if_disturbed(report: dict[str, Any]) -> None:
    for clients in CLIENT_COUNTS:
        other = report[f"clients_{clients}"]["cpu_cores"]["other"]
        if other > DISTURBED_CORES:
            log(
                f"warning: other processes used {other} cores during the Alertmanager run"
                f" with {clients} client(s); its figures are disturbed"
            )


def check_alertmanager(answer: Answer, batch: Batch) -> None:
    if answer.status != 200:
        raise BenchError(f"Alertmanager answered {answer.status}: {answer.body[:500]!r}")


async def alertmanager_stored(server: ServerProcess) -> int:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
        answer = await client.get("/api/v2/alerts")
    if answer.status_code != 200:
        raise BenchError(f"GET /api/v2/alerts answered {answer.status_code}: {answer.text[:500]}")
    return len(answer.json())


async def run_alertmanager(binary: str, plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    starts = datetime.now(UTC) - timedelta(hours=1)
    tally = Tally()
    async with alertmanager_server(binary, ALERTMANAGER_CONFIG) as server:
        log(f"alertmanager: pid {server.pid} on {server.base_url}")
        target = Target(
            name="alertmanager",
            server=server,
            path="/api/v2/alerts",
            headers={"Content-Type": "application/json"},
            encode=lambda batch: alertmanager_body(batch, starts),
            check=check_alertmanager,
        )
        report = await measure(target, plan, tally)
        report["stored"] = stored_report(tally, await alertmanager_stored(server))
    warn_if_disturbed(report)
    about = {
        "version": await alertmanager_version(binary),
        "config": "one null receiver, default route (group_wait 30s, group_interval 5m,"
        " repeat_interval 4h, no group_by), clustering off, storage in a temporary directory",
    }
    return report, about


# --- opsgraph -------------------------------------------------------------------------


def _graphql_data(answer: Answer, what: str) -> dict[str, Any]:
    if answer.status != 200:
        raise BenchError(f"{what} answered {answer.status}: {answer.body[:500]!r}")
    try:
        payload = json.loads(answer.body)
    except ValueError:
        raise BenchError(f"{what} answered no JSON: {answer.body[:500]!r}") from None
    if not isinstance(payload, dict) or payload.get("errors") or not payload.get("data"):
        raise BenchError(f"{what} answered with errors: {str(payload)[:500]}")
    data: dict[str, Any] = payload["data"]
    return data


def check_opsgraph(answer: Answer, batch: Batch) -> int:
    items = _graphql_data(answer, "raiseAlerts").get("raiseAlerts")
    if not isinstance(items, list) or len(items) != len(batch.numbers):
        count = len(items) if isinstance(items, list) else items
        raise BenchError(f"raiseAlerts answered {count} items for {len(batch.numbers)} alerts")
    return sum(1 for item in items if item.get("occurrenceCount") == 1)


async def graphql(server: ServerProcess, query: str) -> dict[str, Any]:
    """One query with the admin key, through httpx: outside the measured runs."""
    headers = {"Authorization": f"Bearer {server.admin_key}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
        answer = await client.post("/graphql", json={"query": query}, headers=headers)
    return _graphql_data(Answer(answer.status_code, answer.content), query)


async def check_admin_key(server: ServerProcess) -> None:
    data = await graphql(server, ME_QUERY)
    if data != {"me": {"role": "ADMIN"}}:
        raise BenchError(f"{ME_QUERY} answered {data}")


async def opsgraph_stored(server: ServerProcess) -> int:
    data = await graphql(server, COUNT_QUERY)
    return int(data["alerts"]["totalCount"])


def opsgraph_target(server: ServerProcess) -> Target:
    return Target(
        name="opsgraph",
        server=server,
        path="/graphql",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.admin_key}"},
        encode=opsgraph_body,
        check=check_opsgraph,
    )


def opsgraph_intake_target(server: ServerProcess) -> Target:
    """opsgraph's Alertmanager-compatible intake, sent exactly what Alertmanager gets."""
    starts = datetime.now(UTC) - timedelta(hours=1)
    return Target(
        name="opsgraph_api_v2_alerts",
        server=server,
        path="/api/v2/alerts",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.admin_key}"},
        encode=lambda batch: alertmanager_body(batch, starts),
        check=check_alertmanager,
    )


async def postgres_version(database: BenchDatabase) -> str:
    connection = await pg_connect(database.url)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def run_opsgraph(
    database: BenchDatabase,
    redis_url: str,
    plan: Plan,
    make_target: Callable[[ServerProcess], Target] = opsgraph_target,
) -> tuple[dict[str, Any], dict[str, Any]]:
    tally = Tally()
    settings = {"OPSGRAPH_REDIS_URL": redis_url}
    async with opsgraph_server(database, settings=settings) as server:
        log(f"opsgraph: pid {server.pid} on {server.base_url}")
        await check_admin_key(server)
        target = make_target(server)
        report = await measure(target, plan, tally)
        async with maybe_profile(server, f"alerts-{target.name}") as profile:
            if profile is not None:
                await run_once(target, plan.profile, max(CLIENT_COUNTS), tally)
        if profile is not None:
            report["profile"] = profile
        report["stored"] = stored_report(tally, await opsgraph_stored(server))
    about = {
        "command": "opsgraph serve",
        "workers": 1,
        "postgresql": await postgres_version(database),
        "bus": redis_url,
        "settings": {"OPSGRAPH_RATE_LIMIT_PER_MINUTE": "0", "OPSGRAPH_LOG_LEVEL": "WARNING"},
    }
    return report, about


# --- the whole run --------------------------------------------------------------------


def ratio(opsgraph: dict[str, Any], alertmanager: dict[str, Any], clients: int) -> float:
    key = f"clients_{clients}"
    theirs: float = alertmanager[key]["alerts_per_s"]
    ours: float = opsgraph[key]["alerts_per_s"]
    return round(ours / theirs, 3)


def method_report(plan: Plan) -> dict[str, Any]:
    return {
        "stream": f"batches of {BATCH_SIZE}: {NEW_PER_BATCH} new fingerprints and"
        f" {REPEATS_PER_BATCH} repeats drawn (seeded, uniformly, no repeat twice in a batch)"
        f" from the fingerprints first sent at least {REPEAT_LAG} batches before; a"
        " repeat has the same service, labels, severity and summary as its first"
        " occurrence; the order in a batch is shuffled",
        "runs": f"per system: {WARMUP_BATCHES} warm-up batches (1 client, the first one"
        f" all new, unmeasured), then {plan.alerts} alerts with 1 client, then the next"
        f" {plan.alerts} with {max(CLIENT_COUNTS)} concurrent clients; both systems get"
        " the identical batches in the identical order",
        "clients": "asyncio (uvloop) in the benchmark process; one keep-alive HTTP/1.1"
        " connection per client, each taking the next batch as soon as it has its last"
        " answer; requests (headers and JSON body) encoded before the clock starts;"
        " answers checked after it stops (see cpu_cores.client)",
        "alerts_per_s": "alerts sent / wall time from the first request to the last answer",
        "batch_latency_ms": "per request, from writing it to reading the whole answer",
        "cpu_cores": "CPU seconds / wall seconds: the server process and this process"
        " from /proc, machine busy from /proc/stat; other = machine - server - client"
        " (for opsgraph mostly PostgreSQL; for Alertmanager it should be ~0, more means"
        " something else on the machine disturbed the run)",
        "alertmanager": "POST /api/v2/alerts, a JSON array of {labels (alertname, instance,"
        " env, job, service, severity), annotations {summary}, startsAt}",
        "opsgraph": f"POST /graphql {MUTATION} (admin key); every answer must carry no"
        f" errors and {BATCH_SIZE} items",
        "opsgraph_api_v2_alerts": "POST /api/v2/alerts on opsgraph (admin key, a fresh"
        " database), the very bodies Alertmanager gets; every answer must be 200",
        "stored": f"after the runs: Alertmanager GET /api/v2/alerts, opsgraph {COUNT_QUERY};"
        " each must equal the distinct fingerprints sent; answered_as_new counts"
        " occurrenceCount == 1 in the answers",
    }


async def run(binary: str, plan: Plan, redis_url: str) -> dict[str, Any]:
    environment = environment_summary()
    async with fresh_database() as database:
        alertmanager, alertmanager_about = await run_alertmanager(binary, plan)
        opsgraph, opsgraph_about = await run_opsgraph(database, redis_url, plan)
    async with fresh_database() as database:
        intake, _ = await run_opsgraph(database, redis_url, plan, opsgraph_intake_target)
    return {
        "benchmark": "alerts",
        "unit": "alerts/s",
        "batch": BATCH_SIZE,
        "new_share": NEW_PER_BATCH / BATCH_SIZE,
        "alerts": plan.alerts,
        "warmup_alerts": WARMUP_BATCHES * BATCH_SIZE,
        "alertmanager": alertmanager,
        "opsgraph": opsgraph,
        "opsgraph_api_v2_alerts": intake,
        **{f"ratio_{n}": ratio(opsgraph, alertmanager, n) for n in CLIENT_COUNTS},
        **{f"ratio_api_v2_alerts_{n}": ratio(intake, alertmanager, n) for n in CLIENT_COUNTS},
        "method": method_report(plan),
        "servers": {"alertmanager": alertmanager_about, "opsgraph": opsgraph_about},
        "environment": environment,
    }


async def main() -> None:
    binary = find_alertmanager()
    plan = make_plan()
    redis_url = await loopback_redis_url()
    try:
        async with asyncio.timeout(TIME_LIMIT_S):
            report = await run(binary, plan, redis_url)
    except TimeoutError:
        raise BenchError(f"the benchmark did not finish within {TIME_LIMIT_S:.0f} s") from None
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run_main(main, uvloop=True)
