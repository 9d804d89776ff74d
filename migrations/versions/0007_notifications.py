"""notification routes, deliveries and in-app notifications

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
PENDING = sa.text("status = 'PENDING'")


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ['workspace_id'], ['workspaces.id'],
        name=op.f(f'fk_{table}_workspace_id_workspaces'), ondelete='CASCADE',
    )


def _route_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ['route_id'], ['notification_routes.id'],
        name=op.f(f'fk_{table}_route_id_notification_routes'), ondelete='SET NULL',
    )


def _message_fk(table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ['message_id'], ['notification_messages.id'],
        name=op.f(f'fk_{table}_message_id_notification_messages'), ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        'notification_routes',
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('secret', sa.String(length=200), nullable=True),
        sa.Column('matchers', JSON, nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('disabled_reason', sa.String(length=500), nullable=True),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        _workspace_fk('notification_routes'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_routes')),
        sa.UniqueConstraint(
            'workspace_id', 'name', name=op.f('uq_notification_routes_workspace_id')
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        'notification_messages',
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('route_id', ID, nullable=True),
        sa.Column('person', sa.String(length=200), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=True),
        sa.Column('target', sa.String(length=2048), nullable=True),
        sa.Column('alert_id', ID, nullable=True),
        sa.Column('alert', JSON, nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('webhook_id', sa.String(length=64), nullable=False),
        sa.Column('source_event_seq', sa.BigInteger(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        _workspace_fk('notification_messages'),
        _route_fk('notification_messages'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_messages')),
        sa.UniqueConstraint(
            'route_id', 'source_event_seq', name=op.f('uq_notification_messages_route_id')
        ),
        sa.UniqueConstraint('webhook_id', name=op.f('uq_notification_messages_webhook_id')),
        sqlite_autoincrement=True,
    )
    op.create_index(
        'ix_notification_messages_workspace_alert', 'notification_messages',
        ['workspace_id', 'alert_id'], unique=False,
    )
    op.create_table(
        'notification_deliveries',
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('message_id', ID, nullable=False),
        sa.Column('route_id', ID, nullable=True),
        sa.Column('alert_id', ID, nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_by', sa.String(length=200), nullable=True),
        sa.Column('http_status', sa.Integer(), nullable=True),
        sa.Column('error', sa.String(length=1000), nullable=True),
        sa.Column('latency_ms', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        _workspace_fk('notification_deliveries'),
        _message_fk('notification_deliveries', 'CASCADE'),
        _route_fk('notification_deliveries'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_deliveries')),
        sa.UniqueConstraint(
            'message_id', 'attempt', name=op.f('uq_notification_deliveries_message_id')
        ),
    )
    op.create_index(
        'ix_notification_deliveries_pending_due', 'notification_deliveries', ['due_at'],
        unique=False, postgresql_where=PENDING, sqlite_where=PENDING,
    )
    op.create_index(
        'ix_notification_deliveries_workspace_route', 'notification_deliveries',
        ['workspace_id', 'route_id'], unique=False,
    )
    op.create_index(
        'ix_notification_deliveries_workspace_alert', 'notification_deliveries',
        ['workspace_id', 'alert_id'], unique=False,
    )
    op.create_table(
        'notifications',
        sa.Column('id', ID, nullable=False),
        sa.Column('workspace_id', ID, nullable=False),
        sa.Column('recipient', sa.String(length=200), nullable=False),
        sa.Column('message_id', ID, nullable=True),
        sa.Column('alert_id', ID, nullable=True),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        _workspace_fk('notifications'),
        _message_fk('notifications', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    )
    op.create_index(
        'ix_notifications_workspace_recipient', 'notifications',
        ['workspace_id', 'recipient', 'id'], unique=False,
    )
    checkpoints = op.create_table(
        'notification_checkpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('last_seq', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_checkpoints')),
    )
    # The dispatcher starts after the events already stored: history is not notified.
    assert checkpoints is not None
    op.execute(
        checkpoints.insert().from_select(
            ['id', 'last_seq', 'updated_at'],
            sa.select(
                sa.literal(1),
                sa.func.coalesce(sa.func.max(sa.column('seq')), 0),
                sa.func.current_timestamp(),
            ).select_from(sa.table('events')),
        )
    )


def downgrade() -> None:
    op.drop_table('notification_checkpoints')
    op.drop_index('ix_notifications_workspace_recipient', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index('ix_notification_deliveries_workspace_alert', table_name='notification_deliveries')
    op.drop_index('ix_notification_deliveries_workspace_route', table_name='notification_deliveries')
    op.drop_index('ix_notification_deliveries_pending_due', table_name='notification_deliveries')
    op.drop_table('notification_deliveries')
    op.drop_index('ix_notification_messages_workspace_alert', table_name='notification_messages')
    op.drop_table('notification_messages')
    op.drop_table('notification_routes')
