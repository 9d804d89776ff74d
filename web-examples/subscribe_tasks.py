"""Follow opsgraph task events over a websocket and print each one as a JSON line.

Usage (with a server from ``make run``):

    export OPSGRAPH_API_KEY=og_...            # any key; a viewer key is enough
    .venv/bin/python web-examples/subscribe_tasks.py [--after CURSOR] [--task-id ID]

``OPSGRAPH_WS_URL`` defaults to ws://127.0.0.1:8000/graphql; without
``OPSGRAPH_API_KEY`` the script uses ``OPSGRAPH_ADMIN_KEY``. It speaks
``graphql-transport-ws`` with the key in the ``connection_init`` payload,
remembers the cursor of the last event it printed and, when the connection
drops, reconnects with backoff and resumes with ``after=<last cursor>``, so it
misses no event and prints none twice. Only ``websockets`` is needed.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

DEFAULT_URL = "ws://127.0.0.1:8000/graphql"
PROTOCOL = Subprotocol("graphql-transport-ws")
ACK_TIMEOUT_SECONDS = 10.0
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
#: Close codes after which reconnecting cannot help (4403: the key was refused).
FATAL_CLOSE_CODES = {4400: "protocol error", 4401: "unauthorized", 4403: "key refused"}
#: Error codes of a refused subscription; the same request would be refused again.
FATAL_ERROR_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "CURSOR_EXPIRED",
    "GRAPHQL_VALIDATION_FAILED",
    "GRAPHQL_PARSE_FAILED",
}

TASK_EVENTS = """
subscription TaskEvents($taskId: ID, $after: String) {
  taskEvents(taskId: $taskId, after: $after) {
    schema cursor type occurredAt workspace payload
  }
}
"""


class Refused(Exception):
    """The server refused the connection or the subscription for good."""


class Disconnected(Exception):
    """The connection ended; reconnecting may help."""


def log(message: str) -> None:
    print(f"subscribe_tasks: {message}", file=sys.stderr, flush=True)


def describe(errors: list[dict[str, Any]]) -> tuple[str, bool]:
    """A readable summary of GraphQL errors, and whether they are final."""
    codes = [str(error.get("extensions", {}).get("code", "?")) for error in errors]
    text = "; ".join(
        f"{code}: {error.get('message', '')}" for code, error in zip(codes, errors, strict=True)
    )
    return text, any(code in FATAL_ERROR_CODES for code in codes)


class TaskEventFollower:
    """Keeps one ``taskEvents`` subscription alive and remembers the last cursor."""

    def __init__(self, url: str, api_key: str, *, after: str | None, task_id: str | None) -> None:
        self.url = url
        self.api_key = api_key
        self.last_cursor = after
        self.task_id = task_id
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
            resume = (
                f"after {self.last_cursor}"
                if self.last_cursor
                else "live (no cursor yet: events during the outage are not replayed)"
            )
            log(f"disconnected ({reason}); reconnecting in {delay:.1f}s, resuming {resume}")
            await asyncio.sleep(delay)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _follow_once(self) -> None:
        async with connect(self.url, subprotocols=[PROTOCOL], open_timeout=10) as connection:
            if connection.subprotocol != PROTOCOL:
                raise Refused(f"the server does not speak {PROTOCOL}")
            await self._initialise(connection)
            self._acknowledged = True
            start = f"after cursor {self.last_cursor}" if self.last_cursor else "live"
            log(f"connected to {self.url}, subscribing {start}")
            variables = {"taskId": self.task_id, "after": self.last_cursor}
            payload = {"query": TASK_EVENTS, "variables": variables}
            await self._send(connection, {"id": "1", "type": "subscribe", "payload": payload})
            await self._receive_events(connection)

    async def _initialise(self, connection: ClientConnection) -> None:
        payload = {"Authorization": f"Bearer {self.api_key}"}
        await self._send(connection, {"type": "connection_init", "payload": payload})
        while True:
            message = await asyncio.wait_for(self._receive(connection), ACK_TIMEOUT_SECONDS)
            if message["type"] == "connection_ack":
                return
            if message["type"] == "ping":
                await self._send(connection, {"type": "pong"})

    async def _receive_events(self, connection: ClientConnection) -> None:
        while True:
            message = await self._receive(connection)
            kind = message["type"]
            if kind == "ping":
                await self._send(connection, {"type": "pong"})
            elif kind == "next":
                result: dict[str, Any] = message["payload"]
                if result.get("errors"):
                    self._fail(result["errors"])
                self._print(result["data"]["taskEvents"])
            elif kind == "error":
                self._fail(message["payload"])
            elif kind == "complete":
                return

    def _fail(self, errors: list[dict[str, Any]]) -> None:
        text, final = describe(errors)
        if final:
            raise Refused(text)
        raise Disconnected(text)

    def _print(self, envelope: dict[str, Any]) -> None:
        print(json.dumps(envelope, separators=(",", ":")), flush=True)
        self.last_cursor = envelope["cursor"]

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


async def follow_until_stopped(follower: TaskEventFollower) -> None:
    """Run the follower; SIGTERM stops it like Ctrl-C does."""
    main_task = asyncio.current_task()
    assert main_task is not None
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    await follower.run()


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Print opsgraph task events as JSON lines.")
    parser.add_argument("--after", help="resume after this event cursor (replays what followed)")
    parser.add_argument("--task-id", help="only the events of this task")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    url = os.environ.get("OPSGRAPH_WS_URL", DEFAULT_URL)
    api_key = os.environ.get("OPSGRAPH_API_KEY") or os.environ.get("OPSGRAPH_ADMIN_KEY")
    if not api_key:
        log("set OPSGRAPH_API_KEY to an API key (e.g. the one printed by the first start)")
        return 2
    follower = TaskEventFollower(url, api_key, after=arguments.after, task_id=arguments.task_id)
    try:
        asyncio.run(follow_until_stopped(follower))
    except Refused as refusal:
        log(f"refused by {url}: {refusal}")
        return 1
    except InvalidURI as error:
        log(str(error))
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        log(f"stopped; resume with --after {follower.last_cursor or '<none yet>'}")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
