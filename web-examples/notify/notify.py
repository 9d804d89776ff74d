"""A notification client: follow opsgraph's ``alertEvents`` and print one line per event.

Usage (with a server from ``make run`` or ``make demo``):

    export OPSGRAPH_API_KEY=og_...      # any role; a viewer key is enough
    .venv/bin/python web-examples/notify/notify.py \\
        [--service S ...] [--severity PAGE ...] [--type alert.fired ...] \\
        [--cursor-file notify.cursor] [--exec 'notify-send "$OPSGRAPH_EVENT_LINE"']

It speaks ``graphql-transport-ws`` through ``gql`` and its websockets transport,
with the key in the ``connection_init`` payload. After each event it has
handled (the line printed, the ``--exec`` command run) it writes the event's
cursor to the cursor file, so a restarted client, or one whose connection
dropped, subscribes again after that cursor: the server replays what happened
meanwhile, nothing is missed and nothing is printed twice. SIGTERM and Ctrl-C
stop it between two events. ``OPSGRAPH_WS_URL`` defaults to
ws://127.0.0.1:8000/graphql; without ``OPSGRAPH_API_KEY`` it uses
``OPSGRAPH_ADMIN_KEY``.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

PROGRAM = "notify"
DEFAULT_URL = "ws://127.0.0.1:8000/graphql"
DEFAULT_CURSOR_FILE = "notify.cursor"
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
SEVERITIES = ("INFO", "WARNING", "CRITICAL", "PAGE")
#: The key or the request was refused: retrying the same cannot help.
REFUSED_CLOSE_CODES = {4400: "bad request", 4401: "unauthorized", 4403: "key refused"}
REFUSED_ERROR_CODES = {"UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "CURSOR_EXPIRED"}
LATEST_CURSOR = "query LatestEventCursor { latestEventCursor }"
ALERT_EVENTS = """
subscription Notify($filter: AlertEventFilter, $after: String) {
  alertEvents(filter: $filter, after: $after) { cursor type occurredAt payload }
}"""


class Refused(Exception):
    """The server refused the key or the subscription for good."""


def log(message: str) -> None:
    print(f"{PROGRAM}: {message}", file=sys.stderr, flush=True)


def describe(envelope: dict[str, Any]) -> str:
    """One readable line: time, cursor, type, then what happened."""
    payload: dict[str, Any] = envelope["payload"]
    head = f"{envelope['occurredAt']} #{envelope['cursor']} {envelope['type']}"
    if envelope["type"].startswith("slo."):
        change = payload.get("status")
        if payload.get("previousStatus"):
            change = f"{payload['previousStatus']} -> {change}"
        remaining = payload.get("errorBudgetRemaining")
        budget = "" if remaining is None else f" (budget left {remaining:.0%})"
        return f"{head} {payload.get('service')}/{payload.get('policyName')}: {change}{budget}"
    return (
        f"{head} {payload.get('severity')} {payload.get('service')}: {payload.get('summary')}"
        f" [{payload.get('status')}] alert {payload.get('alertId')}"
    )


class CursorFile:
    """The cursor of the last event handled, written atomically (rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str | None:
        with contextlib.suppress(FileNotFoundError):
            return self.path.read_text(encoding="utf-8").strip() or None
        return None

    def write(self, cursor: str) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(cursor + "\n", encoding="utf-8")
        os.replace(partial, self.path)


class Notifier:
    """Follows the subscription, handles each event once, resumes after drops."""

    def __init__(self, arguments: argparse.Namespace, url: str, api_key: str) -> None:
        self.url = url
        self.api_key = api_key
        self.command: str | None = arguments.exec
        self.command_timeout: float = arguments.exec_timeout
        self.cursors = CursorFile(Path(arguments.cursor_file))
        wanted = {
            "services": arguments.service,
            "severities": arguments.severity,
            "types": arguments.type,
        }
        self.filter = {key: values for key, values in wanted.items() if values} or None
        self.last_cursor = self.cursors.read()
        self.busy = False
        self.stop_requested = False

    async def run(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while not self.stop_requested:
            try:
                await self._follow()
                return
            except Refused:
                raise
            except (TransportError, OSError, TimeoutError) as error:
                self._refuse_for_good(error)
                wait = backoff * random.uniform(0.5, 1.0)
                log(f"disconnected ({_reason(error)}); reconnecting in {wait:.1f}s")
                await asyncio.sleep(wait)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _transport(self) -> WebsocketsTransport:
        return WebsocketsTransport(
            url=self.url,
            init_payload={"Authorization": f"Bearer {self.api_key}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )

    async def _follow(self) -> None:
        async with Client(transport=self._transport(), execute_timeout=30) as session:
            if self.last_cursor is None:
                latest = await session.execute(GraphQLRequest(LATEST_CURSOR))
                self._remember(str(latest["latestEventCursor"]))
            after = self.last_cursor
            log(f"connected to {self.url}, following alertEvents after cursor {after}")
            request = GraphQLRequest(
                ALERT_EVENTS, variable_values={"filter": self.filter, "after": after}
            )
            async for result in session.subscribe(request):
                await self._handle(result["alertEvents"])
                if self.stop_requested:
                    return

    async def _handle(self, envelope: dict[str, Any]) -> None:
        """Print, run the command, then save the cursor: a stop waits for all three."""
        cursor = str(envelope["cursor"])
        if self.last_cursor is not None and int(cursor) <= int(self.last_cursor):
            return  # handled before the connection dropped
        self.busy = True
        try:
            line = describe(envelope)
            print(line, flush=True)
            if self.command:
                await self._run_command(envelope, line)
            self._remember(cursor)
        finally:
            self.busy = False

    def _remember(self, cursor: str) -> None:
        self.cursors.write(cursor)
        self.last_cursor = cursor

    async def _run_command(self, envelope: dict[str, Any], line: str) -> None:
        """The command, with the event as JSON on stdin and in OPSGRAPH_EVENT_* variables."""
        payload = envelope["payload"]
        environment = {
            **os.environ,
            "OPSGRAPH_EVENT_LINE": line,
            "OPSGRAPH_EVENT_TYPE": str(envelope["type"]),
            "OPSGRAPH_EVENT_CURSOR": str(envelope["cursor"]),
            "OPSGRAPH_EVENT_SERVICE": str(payload.get("service") or ""),
            "OPSGRAPH_EVENT_SEVERITY": str(payload.get("severity") or ""),
        }
        assert self.command is not None
        process = await asyncio.create_subprocess_shell(
            self.command, stdin=asyncio.subprocess.PIPE, env=environment
        )
        try:
            await asyncio.wait_for(
                process.communicate(json.dumps(envelope).encode()), self.command_timeout
            )
        except TimeoutError:
            process.kill()
            await process.wait()
            log(f"--exec took longer than {self.command_timeout}s for #{envelope['cursor']}")
            return
        if process.returncode != 0:
            log(f"--exec exited with {process.returncode} for #{envelope['cursor']}")

    def _refuse_for_good(self, error: BaseException) -> None:
        if isinstance(error, TransportQueryError):
            codes = {str((e or {}).get("extensions", {}).get("code")) for e in error.errors or []}
            if codes & REFUSED_ERROR_CODES:
                raise Refused(str(error)) from error
        code = _close_code(error)
        if code in REFUSED_CLOSE_CODES:
            raise Refused(f"closed with {code} ({REFUSED_CLOSE_CODES[code]})") from error

    def request_stop(self, task: "asyncio.Task[Any]") -> None:
        """Stop now when waiting for events; after the current one when handling one."""
        self.stop_requested = True
        if not self.busy:
            task.cancel()


def _close_code(error: BaseException | None) -> int | None:
    """The close code the server sent, from the error or what caused it."""
    while error is not None:
        if isinstance(error, ConnectionClosed) and error.rcvd is not None:
            return error.rcvd.code
        error = error.__cause__ or error.__context__
    return None


def _reason(error: BaseException) -> str:
    code = _close_code(error)
    return f"close code {code}" if code is not None else (str(error) or type(error).__name__)


async def notify_until_stopped(notifier: Notifier) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(signal_number, notifier.request_stop, task)
    with contextlib.suppress(asyncio.CancelledError):
        await notifier.run()


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="notify.py", description="Print one line per opsgraph alert or SLO event."
    )
    many: dict[str, Any] = {"action": "extend", "nargs": "+"}
    parser.add_argument("--service", metavar="S", help="only these services", **many)
    parser.add_argument(
        "--severity",
        metavar="SEVERITY",
        type=str.upper,
        choices=SEVERITIES,
        help="only alert events of these severities (SLO events have none)",
        **many,
    )
    parser.add_argument("--type", metavar="TYPE", help="only these types, e.g. alert.fired", **many)
    parser.add_argument(
        "--cursor-file",
        default=DEFAULT_CURSOR_FILE,
        metavar="PATH",
        help=f"where the last handled cursor is kept (default {DEFAULT_CURSOR_FILE})",
    )
    parser.add_argument("--exec", metavar="COMMAND", help="a shell command to run per event")
    parser.add_argument(
        "--exec-timeout", type=float, default=30.0, metavar="SECONDS", help="default 30"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    url = os.environ.get("OPSGRAPH_WS_URL", DEFAULT_URL)
    api_key = os.environ.get("OPSGRAPH_API_KEY") or os.environ.get("OPSGRAPH_ADMIN_KEY")
    if not api_key:
        log("set OPSGRAPH_API_KEY to an API key (e.g. the one printed by the first start)")
        return 2
    notifier = Notifier(arguments, url, api_key)
    try:
        asyncio.run(notify_until_stopped(notifier))
    except Refused as refusal:
        log(f"refused by {url}: {refusal}")
        return 1
    log(f"stopped; the next start resumes after cursor {notifier.last_cursor}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
