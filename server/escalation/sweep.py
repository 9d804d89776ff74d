"""The escalation sweep: every firing alert under a policy escalates when due.

One sweep, at ``now``:

1. Forget the states of alerts that stopped firing (acknowledged, resolved or
   closed: that stops their escalation) and begin one for each firing alert a
   policy governs and that has none yet (its first step is due its delay after
   the alert first fired). Set-based: one DELETE, one SELECT per workspace with
   policies, one INSERT.
2. Shift handovers since the previous sweep (each workspace keeps a mark of how
   far it got): an open alert whose escalation reached the schedule notifies the
   incoming people (SHIFT_HANDOVER).
3. Due states, in batches, each batch one transaction: claimed with one query
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), the next step's targets notified
   (ACK_TIMEOUT) or the current step's again after enough re-fires
   (REPEAT_TRIGGER), executions written, the states moved on, and
   ``alert.escalated`` appended through the alerts entry point. The batch's
   notifications are created together, a few statements for all of them.

Exactly once across replicas: a step runs only in the transaction that holds
its state row's lock, and that transaction moves the state on before it commits;
a concurrent sweep skips a locked row and, once the holder committed, no longer
finds it due. Notifications are rows of the same transaction, so a failed batch
leaves neither the notifications nor the moved state behind. Silenced,
inhibited and noise-suppressed alerts are never due.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import escalation as alerts
from server.core.events.outbox import Outbox
from server.escalation import schedule
from server.escalation.adoption import adopt, forget_stopped, keep_marks
from server.escalation.delivery import Courier, describe
from server.escalation.handover import hand_over
from server.escalation.models import EscalationPolicy, EscalationState
from server.escalation.policies import plan, progress_of
from server.escalation.records import SweepReport, execution_row, record

#: A sweep stops after this many batches; what is left is due at the next one.
MAX_BATCHES = 1_000


async def sweep(outbox: Outbox, *, now: datetime, batch_size: int) -> SweepReport:
    report = SweepReport()
    async with outbox.transaction() as session:
        report.forgotten = await forget_stopped(session)
        report.adopted = await adopt(session, now=now)
        await keep_marks(session, now=now)
    async with outbox.transaction() as session:
        await hand_over(session, now=now, report=report)
    for _batch in range(MAX_BATCHES):
        async with outbox.transaction() as session:
            claimed = await _claim_due(session, now=now, limit=batch_size)
            await _escalate(session, claimed, now=now, report=report)
        if len(claimed) < batch_size:
            break
    return report


async def _claim_due(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[tuple[EscalationState, EscalationPolicy, int]]:
    """Lock up to ``limit`` due states that no other sweep holds, with their policy
    and their alert's occurrence count."""
    firing = alerts.firing_alerts()
    refired = firing.c.occurrence_count >= (
        EscalationState.refire_baseline + EscalationPolicy.refire_threshold
    )
    rows = await session.execute(
        select(EscalationState, EscalationPolicy, firing.c.occurrence_count)
        .join(firing, firing.c.id == EscalationState.alert_id)
        .join(EscalationPolicy, EscalationPolicy.id == EscalationState.policy_id)
        .where(~firing.c.quiet, or_(EscalationState.next_due_at <= now, refired))
        .order_by(EscalationState.alert_id)
        .limit(limit)
        .with_for_update(of=EscalationState, skip_locked=True)
    )
    return [(state, policy, occurrences) for state, policy, occurrences in rows.all()]


async def _escalate(
    session: AsyncSession,
    claimed: list[tuple[EscalationState, EscalationPolicy, int]],
    *,
    now: datetime,
    report: SweepReport,
) -> None:
    decided: list[tuple[EscalationState, EscalationPolicy, schedule.Decision]] = []
    for state, policy, occurrences in claimed:
        policy_plan, progress = plan(policy), progress_of(state)
        decision = schedule.decide(
            policy_plan, progress, occurrences=occurrences, baseline=state.refire_baseline, now=now
        )
        state.updated_at = now
        if decision is None:
            # Nothing due after all (the policy changed meanwhile): set the next time right.
            state.next_due_at = schedule.due_at(policy_plan, progress)
            continue
        if decision.reason is alerts.EscalationReason.ACK_TIMEOUT:
            moved = schedule.advance(policy_plan, progress, now)
            state.next_step, state.cycle, state.executed = (
                moved.next_step,
                moved.cycle,
                moved.executed,
            )
            state.anchor_at = moved.anchor_at
            state.next_due_at = schedule.due_at(policy_plan, moved)
        state.refire_baseline = occurrences
        state.last_executed_at = now
        decided.append((state, policy, decision))
    await _write_back(session, [state for state, *_ in claimed])
    payloads = await alerts.payloads(session, alert_ids=[state.alert_id for state, *_ in decided])
    courier = Courier(session, now)
    executions: list[dict[str, Any]] = []
    escalations: list[alerts.Escalation] = []
    for state, policy, decision in decided:
        reason = describe(decision.reason.value, policy=policy.name, step=decision.step)
        for target in decision.targets:
            reached = await courier.notify_target(
                workspace_id=state.workspace_id,
                target=target,
                alert=payloads[state.alert_id],
                reason=reason,
            )
            executions.append(
                execution_row(
                    state,
                    policy.id,
                    decision.reason,
                    decision.step,
                    decision.cycle,
                    target,
                    reached,
                    now,
                )
            )
            escalations.append(
                alerts.Escalation(
                    state.alert_id, decision.reason, decision.step, {"target": target}
                )
            )
    await courier.deliver()
    await record(session, executions, escalations, now=now, report=report)


_STATE_COLUMNS = (
    "next_step",
    "cycle",
    "executed",
    "anchor_at",
    "next_due_at",
    "refire_baseline",
    "last_executed_at",
    "updated_at",
)


_UPDATE_STATES = text(
    """
    UPDATE escalation_states AS s
    SET next_step = m.next_step, cycle = m.cycle, executed = m.executed,
        anchor_at = m.anchor_at, next_due_at = m.next_due_at,
        refire_baseline = m.refire_baseline, last_executed_at = m.last_executed_at,
        updated_at = m.updated_at
    FROM unnest(
        CAST(:alert_id AS bigint[]), CAST(:next_step AS integer[]), CAST(:cycle AS integer[]),
        CAST(:executed AS integer[]), CAST(:anchor_at AS timestamptz[]),
        CAST(:next_due_at AS timestamptz[]), CAST(:refire_baseline AS integer[]),
        CAST(:last_executed_at AS timestamptz[]), CAST(:updated_at AS timestamptz[])
    ) AS m(
        alert_id, next_step, cycle, executed, anchor_at, next_due_at, refire_baseline,
        last_executed_at, updated_at
    )
    WHERE s.alert_id = m.alert_id
    """
)


async def _write_back(session: AsyncSession, states: list[EscalationState]) -> None:
    """Store the claimed states as moved on, with one statement rather than one
    UPDATE each at the next flush (they leave the session)."""
    if not states:
        return
    rows = [
        {
            "alert_id": state.alert_id,
            **{column: getattr(state, column) for column in _STATE_COLUMNS},
        }
        for state in states
    ]
    for state in states:
        session.expunge(state)
    if (await session.connection()).dialect.name != "postgresql":
        await session.execute(update(EscalationState), rows)
        return
    await session.execute(
        _UPDATE_STATES, {column: [row[column] for row in rows] for column in rows[0]}
    )
