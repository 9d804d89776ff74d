"""slo policies, evaluations and roll-ups; inhibited and needs_postmortem alerts

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('slo_policies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('objective', sa.Float(), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('sli', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('on_exhausted', sa.String(length=16), nullable=False),
    sa.Column('budget_policy_state', sa.String(length=16), nullable=False),
    sa.Column('latest_evaluation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('latest_evaluated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('latest_status', sa.String(length=16), nullable=True),
    sa.Column('rolled_up_to_hour', sa.BigInteger(), nullable=True),
    sa.Column('rollups_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_slo_policies_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slo_policies')),
    sa.UniqueConstraint('workspace_id', 'service', 'name', name=op.f('uq_slo_policies_workspace_id'))
    )
    op.create_table('slo_evaluations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('policy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('objective', sa.Float(), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('good', sa.Float(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('sli', sa.Float(), nullable=True),
    sa.Column('budget_consumed', sa.Float(), nullable=True),
    sa.Column('budget_remaining', sa.Float(), nullable=True),
    sa.Column('burn_rates', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('firing_pairs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('look_back', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['slo_policies.id'], name=op.f('fk_slo_evaluations_policy_id_slo_policies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_slo_evaluations_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slo_evaluations'))
    )
    op.create_index('ix_slo_evaluations_evaluated_at', 'slo_evaluations', ['evaluated_at'], unique=False)
    op.create_index('ix_slo_evaluations_policy_id_evaluated_at', 'slo_evaluations', ['policy_id', 'evaluated_at'], unique=False)

    op.create_table('slo_rollups',
    sa.Column('policy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hour', sa.BigInteger(), nullable=False),
    sa.Column('good', sa.Float(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('samples', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['slo_policies.id'], name=op.f('fk_slo_rollups_policy_id_slo_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('policy_id', 'hour', name=op.f('pk_slo_rollups'))
    )

    # Existing alerts are neither inhibited nor flagged: the defaults fill them in.
    op.add_column('alerts', sa.Column('inhibited', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('alerts', sa.Column('needs_postmortem', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('alerts') as batch_op:
        batch_op.drop_column('needs_postmortem')
        batch_op.drop_column('inhibited')
    op.drop_table('slo_rollups')
    op.drop_table('slo_evaluations')
    op.drop_table('slo_policies')
