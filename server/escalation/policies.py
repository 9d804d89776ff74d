"""Escalation policies: checked, created, changed and deleted.

A policy governs the firing alerts its matchers meet (on the alert's labels;
the label names ``service`` and ``severity`` mean the alert's own). Where
several policies match, the one with the lowest id governs; an alert keeps the
policy that governed it when its escalation began.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import get_in_workspace
from server.core.errors import Conflict, InvalidInput
from server.core.matchers import Matcher, check_patterns_in_database, validate_matchers
from server.escalation import schedule
from server.escalation.models import EscalationPolicy, EscalationState

MAX_NAME = 200
MAX_STEPS = 20
MAX_TARGETS = 10
MAX_DELAY = timedelta(days=7)
MAX_REPEAT = 20
MAX_REFIRE_THRESHOLD = 100_000
DEFAULT_REFIRE_THRESHOLD = 3


@dataclass(frozen=True)
class StepDraft:
    delay_seconds: int
    targets: list[str]


@dataclass(frozen=True)
class PolicyDraft:
    name: str
    steps: list[StepDraft]
    matchers: list[Matcher]
    repeat: int = 0
    refire_threshold: int = DEFAULT_REFIRE_THRESHOLD


def _check_steps(steps: list[StepDraft]) -> None:
    if not 1 <= len(steps) <= MAX_STEPS:
        raise InvalidInput(f"a policy has 1 to {MAX_STEPS} steps", field="input.steps")
    for index, step in enumerate(steps):
        field = f"input.steps[{index}]"
        if not 0 <= step.delay_seconds <= MAX_DELAY.total_seconds():
            raise InvalidInput(
                f"delaySeconds must be between 0 and {int(MAX_DELAY.total_seconds())}",
                field=f"{field}.delaySeconds",
            )
        if not 1 <= len(step.targets) <= MAX_TARGETS:
            raise InvalidInput(f"a step has 1 to {MAX_TARGETS} targets", field=f"{field}.targets")
        for number, target in enumerate(step.targets):
            if schedule.parse_target(target) is None:
                raise InvalidInput(
                    f"{target[:100]!r} is not a target: oncall://active, "
                    "oncall://<schedule> or route://<route name>",
                    field=f"{field}.targets[{number}]",
                )
        if len(set(step.targets)) != len(step.targets):
            raise InvalidInput("a target is given twice", field=f"{field}.targets")


async def _check(session: AsyncSession, draft: PolicyDraft) -> PolicyDraft:
    name = draft.name.strip()
    if not 1 <= len(name) <= MAX_NAME or "\x00" in name:
        raise InvalidInput(f"name must be 1-{MAX_NAME} characters, without NUL", field="input.name")
    _check_steps(draft.steps)
    if not 0 <= draft.repeat <= MAX_REPEAT:
        raise InvalidInput(f"repeat must be between 0 and {MAX_REPEAT}", field="input.repeat")
    if not 1 <= draft.refire_threshold <= MAX_REFIRE_THRESHOLD:
        raise InvalidInput(
            f"refireThreshold must be between 1 and {MAX_REFIRE_THRESHOLD}",
            field="input.refireThreshold",
        )
    matchers = validate_matchers(draft.matchers, field="input.matchers")
    await check_patterns_in_database(session, matchers, field="input.matchers")
    return PolicyDraft(name, draft.steps, matchers, draft.repeat, draft.refire_threshold)


async def _refuse_taken_name(
    session: AsyncSession, *, workspace_id: int, name: str, policy_id: int | None
) -> None:
    taken = await session.scalar(
        select(EscalationPolicy.id).where(
            EscalationPolicy.workspace_id == workspace_id, EscalationPolicy.name == name
        )
    )
    if taken is not None and taken != policy_id:
        raise Conflict(f"an escalation policy named {name!r} exists already")


def _apply(policy: EscalationPolicy, draft: PolicyDraft, now: datetime) -> None:
    policy.name = draft.name
    policy.matchers = [matcher.to_dict() for matcher in draft.matchers]
    policy.steps = [
        {"delay_seconds": step.delay_seconds, "targets": list(step.targets)} for step in draft.steps
    ]
    policy.repeat = draft.repeat
    policy.refire_threshold = draft.refire_threshold
    policy.updated_at = now


def plan(policy: EscalationPolicy) -> schedule.Plan:
    return schedule.plan_of(
        policy.steps, repeat=policy.repeat, refire_threshold=policy.refire_threshold
    )


def policy_matchers(policy: EscalationPolicy) -> list[Matcher]:
    return [Matcher.from_dict(stored) for stored in policy.matchers]


async def create(
    session: AsyncSession, *, workspace_id: int, draft: PolicyDraft, author: str, now: datetime
) -> EscalationPolicy:
    checked = await _check(session, draft)
    await _refuse_taken_name(session, workspace_id=workspace_id, name=checked.name, policy_id=None)
    policy = EscalationPolicy(workspace_id=workspace_id, created_by=author, created_at=now)
    _apply(policy, checked, now)
    session.add(policy)
    await session.flush()
    return policy


async def get(session: AsyncSession, *, workspace_id: int, policy_id: int) -> EscalationPolicy:
    return await get_in_workspace(
        session, EscalationPolicy, policy_id, workspace_id=workspace_id, what="escalation policy"
    )


async def update_policy(
    session: AsyncSession, *, workspace_id: int, policy_id: int, draft: PolicyDraft, now: datetime
) -> EscalationPolicy:
    """Change a policy. The alerts it governs keep their progress; when their next
    step is due follows the new delays (a step that no longer exists starts the
    next run of the list)."""
    policy = await get(session, workspace_id=workspace_id, policy_id=policy_id)
    checked = await _check(session, draft)
    await _refuse_taken_name(
        session, workspace_id=workspace_id, name=checked.name, policy_id=policy.id
    )
    _apply(policy, checked, now)
    new_plan = plan(policy)
    states = await session.scalars(
        select(EscalationState)
        .where(EscalationState.policy_id == policy.id)
        .order_by(EscalationState.alert_id)
        .with_for_update()
    )
    for state in states.all():
        progress = schedule.normalized(new_plan, progress_of(state))
        state.next_step, state.cycle = progress.next_step, progress.cycle
        state.next_due_at = schedule.due_at(new_plan, progress)
        state.updated_at = now
    await session.flush()
    return policy


async def delete_policy(
    session: AsyncSession, *, workspace_id: int, policy_id: int
) -> EscalationPolicy:
    """Delete a policy; the alerts it governed stop escalating (their executions stay)."""
    policy = await get(session, workspace_id=workspace_id, policy_id=policy_id)
    await session.execute(delete(EscalationState).where(EscalationState.policy_id == policy.id))
    await session.execute(delete(EscalationPolicy).where(EscalationPolicy.id == policy.id))
    return policy


def policies_query(*, workspace_id: int) -> Select[EscalationPolicy]:
    return select(EscalationPolicy).where(EscalationPolicy.workspace_id == workspace_id)


def progress_of(state: EscalationState) -> schedule.Progress:
    return schedule.Progress(
        next_step=state.next_step,
        cycle=state.cycle,
        anchor_at=state.anchor_at,
        executed=state.executed,
    )
