"""The first transaction of a sweep: the escalations that stop and those that
begin, and a handover mark for each workspace with escalations under way."""

from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import case, delete, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import escalation as alerts
from server.escalation import schedule
from server.escalation.models import EscalationHandoverMark, EscalationPolicy, EscalationState
from server.escalation.policies import plan, policy_matchers


async def dialect_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which has ON CONFLICT."""
    dialect = (await session.connection()).dialect.name
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def forget_stopped(session: AsyncSession) -> int:
    firing = alerts.firing_alerts()
    stopped = (
        select(EscalationState.alert_id)
        .where(~exists().where(firing.c.id == EscalationState.alert_id))
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(EscalationState)
        .where(EscalationState.alert_id.in_(stopped.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def adopt(session: AsyncSession, *, now: datetime) -> int:
    """Begin the escalation of each firing alert a policy governs (the lowest id
    of those that match) and that has none yet."""
    policies = (
        await session.scalars(
            select(EscalationPolicy).order_by(EscalationPolicy.workspace_id, EscalationPolicy.id)
        )
    ).all()
    firing = alerts.firing_alerts()
    rows: list[dict[str, Any]] = []
    for workspace_id, grouped in groupby(policies, key=lambda policy: policy.workspace_id):
        candidates = list(grouped)
        governing = case(
            *((alerts.matches(firing, policy_matchers(p)), p.id) for p in candidates),
            else_=None,
        ).label("policy_id")
        found = await session.execute(
            select(firing.c.id, firing.c.first_fired_at, governing).where(
                firing.c.workspace_id == workspace_id,
                ~exists().where(EscalationState.alert_id == firing.c.id),
            )
        )
        plans = {policy.id: plan(policy) for policy in candidates}
        rows += [
            _new_state(workspace_id, alert_id, policy_id, plans[policy_id], first_fired_at, now)
            for alert_id, first_fired_at, policy_id in found.all()
            if policy_id is not None
        ]
    if rows:
        await session.execute(
            (await dialect_insert(session))(EscalationState).on_conflict_do_nothing(
                index_elements=["alert_id"]
            ),
            rows,
        )
    return len(rows)


def _new_state(
    workspace_id: int,
    alert_id: int,
    policy_id: int,
    policy_plan: schedule.Plan,
    first_fired_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    progress = schedule.start(first_fired_at)
    return {
        "alert_id": alert_id,
        "workspace_id": workspace_id,
        "policy_id": policy_id,
        "next_step": progress.next_step,
        "cycle": progress.cycle,
        "executed": progress.executed,
        "anchor_at": progress.anchor_at,
        "next_due_at": schedule.due_at(policy_plan, progress),
        "refire_baseline": 1,
        "last_executed_at": None,
        "created_at": now,
        "updated_at": now,
    }


async def keep_marks(session: AsyncSession, *, now: datetime) -> None:
    """A handover mark for each workspace with escalations under way, none for the rest:
    a workspace's first mark starts at ``now``, as no step ran before it."""
    under_way = select(EscalationState.workspace_id).distinct()
    await session.execute(
        delete(EscalationHandoverMark)
        .where(EscalationHandoverMark.workspace_id.not_in(under_way))
        .execution_options(synchronize_session=False)
    )
    missing = (
        await session.scalars(
            under_way.where(
                ~exists().where(EscalationHandoverMark.workspace_id == EscalationState.workspace_id)
            )
        )
    ).all()
    if missing:
        await session.execute(
            (await dialect_insert(session))(EscalationHandoverMark).on_conflict_do_nothing(
                index_elements=["workspace_id"]
            ),
            [{"workspace_id": workspace_id, "checked_until": now} for workspace_id in missing],
        )
