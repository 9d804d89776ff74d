"""capacity policies, their hourly roll-ups, and capacity forecasts

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
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
        'capacity_policies',
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('meter_key', sa.String(length=200), nullable=False),
        sa.Column('service', sa.String(length=100), nullable=False),
        sa.Column('signal', sa.String(length=200), nullable=False),
        sa.Column('matchers', JSON, nullable=False),
        sa.Column('capacity', sa.Float(), nullable=False),
        sa.Column('warning_ratio', sa.Float(), nullable=False),
        sa.Column('horizon_days', sa.Integer(), nullable=False),
        sa.Column('rolled_up_to_hour', sa.BigInteger(), nullable=True),
        sa.Column('created_at', TIME, nullable=False),
        sa.Column('updated_at', TIME, nullable=False),
        _fk('capacity_policies', 'workspace_id', 'workspaces', 'CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_capacity_policies')),
        sa.UniqueConstraint(
            'workspace_id', 'meter_key', name=op.f('uq_capacity_policies_workspace_id')
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        'capacity_rollups',
        sa.Column('policy_id', ID, nullable=False),
        sa.Column('hour', sa.BigInteger(), nullable=False),
        sa.Column('total', sa.Float(), nullable=False),
        sa.Column('samples', sa.BigInteger(), nullable=False),
        _fk('capacity_rollups', 'policy_id', 'capacity_policies', 'CASCADE'),
        sa.PrimaryKeyConstraint('policy_id', 'hour', name=op.f('pk_capacity_rollups')),
    )
    op.create_table(
        'capacity_forecasts',
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('policy_id', ID, nullable=False),
        sa.Column('meter_key', sa.String(length=200), nullable=False),
        sa.Column('method', sa.String(length=100), nullable=False),
        sa.Column('current_value', sa.Float(), nullable=False),
        sa.Column('predicted_value', sa.Float(), nullable=False),
        sa.Column('lower', sa.Float(), nullable=False),
        sa.Column('upper', sa.Float(), nullable=False),
        sa.Column('time_to_warning', TIME, nullable=True),
        sa.Column('time_to_exhaustion', TIME, nullable=True),
        sa.Column('points', sa.BigInteger(), nullable=False),
        sa.Column('buckets', sa.Integer(), nullable=False),
        sa.Column('slope_per_day', sa.Float(), nullable=False),
        sa.Column('seasonality', JSON, nullable=False),
        sa.Column('level_shift_at', TIME, nullable=True),
        sa.Column('capacity', sa.Float(), nullable=False),
        sa.Column('warning_ratio', sa.Float(), nullable=False),
        sa.Column('horizon_days', sa.Integer(), nullable=False),
        sa.Column('created_at', TIME, nullable=False),
        _fk('capacity_forecasts', 'workspace_id', 'workspaces', 'CASCADE'),
        _fk('capacity_forecasts', 'policy_id', 'capacity_policies', 'CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_capacity_forecasts')),
        sqlite_autoincrement=True,
    )
    op.create_index(
        'ix_capacity_forecasts_workspace_meter_id',
        'capacity_forecasts',
        ['workspace_id', 'meter_key', 'id'],
    )
    op.create_index(
        'ix_capacity_forecasts_workspace_id_id', 'capacity_forecasts', ['workspace_id', 'id']
    )
    op.create_index('ix_capacity_forecasts_created_at', 'capacity_forecasts', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_capacity_forecasts_created_at', table_name='capacity_forecasts')
    op.drop_index('ix_capacity_forecasts_workspace_id_id', table_name='capacity_forecasts')
    op.drop_index('ix_capacity_forecasts_workspace_meter_id', table_name='capacity_forecasts')
    op.drop_table('capacity_forecasts')
    op.drop_table('capacity_rollups')
    op.drop_table('capacity_policies')
