"""alert annotations, generator URLs and ends-at

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
TIME = sa.DateTime(timezone=True)
OPEN_WITH_END = sa.text("status IN ('FIRING', 'ACKNOWLEDGED') AND ends_at IS NOT NULL")


def upgrade() -> None:
    # Existing alerts have no annotations, no generator URL and no end: they stay
    # open until someone resolves them, as before.
    op.add_column(
        'alerts', sa.Column('annotations', JSON, server_default=sa.text("'{}'"), nullable=False)
    )
    op.add_column('alerts', sa.Column('generator_url', sa.Text(), nullable=True))
    op.add_column('alerts', sa.Column('ends_at', TIME, nullable=True))
    op.create_index(
        op.f('ix_alerts_open_ends_at'), 'alerts', ['ends_at'], unique=False,
        postgresql_where=OPEN_WITH_END, sqlite_where=OPEN_WITH_END,
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_alerts_open_ends_at'), table_name='alerts')
    with op.batch_alter_table('alerts') as batch_op:
        batch_op.drop_column('ends_at')
        batch_op.drop_column('generator_url')
        batch_op.drop_column('annotations')
