"""on-call schedules, shifts, rotations and overrides

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ['workspace_id'], ['workspaces.id'],
        name=op.f(f'fk_{table}_workspace_id_workspaces'), ondelete='CASCADE',
    )


def _schedule_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ['schedule_id'], ['oncall_schedules.id'],
        name=op.f(f'fk_{table}_schedule_id_oncall_schedules'), ondelete='CASCADE',
    )


def _person_period(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('schedule_id', ID, nullable=False),
        sa.Column('person', sa.String(length=200), nullable=False),
        sa.Column('contact', sa.String(length=320), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        _workspace_fk(table),
        _schedule_fk(table),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')),
    ]


def upgrade() -> None:
    op.create_table('oncall_schedules',
    sa.Column('id', ID, nullable=False),
    sa.Column('workspace_id', ID, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('fallback_contact', sa.String(length=320), nullable=True),
    sa.Column('feed_token_sha256', sa.String(length=64), nullable=True),
    sa.Column('feed_token_rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    _workspace_fk('oncall_schedules'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oncall_schedules')),
    sa.UniqueConstraint('feed_token_sha256', name=op.f('uq_oncall_schedules_feed_token_sha256')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_oncall_schedules_workspace_id')),
    )
    op.create_table('oncall_shifts',
    *_person_period('oncall_shifts'),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_oncall_shifts_schedule_ends_at', 'oncall_shifts', ['schedule_id', 'ends_at'], unique=False)
    op.create_index('ix_oncall_shifts_workspace_ends_at', 'oncall_shifts', ['workspace_id', 'ends_at'], unique=False)
    op.create_table('oncall_overrides',
    *_person_period('oncall_overrides'),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_oncall_overrides_schedule_ends_at', 'oncall_overrides', ['schedule_id', 'ends_at'], unique=False)
    op.create_table('oncall_rotations',
    sa.Column('id', ID, nullable=False),
    sa.Column('workspace_id', ID, nullable=False),
    sa.Column('schedule_id', ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('participants', JSON, nullable=False),
    sa.Column('shift_length_hours', sa.Integer(), nullable=False),
    sa.Column('handoff_minute', sa.Integer(), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    _workspace_fk('oncall_rotations'),
    _schedule_fk('oncall_rotations'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oncall_rotations')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_oncall_rotations_schedule_id', 'oncall_rotations', ['schedule_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_oncall_rotations_schedule_id', table_name='oncall_rotations')
    op.drop_table('oncall_rotations')
    op.drop_index('ix_oncall_overrides_schedule_ends_at', table_name='oncall_overrides')
    op.drop_table('oncall_overrides')
    op.drop_index('ix_oncall_shifts_workspace_ends_at', table_name='oncall_shifts')
    op.drop_index('ix_oncall_shifts_schedule_ends_at', table_name='oncall_shifts')
    op.drop_table('oncall_shifts')
    op.drop_table('oncall_schedules')
