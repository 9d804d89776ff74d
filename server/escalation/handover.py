"""Shift handovers: the incoming people hear of the open alerts whose
escalation had reached their schedule (SHIFT_HANDOVER)."""

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import escalation as alerts
from server.escalation import schedule
from server.escalation.delivery import Courier, describe
from server.escalation.models import EscalationHandoverMark, EscalationPolicy, EscalationState
from server.escalation.policies import plan, progress_of
from server.escalation.records import SweepReport, execution_row, record
from server.oncall import targets as oncall


async def hand_over(session: AsyncSession, *, now: datetime, report: SweepReport) -> None:
    marks = (
        await session.scalars(
            select(EscalationHandoverMark)
            .where(EscalationHandoverMark.checked_until < now)
            .order_by(EscalationHandoverMark.workspace_id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not marks:
        return
    reached = set(
        (
            await session.scalars(
                select(EscalationState.workspace_id).where(EscalationState.executed > 0).distinct()
            )
        ).all()
    )
    courier = Courier(session, now)
    for mark in marks:
        if mark.workspace_id not in reached:
            continue
        found = await oncall.handovers(
            session, workspace_id=mark.workspace_id, after=mark.checked_until, until=now
        )
        if found:
            await _escalate_handovers(session, courier, mark.workspace_id, found, now, report)
    await session.execute(
        update(EscalationHandoverMark)
        .where(EscalationHandoverMark.workspace_id.in_([mark.workspace_id for mark in marks]))
        .values(checked_until=now)
        .execution_options(synchronize_session=False)
    )


async def _escalate_handovers(
    session: AsyncSession,
    courier: Courier,
    workspace_id: int,
    found: list[oncall.Handover],
    now: datetime,
    report: SweepReport,
) -> None:
    """Notify the incoming people of the open alerts whose escalation reached their
    schedule before the handover (waiting for a batch that holds one of them)."""
    firing = alerts.firing_alerts()
    rows = await session.execute(
        select(
            EscalationState, EscalationPolicy, firing.c.occurrence_count, firing.c.first_fired_at
        )
        .join(firing, firing.c.id == EscalationState.alert_id)
        .join(EscalationPolicy, EscalationPolicy.id == EscalationState.policy_id)
        .where(
            EscalationState.workspace_id == workspace_id,
            EscalationState.executed > 0,
            ~firing.c.quiet,
        )
        .order_by(EscalationState.alert_id)
        .with_for_update(of=EscalationState)
    )
    due: list[tuple[EscalationState, EscalationPolicy, oncall.Handover, int]] = []
    for state, policy, occurrences, first_fired_at in rows.all():
        for handover in found:
            step = schedule.handover_step(plan(policy), progress_of(state), handover.schedule)
            if step is None or first_fired_at >= handover.at or state.anchor_at >= handover.at:
                continue
            due.append((state, policy, handover, step))
            state.refire_baseline = occurrences
            state.last_executed_at = state.updated_at = now
    payloads = await alerts.payloads(session, alert_ids=[state.alert_id for state, *_ in due])
    executions: list[dict[str, Any]] = []
    escalations: list[alerts.Escalation] = []
    reason = alerts.EscalationReason.SHIFT_HANDOVER
    for state, policy, handover, step in due:
        target = f"{schedule.ONCALL_SCHEME}{handover.schedule}"
        reached = courier.notify_people(
            workspace_id=workspace_id,
            target=target,
            contacts=handover.incoming,
            fallbacks=[],
            alert=payloads[state.alert_id],
            reason=describe(reason.value, policy=policy.name, step=step),
        )
        cycle = state.cycle if state.next_step else max(state.cycle - 1, 0)
        executions.append(
            execution_row(state, policy.id, reason, step, cycle, target, reached, now)
        )
        escalations.append(alerts.Escalation(state.alert_id, reason, step, {"target": target}))
    await courier.deliver()
    await record(session, executions, escalations, now=now, report=report)
