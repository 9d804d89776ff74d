"""The exported SDL and the Alembic revisions both agree with the code."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from strawberry.printer import print_schema

from schema.root import build_schema
from server.db import Database
from server.migrations import ROOT, alembic_config
from server.models import Base
from server.settings import Settings

SCHEMA_FILE = ROOT / "schema.graphql"


def test_schema_file_matches_the_code() -> None:
    printed = print_schema(build_schema(Settings())) + "\n"
    assert Path(SCHEMA_FILE).read_text() == printed, "run `make schema` to refresh schema.graphql"


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(settings: Settings, root_key: str) -> None:
    db = Database(settings.database_url)
    try:
        async with db.engine.connect() as connection:
            differences = await connection.run_sync(_differences)
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await db.dispose()
    assert differences == []
    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    assert revision == head
