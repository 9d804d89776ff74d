"""The exported SDL and the Alembic revisions both agree with the code."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from strawberry.printer import print_schema

from schema.root import build_schema
from server.core.db import Database
from server.core.migrations import ROOT, alembic_config, upgrade
from server.core.settings import Settings
from server.models import Base

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


async def test_a_table_rebuild_on_sqlite_keeps_the_rows_that_refer_to_it(
    tmp_path: Path,
) -> None:
    """Revision 0005 rebuilds tables on SQLite; the rows of other tables that point
    at them (with ON DELETE CASCADE) must survive it."""
    path = tmp_path / "upgrade.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(db.engine, "0004")
        async with db.engine.begin() as connection:
            for statement in (
                "INSERT INTO workspaces (id, name, created_at) VALUES (1, 'w', '2026-01-01')",
                "INSERT INTO aggregation_rules (id, workspace_id, name, matchers, group_by,"
                " window_seconds, max_notifications, created_at, updated_at)"
                " VALUES (1, 1, 'r', '[]', '[]', 60, 1, '2026-01-01', '2026-01-01')",
                "INSERT INTO alert_groups (workspace_id, rule_id, group_key, group_labels,"
                " window_started_at, window_alerts, window_notified, window_suppressed,"
                " total_alerts, total_suppressed, last_alert_at)"
                " VALUES (1, 1, 'k', '{}', '2026-01-01', 1, 1, 0, 1, 0, '2026-01-01')",
            ):
                await connection.execute(text(statement))
        await upgrade(db.engine)
        async with db.engine.connect() as connection:
            groups = await connection.scalar(text("SELECT count(*) FROM alert_groups"))
            foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
    finally:
        await db.dispose()
    assert groups == 1
    assert foreign_keys == 1  # switched back on
