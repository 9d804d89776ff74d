"""The SLO operations the API offers: evaluate one policy now (or at a moment),
delete a policy, and read evaluations and the overview."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import InvalidInput
from server.slo import alerting, evaluation, policies
from server.slo.budget import SloStatus, worst_status
from server.slo.models import SloEvaluation, SloPolicy


def _require_offset(moment: datetime | None, *, field: str) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise InvalidInput(f"{field} must carry a timezone offset", field=field)


async def evaluate(
    session: AsyncSession, *, workspace_id: int, policy_id: int, at: datetime | None, now: datetime
) -> SloEvaluation:
    """Evaluate a policy at ``at`` (default: now) and store the evaluation."""
    _require_offset(at, field="at")
    if at is not None and at > now:
        raise InvalidInput("at lies in the future", field="at")
    policy = await policies.get(
        session, workspace_id=workspace_id, policy_id=policy_id, for_update=True
    )
    outcome = await evaluation.evaluate_one(session, policy, at=at or now, now=now)
    assert outcome.evaluation is not None
    return outcome.evaluation


async def delete(
    session: AsyncSession, *, workspace_id: int, policy_id: int, actor: str, now: datetime
) -> SloPolicy:
    """Delete a policy; its open burn-rate alerts are resolved, as nothing else would."""
    policy = await policies.get(
        session, workspace_id=workspace_id, policy_id=policy_id, for_update=True
    )
    await alerting.resolve_all(session, policy=policy, actor=actor, now=now)
    await policies.delete_policy(session, policy=policy)
    return policy


async def evaluations_query(
    session: AsyncSession,
    *,
    workspace_id: int,
    policy_id: int,
    from_: datetime | None,
    to: datetime | None,
) -> Select[Any]:
    """A policy's evaluations with ``from <= evaluatedAt < to``."""
    _require_offset(from_, field="from")
    _require_offset(to, field="to")
    await policies.get(session, workspace_id=workspace_id, policy_id=policy_id)
    query = select(SloEvaluation).where(
        SloEvaluation.workspace_id == workspace_id, SloEvaluation.policy_id == policy_id
    )
    if from_ is not None:
        query = query.where(SloEvaluation.evaluated_at >= from_)
    if to is not None:
        query = query.where(SloEvaluation.evaluated_at < to)
    return query


async def evaluations_by_id(
    session: AsyncSession, *, workspace_id: int, ids: list[int]
) -> dict[int, SloEvaluation]:
    rows = await session.scalars(
        select(SloEvaluation).where(
            SloEvaluation.workspace_id == workspace_id, SloEvaluation.id.in_(ids)
        )
    )
    return {row.id: row for row in rows.all()}


@dataclass(frozen=True)
class PolicySummary:
    policy: SloPolicy
    latest: SloEvaluation | None

    @property
    def fastest_burn(self) -> tuple[str, float] | None:
        """The window with the highest burn rate in the newest evaluation."""
        if self.latest is None:
            return None
        rated = [(r["window"], r["rate"]) for r in self.latest.burn_rates if r["rate"] is not None]
        return max(rated, key=lambda burn: float(burn[1])) if rated else None


async def overview(session: AsyncSession, *, workspace_id: int) -> list[PolicySummary]:
    """Every policy with its newest evaluation, by service and name."""
    rows = await session.scalars(
        policies.policies_query(workspace_id=workspace_id).order_by(
            SloPolicy.service, SloPolicy.name
        )
    )
    all_policies = list(rows.all())
    latest_ids = [p.latest_evaluation_id for p in all_policies if p.latest_evaluation_id]
    latest = await evaluations_by_id(session, workspace_id=workspace_id, ids=latest_ids)
    return [
        PolicySummary(policy, latest.get(policy.latest_evaluation_id or 0))
        for policy in all_policies
    ]


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
