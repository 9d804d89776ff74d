"""Recording evaluations: store each as an SloEvaluation, let the newest drive its
policy's state and burn-rate alerts, and announce it.

An evaluation ``at`` a moment before the policy's newest one is a look back: it
is stored and announced (``slo.evaluated``) but changes neither alerts nor the
budget policy state, which always follow the newest evaluation. Events carry
the time they were appended (the clock), never ``at``.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.events import service as events
from server.core.events.service import Stream
from server.slo import alerting
from server.slo.budget import Assessment, Counts, SloStatus
from server.slo.incidents import Incident
from server.slo.models import SloEvaluation, SloPolicy
from server.slo.policies import BudgetPolicyState, OnExhausted


class SloEventType(StrEnum):
    EVALUATED = "slo.evaluated"
    STATUS_CHANGED = "slo.status_changed"
    BUDGET_EXHAUSTED = "slo.budget_exhausted"
    BUDGET_RESTORED = "slo.budget_restored"


@dataclass
class Outcome:
    """One policy's evaluation, before and after it is stored."""

    policy: SloPolicy
    at: datetime
    look_back: bool
    window: Counts
    assessment: Assessment
    incidents: list[Incident]
    previous_status: str | None
    evaluation: SloEvaluation | None = field(default=None)
    #: The budget policy state changed with this evaluation (entered or left FROZEN).
    budget_event: SloEventType | None = field(default=None)


def _evaluation_row(outcome: Outcome) -> SloEvaluation:
    policy, assessment = outcome.policy, outcome.assessment
    return SloEvaluation(
        workspace_id=policy.workspace_id,
        policy_id=policy.id,
        evaluated_at=outcome.at,
        objective=policy.objective,
        window_days=policy.window_days,
        good=assessment.good,
        total=assessment.total,
        sli=assessment.sli,
        budget_consumed=assessment.budget_consumed,
        budget_remaining=assessment.budget_remaining,
        burn_rates=[{"window": name, "rate": rate} for name, rate in assessment.burn_rates.items()],
        firing_pairs=list(assessment.firing_pairs),
        status=assessment.status.value,
        look_back=outcome.look_back,
    )


def evaluation_payload(policy: SloPolicy, evaluation: SloEvaluation) -> dict[str, Any]:
    return {
        "policyId": str(policy.id),
        "policyName": policy.name,
        "service": policy.service,
        "evaluationId": str(evaluation.id),
        "evaluatedAt": evaluation.evaluated_at.isoformat(),
        "status": evaluation.status,
        "sli": evaluation.sli,
        "good": evaluation.good,
        "total": evaluation.total,
        "objective": evaluation.objective,
        "windowDays": evaluation.window_days,
        "errorBudgetRemaining": evaluation.budget_remaining,
        "budgetConsumed": evaluation.budget_consumed,
        "burnRates": evaluation.burn_rates,
        "firingPairs": evaluation.firing_pairs,
        "budgetPolicyState": policy.budget_policy_state,
        "lookBack": evaluation.look_back,
    }


def _slo_event(
    policy: SloPolicy, type_: SloEventType, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    # No subject_id: on the alert stream it names an alert (the alert timelines read it).
    return {
        "workspace_id": policy.workspace_id,
        "stream": Stream.ALERT.value,
        "type": type_.value,
        "subject_id": None,
        "service": policy.service,
        "severity": None,
        "payload": payload,
        "occurred_at": now,
    }


def _events_of(outcome: Outcome, now: datetime) -> list[dict[str, Any]]:
    policy, evaluation = outcome.policy, outcome.evaluation
    assert evaluation is not None
    payload = evaluation_payload(policy, evaluation)
    rows = [_slo_event(policy, SloEventType.EVALUATED, payload, now)]
    changed = outcome.previous_status is not None and outcome.previous_status != evaluation.status
    if not outcome.look_back and changed:
        changes = {**payload, "previousStatus": outcome.previous_status}
        rows.append(_slo_event(policy, SloEventType.STATUS_CHANGED, changes, now))
    if outcome.budget_event is not None:
        rows.append(_slo_event(policy, outcome.budget_event, payload, now))
    return rows


def _next_budget_state(policy: SloPolicy, status: SloStatus) -> BudgetPolicyState:
    current = BudgetPolicyState(policy.budget_policy_state)
    if policy.on_exhausted != OnExhausted.FREEZE.value:
        return BudgetPolicyState.ACTIVE
    if status is SloStatus.EXHAUSTED:
        return BudgetPolicyState.FROZEN
    if status is SloStatus.NO_DATA:
        return current  # no evidence either way
    return BudgetPolicyState.ACTIVE


def _advance(outcome: Outcome) -> None:
    """The newest evaluation becomes the policy's state: its latest status and,
    under FREEZE, its budget policy state (FROZEN while the budget is exhausted)."""
    evaluation, policy = outcome.evaluation, outcome.policy
    assert evaluation is not None
    policy.latest_evaluation_id = evaluation.id
    policy.latest_evaluated_at = evaluation.evaluated_at
    policy.latest_status = evaluation.status
    before = BudgetPolicyState(policy.budget_policy_state)
    after = _next_budget_state(policy, outcome.assessment.status)
    if after is not before:
        policy.budget_policy_state = after.value
        outcome.budget_event = (
            SloEventType.BUDGET_EXHAUSTED
            if after is BudgetPolicyState.FROZEN
            else SloEventType.BUDGET_RESTORED
        )


async def _apply_alerts(session: AsyncSession, outcomes: list[Outcome], *, now: datetime) -> None:
    """The newest evaluations drive their policies' burn-rate alerts."""
    for outcome in outcomes:
        if outcome.look_back:
            continue
        await alerting.apply_alerts(
            session,
            policy=outcome.policy,
            assessment=outcome.assessment,
            window=outcome.window,
            incidents=outcome.incidents,
            now=now,
        )


async def record(
    session: AsyncSession, outcomes: list[Outcome], *, now: datetime
) -> list[SloEvaluation]:
    """Store the evaluations, advance their policies and append the events,
    set-based; then bring the alerts in line with the newest evaluations."""
    rows = [_evaluation_row(outcome) for outcome in outcomes]
    session.add_all(rows)
    await session.flush()
    for outcome, row in zip(outcomes, rows, strict=True):
        outcome.evaluation = row
        if not outcome.look_back:
            _advance(outcome)
    await session.flush()
    await events.append_many(session, [row for o in outcomes for row in _events_of(o, now)])
    await _apply_alerts(session, outcomes, now=now)
    return rows
