"""What a sweep writes of each step it runs: executions, the alerts' escalation
events, and its report."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import escalation as alerts
from server.core import bulk
from server.escalation.delivery import Reached
from server.escalation.models import EscalationExecution, EscalationState


@dataclass
class SweepReport:
    adopted: int = 0
    forgotten: int = 0
    #: Executions by reason.
    executions: Counter[str] = field(default_factory=Counter)


def execution_row(
    state: EscalationState,
    policy_id: int,
    reason: alerts.EscalationReason,
    step: int,
    cycle: int,
    target: str,
    reached: Reached,
    now: datetime,
) -> dict[str, Any]:
    return {
        "workspace_id": state.workspace_id,
        "alert_id": state.alert_id,
        "policy_id": policy_id,
        "step": step,
        "cycle": cycle,
        "reason": reason.value,
        "target": target,
        "recipients": reached.recipients,
        "undeliverable": reached.undeliverable,
        "executed_at": now,
    }


async def record(
    session: AsyncSession,
    executions: list[dict[str, Any]],
    escalations: list[alerts.Escalation],
    *,
    now: datetime,
    report: SweepReport,
) -> None:
    if executions:
        # One statement for a batch of any size.
        await bulk.insert_rows(session, EscalationExecution, executions)
        report.executions.update(execution["reason"] for execution in executions)
    await alerts.record_escalations(session, escalations=escalations, now=now)
    await session.flush()
