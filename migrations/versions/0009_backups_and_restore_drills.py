"""backup runs and restore drills

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
TIME = sa.DateTime(timezone=True)


def _fk(table: str, column: str, referred: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f'{referred}.id'],
        name=op.f(f'fk_{table}_{column}_{referred}'), ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        'backup_runs',
        sa.Column('id', ID, nullable=False),
        sa.Column('task_id', ID, nullable=True),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('database_kind', sa.String(length=16), nullable=False),
        sa.Column('file_name', sa.String(length=300), nullable=True),
        sa.Column('size_bytes', sa.BigInteger(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('alembic_revision', sa.String(length=64), nullable=True),
        sa.Column('row_counts', JSON, nullable=True),
        sa.Column('tool', sa.String(length=200), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('duration_seconds', sa.Float(), nullable=True),
        sa.Column('created_at', TIME, nullable=False),
        sa.Column('finished_at', TIME, nullable=True),
        sa.Column('expired_at', TIME, nullable=True),
        _fk('backup_runs', 'task_id', 'tasks', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_backup_runs')),
        sqlite_autoincrement=True,
    )
    op.create_index(
        'ix_backup_runs_status_finished_at', 'backup_runs', ['status', 'finished_at']
    )
    op.create_table(
        'restore_drills',
        sa.Column('id', ID, nullable=False),
        sa.Column('backup_run_id', ID, nullable=False),
        sa.Column('task_id', ID, nullable=True),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('checks', JSON, nullable=False),
        sa.Column('scratch_name', sa.String(length=300), nullable=True),
        sa.Column('scratch_dropped', sa.Boolean(), nullable=False),
        sa.Column('report', sa.Text(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('duration_seconds', sa.Float(), nullable=True),
        sa.Column('created_at', TIME, nullable=False),
        sa.Column('finished_at', TIME, nullable=True),
        _fk('restore_drills', 'backup_run_id', 'backup_runs', 'CASCADE'),
        _fk('restore_drills', 'task_id', 'tasks', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_restore_drills')),
        sqlite_autoincrement=True,
    )
    op.create_index(
        'ix_restore_drills_status_finished_at', 'restore_drills', ['status', 'finished_at']
    )
    op.create_index('ix_restore_drills_backup_run_id', 'restore_drills', ['backup_run_id'])


def downgrade() -> None:
    op.drop_index('ix_restore_drills_backup_run_id', table_name='restore_drills')
    op.drop_index('ix_restore_drills_status_finished_at', table_name='restore_drills')
    op.drop_table('restore_drills')
    op.drop_index('ix_backup_runs_status_finished_at', table_name='backup_runs')
    op.drop_table('backup_runs')
