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

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import case, delete, exists, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import escalation as alerts
from server.core import bulk
from server.core.events.outbox import Outbox
from server.escalation import schedule
from server.escalation.delivery import Courier, Reached, describe
from server.escalation.models import (
    EscalationExecution,
    EscalationHandoverMark,
    EscalationPolicy,
    EscalationState,
)
from server.escalation.policies import plan, policy_matchers, progress_of
from server.oncall import targets as oncall

#: A sweep stops after this many batches; what is left is due at the next one.
MAX_BATCHES = 1_000


@dataclass
class SweepReport:
    adopted: int = 0
    forgotten: int = 0
    #: Executions by reason.
    executions: Counter[str] = field(default_factory=Counter)


async def sweep(outbox: Outbox, *, now: datetime, batch_size: int) -> SweepReport:
    report = SweepReport()
    async with outbox.transaction() as session:
        report.forgotten = await _forget_stopped(session)
        report.adopted = await _adopt(session, now=now)
        await _keep_marks(session, now=now)
    async with outbox.transaction() as session:
        await _hand_over(session, now=now, report=report)
    for _batch in range(MAX_BATCHES):
        async with outbox.transaction() as session:
            claimed = await _claim_due(session, now=now, limit=batch_size)
            await _escalate(session, claimed, now=now, report=report)
        if len(claimed) < batch_size:
            break
    return report


async def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which has ON CONFLICT."""
    dialect = (await session.connection()).dialect.name
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def _forget_stopped(session: AsyncSession) -> int:
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


async def _adopt(session: AsyncSession, *, now: datetime) -> int:
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
            (await _insert(session))(EscalationState).on_conflict_do_nothing(
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


async def _keep_marks(session: AsyncSession, *, now: datetime) -> None:
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
            (await _insert(session))(EscalationHandoverMark).on_conflict_do_nothing(
                index_elements=["workspace_id"]
            ),
            [{"workspace_id": workspace_id, "checked_until": now} for workspace_id in missing],
        )


async def _hand_over(session: AsyncSession, *, now: datetime, report: SweepReport) -> None:
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
        executions.append(_execution(state, policy.id, reason, step, cycle, target, reached, now))
        escalations.append(alerts.Escalation(state.alert_id, reason, step, {"target": target}))
    await courier.deliver()
    await _record(session, executions, escalations, now=now, report=report)


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
                _execution(
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
    await _record(session, executions, escalations, now=now, report=report)


def _execution(
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


async def _record(
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
