"""``opsgraph`` command: migrate, serve, demo, export-schema."""

import argparse
import asyncio
import contextlib
import gc
import socket
import sys

import uvicorn
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError
from uvicorn.config import STARTUP_FAILURE

from server.access import service as access_service
from server.core.clock import SystemClock
from server.core.db import Database
from server.core.logging import configure_logging
from server.core.migrations import upgrade
from server.core.settings import Settings, get_settings


async def migrate(settings: Settings) -> None:
    if settings.is_sqlite:
        _make_sqlite_directory(settings.database_url)
    db = Database(settings.database_url)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()


async def bootstrap(settings: Settings) -> str | None:
    """Create the first admin key on an empty database; return its secret once."""
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            issued = await access_service.bootstrap_admin_key(session, clock=SystemClock())
    except IntegrityError:  # another replica bootstrapped at the same moment
        return None
    finally:
        await db.dispose()
    return issued.secret if issued else None


def _make_sqlite_directory(url: str) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def tune_garbage_collector() -> None:
    """Keep the collector's full passes short and rare in a long-lived server.

    What exists now (modules, the schema, SQLAlchemy's mappers: ~150,000 objects)
    lives as long as the process; frozen, full passes no longer walk it (one took
    ~100 ms, stalling every request in flight). A higher first threshold spares
    the young passes over the ~100,000 objects a 10,000-signal batch keeps alive
    (GC was 15-20 % of the server time of such an ingestSignals).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


class OpsGraphServer(uvicorn.Server):
    """uvicorn's server, which creates the first admin key once it can answer.

    The key is created and shown only after the port is bound and the application
    has started, so a client that starts on the printed line is never refused, and
    a server that cannot start does not create a key nobody will ever see.
    """

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self.settings = settings

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)  # exits when it cannot bind or start
        secret = await bootstrap(self.settings)
        if secret is not None:
            sys.stdout.write(admin_key_notice(secret, self.settings))
            sys.stdout.flush()


def admin_key_notice(secret: str, settings: Settings) -> str:
    """The first admin key, set apart from the JSON logs: one line starts with
    ``OPSGRAPH_ADMIN_KEY=``, ready to paste into a shell, and no other line names it."""
    rule = "=" * 78
    return "\n".join(
        [
            "",
            "",
            rule,
            f" opsgraph is serving at http://{settings.host}:{settings.port}/graphql",
            ' This first start created the "default" workspace and its admin key.',
            " The key is shown only this once (only its digest is stored): copy the",
            " next line and paste it into your shell (prefix it with `export` for",
            " scripts), then send the key as `Authorization: Bearer <key>`.",
            "",
            f"OPSGRAPH_ADMIN_KEY={secret}",
            "",
            rule,
            "",
            "",
        ]
    )


def _migrated_app(settings: Settings) -> FastAPI:
    from server.transport.app import create_app

    configure_logging(settings.log_level)
    asyncio.run(migrate(settings))
    app = create_app(settings)
    tune_garbage_collector()
    return app


def _server_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=False,
        # Envelopes are small; per-message deflate cost a fifth of the fan-out CPU
        # and ~40 KB of zlib state per connection.
        ws_per_message_deflate=False,
    )


def serve(settings: Settings) -> None:
    app = _migrated_app(settings)
    _run(OpsGraphServer(_server_config(app, settings), settings))


def demo(settings: Settings) -> None:
    from server.transport.demo_server import DemoServer

    app = _migrated_app(settings)
    _run(DemoServer(_server_config(app, settings), settings, app.state.services))


def _run(server: uvicorn.Server) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def export_schema() -> None:
    from strawberry.printer import print_schema

    from schema.root import build_schema

    sys.stdout.write(print_schema(build_schema(Settings())) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="opsgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="migrate, create the first admin key if needed, serve")
    commands.add_parser(
        "demo", help="migrate, seed a demo workspace, serve it and keep its data moving"
    )
    commands.add_parser("migrate", help="apply the database migrations")
    commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    arguments = parser.parse_args(argv)
    settings = get_settings()
    if arguments.command == "serve":
        serve(settings)
    elif arguments.command == "demo":
        demo(settings)
    elif arguments.command == "migrate":
        asyncio.run(migrate(settings))
    else:
        export_schema()


if __name__ == "__main__":
    main()
