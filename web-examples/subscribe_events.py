"""Follow opsgraph alert or task events over a websocket; print each one as a JSON line.

Usage (with a server from ``make run``):

    export OPSGRAPH_API_KEY=og_...            # any key; a viewer key is enough
    .venv/bin/python web-examples/subscribe_events.py alerts \\
        [--service S ...] [--severity PAGE ...] [--type alert.fired ...] [--after CURSOR]
    .venv/bin/python web-examples/subscribe_events.py tasks [--task-id ID] [--after CURSOR]

``alerts`` follows the ``alertEvents`` subscription (alert and SLO events),
``tasks`` the ``taskEvents`` one. ``OPSGRAPH_WS_URL`` defaults to
ws://127.0.0.1:8000/graphql; without ``OPSGRAPH_API_KEY`` the script uses
``OPSGRAPH_ADMIN_KEY``. It speaks ``graphql-transport-ws`` with the key in the
``connection_init`` payload. Without ``--after`` it first asks for
``latestEventCursor`` and subscribes after it, so from then on it always has a
cursor: when the connection drops it reconnects with backoff and resumes after
the last event it printed (or that first cursor), missing no event and printing
none twice. Only ``websockets`` is needed.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

PROGRAM = "subscribe_events"
DEFAULT_URL = "ws://127.0.0.1:8000/graphql"
PROTOCOL = Subprotocol("graphql-transport-ws")
ACK_TIMEOUT_SECONDS = 10.0
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
#: Close codes after which reconnecting cannot help (4403: the key was refused).
FATAL_CLOSE_CODES = {4400: "protocol error", 4401: "unauthorized", 4403: "key refused"}
#: Error codes of a refused operation; the same request would be refused again.
FATAL_ERROR_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "CURSOR_EXPIRED",
    "GRAPHQL_VALIDATION_FAILED",
    "GRAPHQL_PARSE_FAILED",
}
SEVERITIES = ("INFO", "WARNING", "CRITICAL", "PAGE")
ENVELOPE_FIELDS = "schema cursor type occurredAt workspace payload"
ALERT_EVENTS = f"""
subscription AlertEvents($filter: AlertEventFilter, $after: String) {{
  alertEvents(filter: $filter, after: $after) {{ {ENVELOPE_FIELDS} }}
}}
"""
TASK_EVENTS = f"""
subscription TaskEvents($taskId: ID, $after: String) {{
  taskEvents(taskId: $taskId, after: $after) {{ {ENVELOPE_FIELDS} }}
}}
"""
LATEST_EVENT_CURSOR = "query LatestEventCursor { latestEventCursor }"


@dataclass(frozen=True)
class EventStream:
    """One subscription: its document, the field it answers with and its arguments."""

    name: str
    document: str
    field: str
    arguments: dict[str, Any]

    def request(self, after: str | None) -> dict[str, Any]:
        return {"query": self.document, "variables": {**self.arguments, "after": after}}


def alert_stream(
    services: list[str] | None, severities: list[str] | None, types: list[str] | None
) -> EventStream:
    wanted = {"services": services, "severities": severities, "types": types}
    event_filter = {key: values for key, values in wanted.items() if values}
    return EventStream("alerts", ALERT_EVENTS, "alertEvents", {"filter": event_filter or None})


def task_stream(task_id: str | None) -> EventStream:
    return EventStream("tasks", TASK_EVENTS, "taskEvents", {"taskId": task_id})


class Refused(Exception):
    """The server refused the connection or the subscription for good."""


class Disconnected(Exception):
    """The connection ended; reconnecting may help."""


class OutputClosed(Exception):
    """Whoever reads stdout went away (e.g. ``| head``); not a connection problem."""


def log(message: str) -> None:
    print(f"{PROGRAM}: {message}", file=sys.stderr, flush=True)


def describe(errors: list[dict[str, Any]]) -> tuple[str, bool]:
    """A readable summary of GraphQL errors, and whether they are final."""
    codes = [str(error.get("extensions", {}).get("code", "?")) for error in errors]
    text = "; ".join(
        f"{code}: {error.get('message', '')}" for code, error in zip(codes, errors, strict=True)
    )
    return text, any(code in FATAL_ERROR_CODES for code in codes)


def fail(errors: list[dict[str, Any]]) -> None:
    text, final = describe(errors)
    if final:
        raise Refused(text)
    raise Disconnected(text)


class EventFollower:
    """Keeps one subscription alive and remembers the cursor to resume after."""

    def __init__(self, url: str, api_key: str, stream: EventStream, *, after: str | None) -> None:
        self.url = url
        self.api_key = api_key
        self.stream = stream
        self.last_cursor = after
        self._acknowledged = False

    async def run(self) -> None:
        """Follow events until the server refuses; reconnect after anything else."""
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            self._acknowledged = False
            try:
                await self._follow_once()
                reason = "the server completed the subscription"
            except InvalidStatus as error:
                if 400 <= error.response.status_code < 500:
                    raise Refused(str(error)) from error
                reason = str(error)
            except (Disconnected, ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as e:
                reason = str(e) or type(e).__name__
            if self._acknowledged:
                backoff = FIRST_BACKOFF_SECONDS
            delay = backoff * random.uniform(0.5, 1.0)
            resume = f"after {self.last_cursor}" if self.last_cursor is not None else "live"
            log(f"disconnected ({reason}); reconnecting in {delay:.1f}s, resuming {resume}")
            await asyncio.sleep(delay)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _follow_once(self) -> None:
        async with connect(self.url, subprotocols=[PROTOCOL], open_timeout=10) as connection:
            if connection.subprotocol != PROTOCOL:
                raise Refused(f"the server does not speak {PROTOCOL}")
            await self._initialise(connection)
            self._acknowledged = True
            messages = self._messages(connection)
            if self.last_cursor is None:
                self.last_cursor = await self._latest_cursor(connection, messages)
                start = f"live, from cursor {self.last_cursor}"
            else:
                start = f"after cursor {self.last_cursor}"
            log(f"connected to {self.url}, following {self.stream.field} {start}")
            request = self.stream.request(self.last_cursor)
            await self._send(connection, {"id": "events", "type": "subscribe", "payload": request})
            async for message in messages:
                if message["type"] == "next":
                    result: dict[str, Any] = message["payload"]
                    if result.get("errors"):
                        fail(result["errors"])
                    self._print(result["data"][self.stream.field])
                elif message["type"] == "error":
                    fail(message["payload"])
                elif message["type"] == "complete":
                    return

    async def _initialise(self, connection: ClientConnection) -> None:
        payload = {"Authorization": f"Bearer {self.api_key}"}
        await self._send(connection, {"type": "connection_init", "payload": payload})
        while True:
            message = await asyncio.wait_for(self._receive(connection), ACK_TIMEOUT_SECONDS)
            if message["type"] == "connection_ack":
                return
            if message["type"] == "ping":
                await self._send(connection, {"type": "pong"})

    async def _latest_cursor(
        self, connection: ClientConnection, messages: AsyncIterator[dict[str, Any]]
    ) -> str:
        """The newest event cursor: subscribing after it misses nothing from now on,
        and a reconnection before the first event resumes from it too."""
        payload = {"query": LATEST_EVENT_CURSOR}
        await self._send(connection, {"id": "cursor", "type": "subscribe", "payload": payload})
        cursor: str | None = None
        async for message in messages:
            if message["type"] == "next":
                result: dict[str, Any] = message["payload"]
                if result.get("errors"):
                    fail(result["errors"])
                cursor = str(result["data"]["latestEventCursor"])
            elif message["type"] == "error":
                fail(message["payload"])
            elif message["type"] == "complete":
                break
        if cursor is None:
            raise Disconnected("no answer to latestEventCursor")
        return cursor

    async def _messages(self, connection: ClientConnection) -> AsyncIterator[dict[str, Any]]:
        """The server's messages, pings answered."""
        while True:
            message = await self._receive(connection)
            if message["type"] == "ping":
                await self._send(connection, {"type": "pong"})
            else:
                yield message

    def _print(self, envelope: dict[str, Any]) -> None:
        cursor = str(envelope["cursor"])
        if _not_after(cursor, self.last_cursor):
            log(f"skipped event {cursor}: not after {self.last_cursor}, already printed")
            return
        try:
            print(json.dumps(envelope, separators=(",", ":")), flush=True)
        except BrokenPipeError as error:
            raise OutputClosed from error
        self.last_cursor = cursor

    @staticmethod
    async def _send(connection: ClientConnection, message: dict[str, Any]) -> None:
        await connection.send(json.dumps(message))

    @staticmethod
    async def _receive(connection: ClientConnection) -> dict[str, Any]:
        try:
            raw = await connection.recv()
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            if code in FATAL_CLOSE_CODES:
                raise Refused(f"closed with {code} ({FATAL_CLOSE_CODES[code]})") from closed
            raise
        message: dict[str, Any] = json.loads(raw)
        return message


def _not_after(cursor: str, last: str | None) -> bool:
    """Whether ``cursor`` comes at or before ``last`` (cursors are increasing integers)."""
    return last is not None and cursor.isdecimal() and last.isdecimal() and int(cursor) <= int(last)


async def follow_until_stopped(follower: EventFollower) -> None:
    """Run the follower; SIGTERM stops it like Ctrl-C does."""
    main_task = asyncio.current_task()
    assert main_task is not None
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    await follower.run()


def event_cursor(value: str) -> str:
    if not (value.isascii() and value.isdecimal()):
        raise argparse.ArgumentTypeError(f"an event cursor is a number, not {value!r}")
    return value


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="subscribe_events.py", description="Print opsgraph events as JSON lines."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--after",
        type=event_cursor,
        metavar="CURSOR",
        help="start by replaying the events after this cursor, then go on live",
    )
    streams = parser.add_subparsers(dest="stream", required=True, metavar="{alerts,tasks}")
    alerts = streams.add_parser(
        "alerts",
        parents=[common],
        help="alertEvents: alert and SLO events",
        description="Follow alertEvents: alert events (alert.*) and SLO events (slo.*). "
        "Repeated options, or several values after one, match any of them.",
    )
    alerts.add_argument(
        "--service", action="extend", nargs="+", metavar="S", help="only these services"
    )
    alerts.add_argument(
        "--severity",
        action="extend",
        nargs="+",
        type=str.upper,
        choices=SEVERITIES,
        metavar="SEVERITY",
        help="only alert events of these severities (INFO, WARNING, CRITICAL, PAGE); "
        "SLO events have no severity, so this leaves them out",
    )
    alerts.add_argument(
        "--type",
        action="extend",
        nargs="+",
        metavar="TYPE",
        help="only these event types, e.g. alert.fired slo.status_changed; "
        "the server refuses an unknown type and lists the known ones",
    )
    tasks = streams.add_parser(
        "tasks",
        parents=[common],
        help="taskEvents: task events",
        description="Follow taskEvents: task.queued, task.started, task.progress, ...",
    )
    tasks.add_argument("--task-id", metavar="ID", help="only the events of this task")
    return parser.parse_args(argv)


def stream_of(arguments: argparse.Namespace) -> EventStream:
    if arguments.stream == "tasks":
        return task_stream(arguments.task_id)
    return alert_stream(arguments.service, arguments.severity, arguments.type)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    stream = stream_of(arguments)
    url = os.environ.get("OPSGRAPH_WS_URL", DEFAULT_URL)
    api_key = os.environ.get("OPSGRAPH_API_KEY") or os.environ.get("OPSGRAPH_ADMIN_KEY")
    if not api_key:
        log("set OPSGRAPH_API_KEY to an API key (e.g. the one printed by the first start)")
        return 2
    follower = EventFollower(url, api_key, stream, after=arguments.after)
    try:
        asyncio.run(follow_until_stopped(follower))
    except Refused as refusal:
        log(f"refused by {url}: {refusal}")
        return 1
    except InvalidURI as error:
        log(str(error))
        return 2
    except OutputClosed:
        # Keep the interpreter from failing again on flushing the closed stdout.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (KeyboardInterrupt, asyncio.CancelledError):
        if follower.last_cursor is None:
            log("stopped before the first cursor")
        else:
            log(f"stopped; resume with --after {follower.last_cursor} and the same options")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
