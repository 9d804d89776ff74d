"""the signals index of a service's metric includes the value (index-only roll-ups)

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = 'ix_signals_workspace_service_name_ts'
COLUMNS = ['workspace_id', 'service', 'name', 'ts']


def _rebuild(include: list[str]) -> None:
    # SQLite has no INCLUDE: its index stays as it is.
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index(INDEX, table_name='signals')
    op.create_index(INDEX, 'signals', COLUMNS, unique=False, postgresql_include=include)


def upgrade() -> None:
    _rebuild(['value'])


def downgrade() -> None:
    _rebuild([])
