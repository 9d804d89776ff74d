"""Benchmark: alert-to-webhook latency of notification routes beside Prometheus Alertmanager.

A receiver in this process (asyncio, HTTP/1.1 on loopback) records the receipt
time of every webhook request; for opsgraph it also records the ``webhook-id``
and verifies every signature with the ``standardwebhooks`` library. Each system
gets the same alerts at the same steady rate, in batches of 10, all of them
PAGE alerts with distinct fingerprints:

- ``steady``: 1,000 alerts over 10 s, the receiver up throughout;
- ``outage``: 3,000 alerts over 30 s; from 5 s to 25 s the receiver answers every
  request with 503, then accepts again.

Raise-to-receipt latency is the first receipt of an alert (matched by its
fingerprint in the body) minus the moment its batch was sent; deliveries/s are
the alerts delivered over the time from the first send to the last receipt.
Exactly once: every alert delivered, none twice (opsgraph: no ``webhook-id``
twice and no fingerprint in two messages; Alertmanager: no fingerprint twice).
Before each system's scenarios, 20 warm-up alerts are delivered and not counted.

- opsgraph runs as ``opsgraph serve`` (one uvicorn worker, loopback) on a fresh
  PostgreSQL database and the Redis bus, with loopback webhooks allowed and one
  WEBHOOK route matching ``severity = PAGE``; alerts go to ``raiseAlerts``. The
  notification jobs run every OPSGRAPH_BENCH_NOTIFY_INTERVAL, and the job
  scheduler looks for due jobs every OPSGRAPH_BENCH_JOB_POLL seconds (its
  default of 0.5 s would otherwise set the pace); retries keep their defaults
  (9 attempts, equal-jitter backoff from 5 s). The database then tells how each
  message ended and how many attempts it took, and splits the latency into its
  stages on the server's clock.
- Alertmanager (the ``prometheus-alertmanager`` binary) runs on loopback with one
  route (``group_by: ['...']``, so each alert is its own group; ``group_wait: 0s``,
  ``group_interval: 1s``, ``repeat_interval: 24h``) to a webhook receiver;
  alerts go to ``POST /api/v2/alerts``. It retries a failed notification itself.

Alertmanager runs first and is stopped before opsgraph starts. Prints one JSON
document to stdout; progress goes to stderr.

    .venv/bin/python -m bench.notify

Needs PostgreSQL and Redis on loopback and Alertmanager (Debian/Ubuntu:
``apt-get install -y prometheus-alertmanager``).

Environment:
  OPSGRAPH_BENCH_DATABASE_URL    admin connection used to create and drop the
                                 benchmark database (default
                                 postgresql+asyncpg://postgres@127.0.0.1:5432/test)
  OPSGRAPH_BENCH_REDIS_URL       the server's bus (default redis://127.0.0.1:6379/0)
  OPSGRAPH_BENCH_ALERTMANAGER    path of the Alertmanager binary (default: found on
                                 PATH as prometheus-alertmanager or alertmanager)
  OPSGRAPH_BENCH_NOTIFY_INTERVAL OPSGRAPH_NOTIFICATION_INTERVAL of the server
                                 (default PT0.1S)
  OPSGRAPH_BENCH_JOB_POLL        OPSGRAPH_JOB_POLL_SECONDS of the server (default 0.1)
  OPSGRAPH_BENCH_PROFILE_DIR     if set, record a py-spy profile of the opsgraph
                                 server during each scenario
"""

import asyncio
import base64
import contextlib
import json
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bench._harness import (
    LOOPBACK,
    BenchDatabase,
    BenchError,
    PgConnection,
    ServerProcess,
    alertmanager_server,
    alertmanager_version,
    cpu_seconds,
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

RATE = 100.0  # alerts per second
BATCH = 10
WARMUP_ALERTS = 20
STEADY_SECONDS = 10.0
OUTAGE_SECONDS = 30.0
DOWN_FROM_S = 5.0
DOWN_FOR_S = 20.0
TARGET_P99_MS = 1000.0
#: How long to wait for the last deliveries once the raising is over.
DRAIN_TIMEOUT_S = 100.0
#: After the last expected delivery, how long to keep listening for duplicates.
QUIET_S = 2.0
REQUEST_TIMEOUT_S = 30.0
TIME_LIMIT_S = 480.0
DEFAULT_INTERVAL = "PT0.1S"
DEFAULT_JOB_POLL = "0.1"

RAISE_MUTATION = "mutation($inputs: [AlertInput!]!) { raiseAlerts(inputs: $inputs) { id } }"
ROUTE_MUTATION = (
    "mutation($input: NotificationRouteInput!) { createNotificationRoute(input: $input) { id } }"
)

ALERTMANAGER_CONFIG = """\
route:
  receiver: bench
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 24h
receivers:
  - name: bench
    webhook_configs:
      - url: {url}
        send_resolved: false
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the receiver ---------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    at: float
    fingerprint: str
    webhook_id: str | None


#: The fingerprints an accepted request notifies, and its webhook-id (if any);
#: raises ValueError on a request that does not verify or parse.
ReadRequest = Callable[[Mapping[str, str], bytes], tuple[list[str], str | None]]


@dataclass
class Receiver:
    """A webhook receiver on a loopback port: 200 while ``up``, else 503."""

    read: ReadRequest
    up: bool = True
    receipts: list[Receipt] = field(default_factory=list)
    refused: int = 0
    invalid: list[str] = field(default_factory=list)
    port: int = 0

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator["Receiver"]:
        server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        self.port = int(server.sockets[0].getsockname()[1])
        try:
            yield self
        finally:
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)

    def url(self, path: str) -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                headers, body = await _read_request(reader)
                status = self._take(headers, body, time.perf_counter())
                reason = "OK" if status == 200 else "Service Unavailable"
                closing = headers.get("connection", "").lower() == "close"
                writer.write(
                    f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n"
                    f"Connection: {'close' if closing else 'keep-alive'}\r\n\r\n".encode()
                )
                await writer.drain()
                if closing:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    def _take(self, headers: Mapping[str, str], body: bytes, at: float) -> int:
        if not self.up:
            self.refused += 1
            return 503
        try:
            fingerprints, webhook_id = self.read(headers, body)
        except ValueError as error:
            self.invalid.append(str(error)[:200])
            return 400
        self.receipts.extend(Receipt(at, key, webhook_id) for key in fingerprints)
        return 200


async def _read_request(reader: asyncio.StreamReader) -> tuple[dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    headers: dict[str, str] = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
            pass
        return headers, b"".join(chunks)
    length = int(headers.get("content-length", "0"))
    return headers, await reader.readexactly(length) if length else b""


def opsgraph_reader(secret: str) -> ReadRequest:
    webhook = Webhook(secret)

    def read(headers: Mapping[str, str], body: bytes) -> tuple[list[str], str | None]:
        try:
            document = webhook.verify(body, dict(headers))
        except WebhookVerificationError as error:
            raise ValueError(f"signature: {error}") from error
        return [str(document["data"]["alert"]["fingerprint"])], headers["webhook-id"]

    return read


def alertmanager_read(headers: Mapping[str, str], body: bytes) -> tuple[list[str], str | None]:
    document = json.loads(body)
    return [str(alert["labels"]["fingerprint"]) for alert in document["alerts"]], None


# --- raising alerts -------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    seconds: float
    #: (from, for) seconds after the first send, during which the receiver answers 503.
    down: tuple[float, float] | None = None

    def fingerprints(self) -> list[str]:
        return [f"notify-{self.name}-{n:05d}" for n in range(round(self.seconds * RATE))]


WARMUP = Scenario("warmup", WARMUP_ALERTS / RATE)
SCENARIOS = (
    Scenario("steady", STEADY_SECONDS),
    Scenario("outage", OUTAGE_SECONDS, down=(DOWN_FROM_S, DOWN_FOR_S)),
)

#: Raises a batch of alerts (by fingerprint); raises BenchError if it was refused.
RaiseBatch = Callable[[Sequence[str]], Awaitable[None]]


async def raise_steadily(raise_batch: RaiseBatch, fingerprints: Sequence[str]) -> dict[str, float]:
    """Send the batches at RATE alerts per second; when each fingerprint was sent."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent: dict[str, float] = {}

    async def one(batch: Sequence[str]) -> None:
        now = time.perf_counter()
        sent.update(dict.fromkeys(batch, now))
        await raise_batch(batch)

    sends: list[asyncio.Task[None]] = []
    try:
        for index in range(0, len(fingerprints), BATCH):
            await asyncio.sleep(max(0.0, started + index / RATE - loop.time()))
            sends.append(asyncio.create_task(one(fingerprints[index : index + BATCH])))
        await asyncio.gather(*sends)
    finally:
        for send in sends:
            send.cancel()
    return sent


@dataclass
class Outage:
    down_at: float | None = None
    back_at: float | None = None

    async def run(self, receiver: Receiver, down_from: float, down_for: float) -> None:
        await asyncio.sleep(down_from)
        receiver.up = False
        self.down_at = time.perf_counter()
        log(f"  receiver down for {down_for:.0f} s (503)")
        await asyncio.sleep(down_for)
        receiver.up = True
        self.back_at = time.perf_counter()
        log("  receiver back")


#: Whether the system has given up on every alert not yet received (None: it never does).
GivenUp = Callable[[], Awaitable[bool]]


async def wait_for_deliveries(
    receiver: Receiver, expected: set[str], given_up: GivenUp | None
) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    checked = 0.0
    while time.monotonic() < deadline:
        if expected <= {receipt.fingerprint for receipt in receiver.receipts}:
            break
        if given_up is not None and time.monotonic() - checked > 1.0:
            checked = time.monotonic()
            if await given_up():
                break
        await asyncio.sleep(0.1)
    else:
        log(f"  warning: not all delivered after {DRAIN_TIMEOUT_S:.0f} s")
    await asyncio.sleep(QUIET_S)


@dataclass(frozen=True)
class CpuMark:
    at: float
    server: float
    machine_busy: float
    machine_total: float

    @classmethod
    def take(cls, pid: int) -> "CpuMark":
        busy, total = machine_busy_and_total()
        return cls(time.perf_counter(), cpu_seconds(pid), busy, total)

    def cores_since(self, start: "CpuMark") -> dict[str, float]:
        """CPU seconds per wall second: the server process, and the whole machine."""
        seconds = self.at - start.at
        share = (self.machine_busy - start.machine_busy) / (
            self.machine_total - start.machine_total
        )
        return {
            "server": round((self.server - start.server) / seconds, 2),
            "machine": round(share * (os.cpu_count() or 1), 2),
        }


async def play(
    scenario: Scenario,
    receiver: Receiver,
    raise_batch: RaiseBatch,
    server: ServerProcess,
    given_up: GivenUp | None = None,
) -> dict[str, Any]:
    fingerprints = scenario.fingerprints()
    log(f"  {scenario.name}: {len(fingerprints)} alerts over {scenario.seconds:.0f} s")
    first_receipt = len(receiver.receipts)
    refused_before = receiver.refused
    start = CpuMark.take(server.pid)
    outage = Outage()
    toggler = asyncio.create_task(outage.run(receiver, *scenario.down)) if scenario.down else None
    try:
        sent = await raise_steadily(raise_batch, fingerprints)
        if toggler is not None:
            await toggler
        await wait_for_deliveries(receiver, set(fingerprints), given_up)
    finally:
        if toggler is not None:
            toggler.cancel()
        receiver.up = True
    cores = CpuMark.take(server.pid).cores_since(start)
    receipts = receiver.receipts[first_receipt:]
    report = delivery_report(sent, receipts, outage.back_at)
    report["refused_requests_503"] = receiver.refused - refused_before
    report["cpu_cores"] = cores
    log(
        f"  {scenario.name}: {report['delivered']}/{len(fingerprints)} delivered, p50"
        f" {report['raise_to_receipt_ms']['p50']} ms, p99 {report['raise_to_receipt_ms']['p99']}"
        f" ms, {report['deliveries_per_s']} deliveries/s; cores {cores}"
    )
    return report


# --- the figures ----------------------------------------------------------------------


def delivery_report(
    sent: Mapping[str, float], receipts: Sequence[Receipt], back_at: float | None
) -> dict[str, Any]:
    ours = [receipt for receipt in receipts if receipt.fingerprint in sent]
    first: dict[str, float] = {}
    for receipt in ours:
        first.setdefault(receipt.fingerprint, receipt.at)
    per_fingerprint = Counter(receipt.fingerprint for receipt in ours)
    per_webhook_id = Counter(receipt.webhook_id for receipt in ours if receipt.webhook_id)
    missing = len(sent) - len(first)
    twice = sum(count - 1 for count in per_fingerprint.values())
    ids_twice = sum(count - 1 for count in per_webhook_id.values())
    start = min(sent.values())
    end = max(first.values(), default=start)
    report: dict[str, Any] = {
        "alerts": len(sent),
        "delivered": len(first),
        "missing": missing,
        "fingerprints_received_twice": twice,
        "webhook_ids_received_twice": ids_twice if per_webhook_id else None,
        "exactly_once": missing == 0 and twice == 0 and ids_twice == 0,
        "raise_to_receipt_ms": latency_summary([at - sent[key] for key, at in first.items()]),
        "deliveries_per_s": round(len(first) / (end - start), 1) if end > start else None,
        "seconds_first_send_to_last_receipt": round(end - start, 2),
    }
    if back_at is not None:
        after = [at - back_at for at in first.values() if at >= back_at]
        report["after_return"] = {
            "delivered": len(after),
            "receipt_after_return_s": latency_summary(after, scale=1.0),
        }
    return report


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return round(ours / theirs, 3) if ours is not None and theirs else None


# --- Alertmanager ---------------------------------------------------------------------


def alertmanager_raiser(client: httpx.AsyncClient) -> RaiseBatch:
    async def raise_batch(fingerprints: Sequence[str]) -> None:
        starts = datetime.now(UTC).isoformat()
        alerts = [
            {
                "labels": {
                    "alertname": "BenchPage",
                    "service": "svc-notify",
                    "severity": "page",
                    "fingerprint": key,
                },
                "annotations": {"summary": f"bench alert {key}"},
                "startsAt": starts,
            }
            for key in fingerprints
        ]
        answer = await client.post("/api/v2/alerts", json=alerts)
        if answer.status_code != 200:
            raise BenchError(f"Alertmanager answered {answer.status_code}: {answer.text[:300]}")

    return raise_batch


async def run_alertmanager(binary: str) -> dict[str, Any]:
    log("alertmanager:")
    async with Receiver(alertmanager_read).listening() as receiver:
        url = receiver.url("/alertmanager")
        async with (
            alertmanager_server(binary, ALERTMANAGER_CONFIG.format(url=url)) as server,
            httpx.AsyncClient(
                base_url=server.base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False
            ) as client,
        ):
            raise_batch = alertmanager_raiser(client)
            await play(WARMUP, receiver, raise_batch, server)
            report: dict[str, Any] = {}
            for scenario in SCENARIOS:
                report[scenario.name] = await play(scenario, receiver, raise_batch, server)
        report["invalid_requests"] = receiver.invalid[:5]
    return report


# --- opsgraph -------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def graphql(
    client: httpx.AsyncClient, query: str, variables: Mapping[str, Any]
) -> dict[str, Any]:
    answer = await client.post("/graphql", json={"query": query, "variables": variables})
    payload = answer.json() if answer.status_code == 200 else None
    if not isinstance(payload, dict) or payload.get("errors") or not payload.get("data"):
        raise BenchError(f"opsgraph answered {answer.status_code}: {answer.text[:500]}")
    data: dict[str, Any] = payload["data"]
    return data


def opsgraph_raiser(client: httpx.AsyncClient) -> RaiseBatch:
    async def raise_batch(fingerprints: Sequence[str]) -> None:
        inputs = [
            {
                "service": "svc-notify",
                "summary": f"bench alert {key}",
                "severity": "PAGE",
                "labels": {"alertname": "BenchPage"},
                "fingerprint": key,
            }
            for key in fingerprints
        ]
        data = await graphql(client, RAISE_MUTATION, {"inputs": inputs})
        if len(data["raiseAlerts"]) != len(fingerprints):
            raise BenchError(f"raiseAlerts answered {len(data['raiseAlerts'])} items")

    return raise_batch


async def create_route(client: httpx.AsyncClient, url: str, secret: str) -> None:
    route = {
        "name": "bench-pager",
        "channel": "WEBHOOK",
        "url": url,
        "secret": secret,
        "matchers": [{"label": "severity", "op": "EQ", "value": "PAGE"}],
    }
    await graphql(client, ROUTE_MUTATION, {"input": route})


MESSAGE_STATUSES = """
SELECT status, count(*) AS n FROM notification_messages
WHERE alert->>'fingerprint' LIKE $1 GROUP BY status
"""
ATTEMPTS = """
SELECT d.attempt, count(*) AS n FROM notification_deliveries d
JOIN notification_messages m ON m.id = d.message_id
WHERE m.alert->>'fingerprint' LIKE $1 GROUP BY d.attempt ORDER BY d.attempt
"""
#: On the server's clock: the raise (the alert's first firing) to its message, the
#: message to the end of its successful attempt.
STAGES = """
SELECT extract(epoch FROM m.created_at - a.first_fired_at) AS dispatched,
       extract(epoch FROM d.finished_at - m.created_at) AS sent,
       d.latency_ms / 1000.0 AS posted
FROM notification_messages m
JOIN alerts a ON a.id = m.alert_id
JOIN notification_deliveries d ON d.message_id = m.id AND d.status = 'SUCCEEDED'
WHERE m.alert->>'fingerprint' LIKE $1
"""


async def server_side(pg: PgConnection, scenario: Scenario) -> dict[str, Any]:
    pattern = f"notify-{scenario.name}-%"
    statuses = {row["status"]: row["n"] for row in await pg.fetch(MESSAGE_STATUSES, pattern)}
    attempts = {str(row["attempt"]): row["n"] for row in await pg.fetch(ATTEMPTS, pattern)}
    stages = await pg.fetch(STAGES, pattern)
    return {
        "messages_by_status": statuses,
        "deliveries_by_attempt": attempts,
        "raise_to_message_ms": latency_summary([float(row["dispatched"]) for row in stages]),
        "message_to_sent_ms": latency_summary([float(row["sent"]) for row in stages]),
        "post_ms": latency_summary([float(row["posted"]) for row in stages]),
    }


def all_given_up(pg: PgConnection, scenario: Scenario) -> GivenUp:
    """True once every alert of the scenario has its message and none is PENDING."""
    expected = len(scenario.fingerprints())

    async def check() -> bool:
        rows = await pg.fetch(MESSAGE_STATUSES, f"notify-{scenario.name}-%")
        statuses = {row["status"]: row["n"] for row in rows}
        return sum(statuses.values()) >= expected and not statuses.get("PENDING")

    return check


def opsgraph_settings(redis_url: str) -> dict[str, str]:
    return {
        "OPSGRAPH_REDIS_URL": redis_url,
        "OPSGRAPH_ALLOW_LOOPBACK_WEBHOOKS": "true",
        "OPSGRAPH_NOTIFICATION_INTERVAL": os.environ.get(
            "OPSGRAPH_BENCH_NOTIFY_INTERVAL", DEFAULT_INTERVAL
        ),
        "OPSGRAPH_JOB_POLL_SECONDS": os.environ.get("OPSGRAPH_BENCH_JOB_POLL", DEFAULT_JOB_POLL),
    }


async def run_opsgraph(database: BenchDatabase, settings: Mapping[str, str]) -> dict[str, Any]:
    log("opsgraph:")
    secret = new_secret()
    async with (
        Receiver(opsgraph_reader(secret)).listening() as receiver,
        opsgraph_server(database, settings=settings) as server,
        httpx.AsyncClient(
            base_url=server.base_url,
            timeout=REQUEST_TIMEOUT_S,
            trust_env=False,
            headers={"Authorization": f"Bearer {server.admin_key}"},
        ) as client,
    ):
        await create_route(client, receiver.url("/opsgraph"), secret)
        raise_batch = opsgraph_raiser(client)
        pg = await pg_connect(database.url)
        try:
            await play(WARMUP, receiver, raise_batch, server, all_given_up(pg, WARMUP))
            report: dict[str, Any] = {}
            for scenario in SCENARIOS:
                given_up = all_given_up(pg, scenario)
                async with maybe_profile(server, f"notify-{scenario.name}") as profile:
                    played = await play(scenario, receiver, raise_batch, server, given_up)
                played["server"] = await server_side(pg, scenario)
                if profile is not None:
                    played["profile"] = profile
                report[scenario.name] = played
        finally:
            await pg.close()
    report["invalid_requests"] = receiver.invalid[:5]
    return report


# --- the whole run --------------------------------------------------------------------


def comparison(opsgraph: dict[str, Any], alertmanager: dict[str, Any]) -> dict[str, Any]:
    ours, theirs = opsgraph["steady"], alertmanager["steady"]
    ours_ms, theirs_ms = ours["raise_to_receipt_ms"], theirs["raise_to_receipt_ms"]
    return {
        "p50": ratio(ours_ms["p50"], theirs_ms["p50"]),
        "p99": ratio(ours_ms["p99"], theirs_ms["p99"]),
        "deliveries_per_s": ratio(ours["deliveries_per_s"], theirs["deliveries_per_s"]),
    }


def targets(opsgraph: dict[str, Any], alertmanager: dict[str, Any]) -> dict[str, Any]:
    ours = opsgraph["steady"]["raise_to_receipt_ms"]["p99"]
    theirs = alertmanager["steady"]["raise_to_receipt_ms"]["p99"]
    return {
        "every_alert_exactly_once": opsgraph["steady"]["exactly_once"],
        "p99_at_most_alertmanager": ours is not None and theirs is not None and ours <= theirs,
        f"p99_under_{TARGET_P99_MS:.0f}_ms": ours is not None and ours < TARGET_P99_MS,
        "outage_every_alert_exactly_once": opsgraph["outage"]["exactly_once"],
    }


def method_report(settings: Mapping[str, str]) -> dict[str, Any]:
    return {
        "alerts": f"PAGE alerts with distinct fingerprints, {RATE:.0f}/s in batches of {BATCH}"
        " (one request per batch, sent on schedule without waiting for earlier answers);"
        f" {WARMUP_ALERTS} warm-up alerts first, delivered and not counted",
        "scenarios": {
            s.name: f"{len(s.fingerprints())} alerts over {s.seconds:.0f} s"
            + (
                f", receiver answering 503 from {s.down[0]:.0f} s for {s.down[1]:.0f} s"
                if s.down
                else ""
            )
            for s in SCENARIOS
        },
        "receiver": "asyncio HTTP/1.1 server in this process on loopback; receipt time when"
        " a request's body has been read; opsgraph's signatures verified on every request"
        " with standardwebhooks (a failure answers 400 and is listed in invalid_requests)",
        "raise_to_receipt_ms": "first receipt of an alert minus the moment its batch request"
        " was sent (one clock, this process)",
        "deliveries_per_s": "alerts delivered / (last first-receipt - first send)",
        "wait": f"after the last send, until every alert arrived, or (opsgraph) no message is"
        f" PENDING, or {DRAIN_TIMEOUT_S:.0f} s; then {QUIET_S:.0f} s more for duplicates",
        "opsgraph": {
            "route": "one WEBHOOK route, matcher severity = PAGE",
            "settings": dict(settings) | {"OPSGRAPH_REDIS_URL": "loopback Redis"},
            "server": "from the database: messages by status, attempts, and the stages"
            " raise -> message (dispatcher) and message -> end of the successful attempt",
        },
        "alertmanager": ALERTMANAGER_CONFIG.format(url="http://127.0.0.1:<receiver>/"),
    }


async def run(binary: str, redis_url: str) -> dict[str, Any]:
    environment = environment_summary()
    settings = opsgraph_settings(redis_url)
    alertmanager = await run_alertmanager(binary)
    async with fresh_database() as database:
        opsgraph = await run_opsgraph(database, settings)
    return {
        "benchmark": "notify",
        "unit": "ms",
        "alertmanager": alertmanager,
        "opsgraph": opsgraph,
        "ratio_opsgraph_to_alertmanager_steady": comparison(opsgraph, alertmanager),
        "targets": targets(opsgraph, alertmanager),
        "method": method_report(settings),
        "servers": {"alertmanager": {"version": await alertmanager_version(binary)}},
        "environment": environment,
    }


async def main() -> None:
    binary = find_alertmanager()
    redis_url = await loopback_redis_url()
    try:
        async with asyncio.timeout(TIME_LIMIT_S):
            report = await run(binary, redis_url)
    except TimeoutError:
        raise BenchError(f"the benchmark did not finish within {TIME_LIMIT_S:.0f} s") from None
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run_main(main, uvloop=True)
