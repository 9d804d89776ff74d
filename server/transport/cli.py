"""``opsgraph`` command: migrate, serve, export-schema."""

import argparse
import asyncio
import gc
import sys

import uvicorn
from sqlalchemy.exc import IntegrityError

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


def serve(settings: Settings) -> None:
    from server.transport.app import create_app

    configure_logging(settings.log_level)
    asyncio.run(migrate(settings))
    secret = asyncio.run(bootstrap(settings))
    if secret is not None:
        print(f"OPSGRAPH_ADMIN_KEY={secret}", flush=True)
    app = create_app(settings)
    tune_garbage_collector()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=False,
        # Envelopes are small; per-message deflate cost a fifth of the fan-out CPU
        # and ~40 KB of zlib state per connection.
        ws_per_message_deflate=False,
    )


def export_schema() -> None:
    from strawberry.printer import print_schema

    from schema.root import build_schema

    sys.stdout.write(print_schema(build_schema(Settings())) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="opsgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="migrate, create the first admin key if needed, serve")
    commands.add_parser("migrate", help="apply the database migrations")
    commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    arguments = parser.parse_args(argv)
    settings = get_settings()
    if arguments.command == "serve":
        serve(settings)
    elif arguments.command == "migrate":
        asyncio.run(migrate(settings))
    else:
        export_schema()


if __name__ == "__main__":
    main()
