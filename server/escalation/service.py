"""The escalation domain's front door: policies, executions and the sweep.

The schema calls only this module; ``policies``, ``sweep`` and ``delivery``
hold the rules and the SQL, ``schedule`` the pure timing. Every lookup is scoped
to the caller's workspace. Services flush and never commit.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.escalation import EscalationReason
from server.core.db import find_in_workspace
from server.core.pagination import Listing
from server.escalation import policies
from server.escalation.models import EscalationExecution, EscalationPolicy
from server.escalation.policies import (
    DEFAULT_REFIRE_THRESHOLD,
    PolicyDraft,
    StepDraft,
    policy_matchers,
)
from server.escalation.records import SweepReport
from server.escalation.sweep import sweep

__all__ = [
    "DEFAULT_REFIRE_THRESHOLD",
    "EscalationExecution",
    "EscalationPolicy",
    "EscalationReason",
    "PolicyDraft",
    "StepDraft",
    "SweepReport",
    "create_policy",
    "delete_policy",
    "executions_of_alerts",
    "find_policy",
    "list_policies",
    "policy_matchers",
    "sweep",
    "update_policy",
]


def list_policies(*, workspace_id: int) -> Listing[EscalationPolicy]:
    return Listing(policies.policies_query(workspace_id=workspace_id), (EscalationPolicy.id,))


async def find_policy(
    session: AsyncSession, *, workspace_id: int, policy_id: int
) -> EscalationPolicy | None:
    return await find_in_workspace(session, EscalationPolicy, policy_id, workspace_id=workspace_id)


async def create_policy(
    session: AsyncSession, *, workspace_id: int, draft: PolicyDraft, author: str, now: datetime
) -> EscalationPolicy:
    return await policies.create(
        session, workspace_id=workspace_id, draft=draft, author=author, now=now
    )


async def update_policy(
    session: AsyncSession, *, workspace_id: int, policy_id: int, draft: PolicyDraft, now: datetime
) -> EscalationPolicy:
    return await policies.update_policy(
        session, workspace_id=workspace_id, policy_id=policy_id, draft=draft, now=now
    )


async def delete_policy(
    session: AsyncSession, *, workspace_id: int, policy_id: int
) -> EscalationPolicy:
    return await policies.delete_policy(session, workspace_id=workspace_id, policy_id=policy_id)


async def executions_of_alerts(
    session: AsyncSession, *, workspace_id: int, alert_ids: Sequence[int]
) -> list[list[EscalationExecution]]:
    """The escalation executions of each alert, oldest first, in the order of
    ``alert_ids``; an alert of another workspace has none."""
    rows = await session.scalars(
        select(EscalationExecution)
        .where(
            EscalationExecution.workspace_id == workspace_id,
            EscalationExecution.alert_id.in_(sorted(set(alert_ids))),
        )
        .order_by(EscalationExecution.executed_at, EscalationExecution.id)
    )
    by_alert: dict[int, list[EscalationExecution]] = {alert_id: [] for alert_id in alert_ids}
    for row in rows.all():
        by_alert[row.alert_id].append(row)
    return [by_alert[alert_id] for alert_id in alert_ids]
