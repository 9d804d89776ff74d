"""ids of deleted silence rules, aggregation rules and SLO policies are not reused

SQLite gives a new row the highest id + 1, so deleting the newest row would hand its
id to the next one; AUTOINCREMENT prevents that. PostgreSQL sequences never reuse
ids, so there is nothing to do there. (The rebuild runs with foreign keys off: see
server.core.migrations.upgrade.)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('silence_rules', 'aggregation_rules', 'slo_policies')


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate='always', table_kwargs={'sqlite_autoincrement': autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
