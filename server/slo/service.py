"""The SLO domain's front door: policies, their evaluations and the overview.

The schema calls only this module; the modules beside it hold the rules and
the SQL. Every lookup is scoped to the caller's workspace, so that a policy of
another workspace reads as missing. Services flush and never commit: the
caller's transaction does, and only then are events published.

Evaluating policies reads in one direction: this module runs the stages in
order, and each stage calls only modules below it, never one that called it:

1. ``incidents``: the policies' open burn-rate alerts, whose intervals are
   measured too;
2. ``windows``: plan the windows, rolled hours and raw segments (pure);
3. ``statements``: build the statements that measure them (cached by structure);
4. ``measurement``: run them, keeping the policy's roll-ups in step;
5. ``budget``: assess the error budget and burn rates (pure);
6. ``recording``: store the evaluation, advance the policy, announce it, and
   bring the policy's alerts in line (``alerting``).

The sweep (``sweep``, a periodic job and the ``startSloSweep`` task) runs the
same stages through ``evaluate_locked``.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.raising import Alert
from server.core.clock import require_offset
from server.core.db import get_in_workspace
from server.core.errors import InvalidInput, NotFound
from server.core.pagination import Listing
from server.slo import (
    alerting,
    budget,
    incidents,
    measurement,
    policies,
    recording,
    statements,
    windows,
)
from server.slo.budget import BURN_WINDOWS, SloStatus, error_budget, worst_status
from server.slo.incidents import Incident
from server.slo.models import SloEvaluation, SloPolicy
from server.slo.policies import BudgetPolicyState, OnExhausted, PolicyDraft, SliDraft
from server.slo.recording import Outcome, SloEventType
from server.slo.sli import Comparator, RatioSli, Selector, Sli, SliKind, ThresholdSli, sli_from_dict

__all__ = [
    "SWEEP_TASK_KIND",
    "BudgetPolicyState",
    "Comparator",
    "OnExhausted",
    "Overview",
    "PolicyDraft",
    "PolicySummary",
    "RatioSli",
    "Selector",
    "Sli",
    "SliDraft",
    "SliKind",
    "SloEvaluation",
    "SloEventType",
    "SloPolicy",
    "SloStatus",
    "ThresholdSli",
    "create_policy",
    "delete_policy",
    "error_budget",
    "evaluate",
    "evaluate_locked",
    "evaluations_by_id",
    "find_policy",
    "list_evaluations",
    "list_policies",
    "overview",
    "policy_sli",
    "service_statuses",
    "update_policy",
]

#: The task kind of an on-demand sweep of one workspace (``startSloSweep``).
SWEEP_TASK_KIND = "slo_sweep"
#: Rolled hours this recent are compared with the samples at every evaluation, so a
#: sample up to a day late counts at once; older ones within FULL_CHECK_EVERY (and
#: at once for ``evaluateSlo``, which always checks every hour).
RECHECKED_HOURS = 24
FULL_CHECK_EVERY = timedelta(hours=1)


def policy_sli(policy: SloPolicy) -> Sli:
    return sli_from_dict(policy.sli)


async def _policy(
    session: AsyncSession, *, workspace_id: int, policy_id: int, for_update: bool = False
) -> SloPolicy:
    return await get_in_workspace(
        session,
        SloPolicy,
        policy_id,
        workspace_id=workspace_id,
        what="SLO policy",
        for_update=for_update,
    )


# Policies


def list_policies(*, workspace_id: int) -> Listing[SloPolicy]:
    query = select(SloPolicy).where(SloPolicy.workspace_id == workspace_id)
    return Listing(query, (SloPolicy.id,))


async def find_policy(
    session: AsyncSession, *, workspace_id: int, policy_id: int
) -> SloPolicy | None:
    try:
        return await _policy(session, workspace_id=workspace_id, policy_id=policy_id)
    except NotFound:
        return None


async def create_policy(
    session: AsyncSession, *, workspace_id: int, draft: PolicyDraft, now: datetime
) -> SloPolicy:
    return await policies.create(session, workspace_id=workspace_id, draft=draft, now=now)


async def update_policy(
    session: AsyncSession, *, workspace_id: int, policy_id: int, draft: PolicyDraft, now: datetime
) -> SloPolicy:
    policy = await _policy(session, workspace_id=workspace_id, policy_id=policy_id, for_update=True)
    return await policies.update(session, policy=policy, draft=draft, now=now)


async def delete_policy(
    session: AsyncSession, *, workspace_id: int, policy_id: int, actor: str, now: datetime
) -> SloPolicy:
    """Delete a policy; its open burn-rate alerts are resolved, as nothing else would."""
    policy = await _policy(session, workspace_id=workspace_id, policy_id=policy_id, for_update=True)
    await alerting.resolve_all(session, policy=policy, actor=actor, now=now)
    await policies.delete_policy(session, policy=policy)
    return policy


# Evaluations: reading


async def list_evaluations(
    session: AsyncSession,
    *,
    workspace_id: int,
    policy_id: int,
    from_: datetime | None,
    to: datetime | None,
) -> Listing[SloEvaluation]:
    """A policy's evaluations with ``from <= evaluatedAt < to``."""
    require_offset(from_, field="from")
    require_offset(to, field="to")
    await _policy(session, workspace_id=workspace_id, policy_id=policy_id)
    query = select(SloEvaluation).where(
        SloEvaluation.workspace_id == workspace_id, SloEvaluation.policy_id == policy_id
    )
    if from_ is not None:
        query = query.where(SloEvaluation.evaluated_at >= from_)
    if to is not None:
        query = query.where(SloEvaluation.evaluated_at < to)
    return Listing(query, (SloEvaluation.evaluated_at, SloEvaluation.id))


async def evaluations_by_id(
    session: AsyncSession, *, workspace_id: int, ids: list[int]
) -> dict[int, SloEvaluation]:
    rows = await session.scalars(
        select(SloEvaluation).where(
            SloEvaluation.workspace_id == workspace_id, SloEvaluation.id.in_(ids)
        )
    )
    return {row.id: row for row in rows.all()}


# Evaluations: evaluating


def _is_look_back(policy: SloPolicy, at: datetime) -> bool:
    return policy.latest_evaluated_at is not None and at < policy.latest_evaluated_at


def _full_check_due(policy: SloPolicy, now: datetime) -> bool:
    """Whether the sweep should compare all of the policy's rolled hours with the
    samples: every 1 to 2 hours (spread by policy id), recent hours every time."""
    if policy.rollups_checked_at is None:
        return True
    spread = timedelta(minutes=policy.id % 60)
    return now >= policy.rollups_checked_at + FULL_CHECK_EVERY + spread


async def _measure_and_assess(
    session: AsyncSession,
    policy: SloPolicy,
    *,
    at: datetime,
    open_alerts: list[Alert],
    full_check: bool,
    dialect: str,
    now: datetime,
) -> Outcome:
    """Plan, build, measure and assess one policy at ``at``; nothing is stored yet."""
    plan = windows.plan_evaluation(
        at,
        window_days=policy.window_days,
        incidents_fired_at=[alert.first_fired_at for alert in open_alerts],
        recheck_hours=None if full_check else RECHECKED_HOURS,
    )
    built = statements.build(policy, policy_sli(policy), plan, dialect=dialect)
    counts = await measurement.measure(session, policy, plan, built)
    if full_check:
        policy.rollups_checked_at = now
    window, burns = counts[0], counts[1 : 1 + len(BURN_WINDOWS)]
    by_burn = {burn.name: measured for burn, measured in zip(BURN_WINDOWS, burns, strict=True)}
    incident_counts = counts[1 + len(BURN_WINDOWS) :]
    return Outcome(
        policy=policy,
        at=at,
        look_back=_is_look_back(policy, at),
        window=window,
        assessment=budget.assess(policy.objective, window, by_burn),
        incidents=[
            Incident(alert, measured)
            for alert, measured in zip(open_alerts, incident_counts, strict=True)
        ],
        previous_status=policy.latest_status,
    )


async def _evaluate(
    session: AsyncSession,
    locked: list[SloPolicy],
    *,
    at: datetime,
    now: datetime,
    always_full_check: bool,
) -> list[SloEvaluation]:
    # A look back leaves the alerts alone, so it measures no incidents either.
    current = [policy for policy in locked if not _is_look_back(policy, at)]
    open_alerts = await incidents.open_alerts_by_policy(session, current)
    dialect = (await session.connection()).dialect.name
    outcomes = [
        await _measure_and_assess(
            session,
            policy,
            at=at,
            open_alerts=open_alerts.get(policy.id, []),
            full_check=always_full_check or _full_check_due(policy, now),
            dialect=dialect,
            now=now,
        )
        for policy in locked
    ]
    return await recording.record(session, outcomes, now=now)


async def evaluate(
    session: AsyncSession, *, workspace_id: int, policy_id: int, at: datetime | None, now: datetime
) -> SloEvaluation:
    """Evaluate a policy at ``at`` (default: now) and store the evaluation; every
    rolled hour it reads is compared with the samples first."""
    require_offset(at, field="at")
    if at is not None and at > now:
        raise InvalidInput("at lies in the future", field="at")
    policy = await _policy(session, workspace_id=workspace_id, policy_id=policy_id, for_update=True)
    [stored] = await _evaluate(session, [policy], at=at or now, now=now, always_full_check=True)
    return stored


async def evaluate_locked(
    session: AsyncSession, locked: list[SloPolicy], *, at: datetime, now: datetime
) -> list[SloEvaluation]:
    """Evaluate policies the caller locked (the sweep) at ``at``, set-based where it
    counts; each compares all its rolled hours with the samples only when due."""
    return await _evaluate(session, locked, at=at, now=now, always_full_check=False)


# Overview


@dataclass(frozen=True)
class PolicySummary:
    policy: SloPolicy
    latest: SloEvaluation | None

    @property
    def status(self) -> SloStatus | None:
        return SloStatus(self.latest.status) if self.latest else None

    @property
    def fastest_burn(self) -> tuple[str, float] | None:
        """The window with the highest burn rate in the newest evaluation."""
        if self.latest is None:
            return None
        rated = [(r["window"], r["rate"]) for r in self.latest.burn_rates if r["rate"] is not None]
        return max(rated, key=lambda burn: float(burn[1])) if rated else None


@dataclass(frozen=True)
class Overview:
    #: By service and name.
    policies: list[PolicySummary]
    #: Policies per newest status, every status listed.
    counts: dict[SloStatus, int]
    #: Policies without an evaluation (never evaluated, or its newest pruned).
    not_evaluated: int


async def overview(session: AsyncSession, *, workspace_id: int) -> Overview:
    """Every policy with its newest evaluation, and how many have each status."""
    rows = await session.scalars(
        select(SloPolicy)
        .where(SloPolicy.workspace_id == workspace_id)
        .order_by(SloPolicy.service, SloPolicy.name)
    )
    all_policies = list(rows.all())
    latest_ids = [p.latest_evaluation_id for p in all_policies if p.latest_evaluation_id]
    latest = await evaluations_by_id(session, workspace_id=workspace_id, ids=latest_ids)
    summaries = [
        PolicySummary(policy, latest.get(policy.latest_evaluation_id or 0))
        for policy in all_policies
    ]
    counts = dict.fromkeys(SloStatus, 0)
    for summary in summaries:
        if summary.status is not None:
            counts[summary.status] += 1
    not_evaluated = sum(1 for summary in summaries if summary.status is None)
    return Overview(summaries, counts, not_evaluated)


async def service_statuses(session: AsyncSession, *, workspace_id: int) -> dict[str, SloStatus]:
    """Each service's worst newest status among its evaluated policies."""
    rows = await session.execute(
        select(SloPolicy.service, SloPolicy.latest_status).where(
            SloPolicy.workspace_id == workspace_id, SloPolicy.latest_status.is_not(None)
        )
    )
    by_service: dict[str, list[SloStatus]] = {}
    for service, status in rows.all():
        if status is not None:
            by_service.setdefault(service, []).append(SloStatus(status))
    worst = {service: worst_status(statuses) for service, statuses in by_service.items()}
    return {service: status for service, status in worst.items() if status is not None}
