"""Alembic environment: runs on a connection handed over by ``server.core.migrations``."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from server.models import Base

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    from server.core.migrations import run_with_new_engine

    asyncio.run(run_with_new_engine(config, run_on))


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run them against a database")
run_online()
