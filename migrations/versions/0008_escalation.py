"""escalation policies, per-alert escalation states, executions and handover marks

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0007'
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
        'escalation_policies',
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('matchers', JSON, nullable=False),
        sa.Column('steps', JSON, nullable=False),
        sa.Column('repeat', sa.Integer(), nullable=False),
        sa.Column('refire_threshold', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', TIME, nullable=False),
        sa.Column('updated_at', TIME, nullable=False),
        _fk('escalation_policies', 'workspace_id', 'workspaces', 'CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_policies')),
        sa.UniqueConstraint(
            'workspace_id', 'name', name=op.f('uq_escalation_policies_workspace_id')
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        'escalation_states',
        sa.Column('alert_id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('policy_id', ID, nullable=False),
        sa.Column('next_step', sa.Integer(), nullable=False),
        sa.Column('cycle', sa.Integer(), nullable=False),
        sa.Column('executed', sa.Integer(), nullable=False),
        sa.Column('anchor_at', TIME, nullable=False),
        sa.Column('next_due_at', TIME, nullable=True),
        sa.Column('refire_baseline', sa.Integer(), nullable=False),
        sa.Column('last_executed_at', TIME, nullable=True),
        sa.Column('created_at', TIME, nullable=False),
        sa.Column('updated_at', TIME, nullable=False),
        _fk('escalation_states', 'alert_id', 'alerts', 'CASCADE'),
        _fk('escalation_states', 'workspace_id', 'workspaces', 'CASCADE'),
        _fk('escalation_states', 'policy_id', 'escalation_policies', 'CASCADE'),
        sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_escalation_states')),
    )
    op.create_index('ix_escalation_states_next_due_at', 'escalation_states', ['next_due_at'])
    op.create_index('ix_escalation_states_policy_id', 'escalation_states', ['policy_id'])
    op.create_index('ix_escalation_states_workspace_id', 'escalation_states', ['workspace_id'])
    op.create_table(
        'escalation_executions',
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('alert_id', ID, nullable=False),
        sa.Column('policy_id', ID, nullable=True),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('cycle', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('target', sa.String(length=300), nullable=False),
        sa.Column('recipients', JSON, nullable=False),
        sa.Column('undeliverable', sa.Boolean(), nullable=False),
        sa.Column('executed_at', TIME, nullable=False),
        _fk('escalation_executions', 'workspace_id', 'workspaces', 'CASCADE'),
        _fk('escalation_executions', 'alert_id', 'alerts', 'CASCADE'),
        _fk('escalation_executions', 'policy_id', 'escalation_policies', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_executions')),
    )
    op.create_index(
        'ix_escalation_executions_workspace_alert',
        'escalation_executions',
        ['workspace_id', 'alert_id'],
    )
    op.create_table(
        'escalation_handover_marks',
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('checked_until', TIME, nullable=False),
        _fk('escalation_handover_marks', 'workspace_id', 'workspaces', 'CASCADE'),
        sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_escalation_handover_marks')),
    )


def downgrade() -> None:
    op.drop_table('escalation_handover_marks')
    op.drop_index('ix_escalation_executions_workspace_alert', table_name='escalation_executions')
    op.drop_table('escalation_executions')
    op.drop_index('ix_escalation_states_workspace_id', table_name='escalation_states')
    op.drop_index('ix_escalation_states_policy_id', table_name='escalation_states')
    op.drop_index('ix_escalation_states_next_due_at', table_name='escalation_states')
    op.drop_table('escalation_states')
    op.drop_table('escalation_policies')
