"""signal series summaries for the overview, and indexes for the dashboard's lists

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
OPEN = sa.text("status IN ('FIRING', 'ACKNOWLEDGED')")

# The samples stored so far, summarised as ingestion now keeps them.
BACKFILL = """
INSERT INTO signal_series_summaries
    (workspace_id, service, name, sample_count, first_seen_at, last_seen_at)
SELECT workspace_id, service, name, count(*), min(ts), max(ts)
FROM signals
GROUP BY workspace_id, service, name
"""


# Indexes the dashboard's lists read, newest first, narrowed by one filter
# (tests/test_list_indexes.py): (table, name, columns).
LIST_INDEXES = [
    ("signals", "ix_signals_workspace_service_ts", ["workspace_id", "service", "ts"]),
    ("alerts", "ix_alerts_workspace_status_id", ["workspace_id", "status", "id"]),
    ("alerts", "ix_alerts_workspace_service_id", ["workspace_id", "service", "id"]),
    ("alerts", "ix_alerts_workspace_severity_id", ["workspace_id", "severity", "id"]),
    (
        "audit_entries",
        "ix_audit_entries_workspace_actor_key_id_id",
        ["workspace_id", "actor_key_id", "id"],
    ),
    (
        "audit_entries",
        "ix_audit_entries_workspace_actor_name_id",
        ["workspace_id", "actor_name", "id"],
    ),
    (
        "audit_entries",
        "ix_audit_entries_workspace_operation_id",
        ["workspace_id", "operation", "id"],
    ),
    ("audit_entries", "ix_audit_entries_workspace_outcome_id", ["workspace_id", "outcome", "id"]),
]
# The alerts indexes they replace: the new ones lead with the same columns.
REPLACED = [
    ("alerts", "ix_alerts_workspace_status", ["workspace_id", "status"]),
    ("alerts", "ix_alerts_workspace_service", ["workspace_id", "service"]),
]


def upgrade() -> None:
    op.create_table(
        "signal_series_summaries",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sample_count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_signal_series_summaries_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "service", "name", name=op.f("pk_signal_series_summaries")
        ),
    )
    op.execute(BACKFILL)
    for table, name, columns in LIST_INDEXES:
        op.create_index(name, table, columns, unique=False)
    for table, name, _ in REPLACED:
        op.drop_index(name, table_name=table)
    op.create_index(
        "ix_alerts_open_workspace_id",
        "alerts",
        ["workspace_id", "id"],
        unique=False,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_open_workspace_id", table_name="alerts")
    for table, name, columns in REPLACED:
        op.create_index(name, table, columns, unique=False)
    for table, name, _ in reversed(LIST_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("signal_series_summaries")
