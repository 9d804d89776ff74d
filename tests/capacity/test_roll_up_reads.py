"""What the roll-ups read on PostgreSQL: a meter's samples from its index alone.

Alembic's comparison of models and migrations does not look at an index's
included columns; this test does.
"""

import pytest
from sqlalchemy import text

from server.core.services import Services


@pytest.mark.postgresql_only
async def test_the_meter_index_includes_the_value_so_roll_ups_read_it_alone(
    services: Services,
) -> None:
    async with services.db.reader() as session:
        definition = await session.scalar(
            text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND indexname = 'ix_signals_workspace_service_name_ts'"
            )
        )
    assert definition is not None
    assert definition.endswith("(workspace_id, service, name, ts) INCLUDE (value)"), definition
