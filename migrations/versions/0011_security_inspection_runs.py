"""security inspection runs and their items

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TIME = sa.DateTime(timezone=True)


def _fk(table: str, column: str, referred: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f'{referred}.id'],
        name=op.f(f'fk_{table}_{column}_{referred}'), ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        'security_inspection_runs',
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('task_id', ID, nullable=True),
        sa.Column('started_at', TIME, nullable=False),
        sa.Column('finished_at', TIME, nullable=False),
        sa.Column('pass_count', sa.Integer(), nullable=False),
        sa.Column('warn_count', sa.Integer(), nullable=False),
        sa.Column('fail_count', sa.Integer(), nullable=False),
        _fk('security_inspection_runs', 'workspace_id', 'workspaces', 'CASCADE'),
        _fk('security_inspection_runs', 'task_id', 'tasks', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_security_inspection_runs')),
        sa.UniqueConstraint('task_id', name=op.f('uq_security_inspection_runs_task_id')),
    )
    op.create_index(
        'ix_security_inspection_runs_workspace_id_id',
        'security_inspection_runs',
        ['workspace_id', 'id'],
    )
    op.create_table(
        'security_inspection_items',
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('run_id', ID, nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('check', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('remediation', sa.Text(), nullable=False),
        _fk('security_inspection_items', 'workspace_id', 'workspaces', 'CASCADE'),
        _fk('security_inspection_items', 'run_id', 'security_inspection_runs', 'CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_security_inspection_items')),
    )
    op.create_index(
        'ix_security_inspection_items_run_id',
        'security_inspection_items',
        ['run_id', 'position'],
    )


def downgrade() -> None:
    op.drop_index('ix_security_inspection_items_run_id', table_name='security_inspection_items')
    op.drop_table('security_inspection_items')
    op.drop_index(
        'ix_security_inspection_runs_workspace_id_id', table_name='security_inspection_runs'
    )
    op.drop_table('security_inspection_runs')
