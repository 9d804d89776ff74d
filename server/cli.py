"""``opsgraph`` command: migrate, serve, export-schema."""

import argparse
import asyncio
import sys

import uvicorn
from sqlalchemy.exc import IntegrityError

from server.access import service as access_service
from server.clock import SystemClock
from server.db import Database
from server.logging import configure_logging
from server.migrations import upgrade
from server.settings import Settings, get_settings


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


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    asyncio.run(migrate(settings))
    secret = asyncio.run(bootstrap(settings))
    if secret is not None:
        print(f"OPSGRAPH_ADMIN_KEY={secret}", flush=True)
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=False,
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
