"""SLO policies: checking drafts, and creating, changing and deleting policies.

The caller (``service``) finds the policy in the workspace, locked, before it
is changed or deleted here.
"""

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import Conflict, InvalidInput
from server.core.matchers import Matcher, check_patterns_in_database, validate_matchers
from server.core.text import require_service_name
from server.slo.models import SloPolicy, SloRollup
from server.slo.sli import (
    Comparator,
    RatioSli,
    Selector,
    Sli,
    SliKind,
    ThresholdSli,
)

MIN_WINDOW_DAYS = 1
MAX_WINDOW_DAYS = 90
MAX_NAME = 200
_SIGNAL = re.compile(r"[A-Za-z_:][A-Za-z0-9_.:]{0,199}")


class OnExhausted(StrEnum):
    """What the error-budget policy does once the budget is spent."""

    NONE = "NONE"
    FREEZE = "FREEZE"


class BudgetPolicyState(StrEnum):
    ACTIVE = "ACTIVE"
    #: The budget is exhausted under ``FREEZE``: changes should wait (deploy tools ask).
    FROZEN = "FROZEN"


@dataclass(frozen=True)
class SliDraft:
    kind: SliKind
    good_signal: str | None = None
    good_matchers: list[Matcher] = field(default_factory=list)
    total_signal: str | None = None
    total_matchers: list[Matcher] = field(default_factory=list)
    signal: str | None = None
    matchers: list[Matcher] = field(default_factory=list)
    threshold: float | None = None
    comparator: Comparator | None = None


@dataclass(frozen=True)
class PolicyDraft:
    service: str
    name: str
    objective: float
    window_days: int
    sli: SliDraft
    on_exhausted: OnExhausted = OnExhausted.NONE


@dataclass(frozen=True)
class _Checked:
    service: str
    name: str
    objective: float
    window_days: int
    sli: Sli
    on_exhausted: OnExhausted


def _require(value: str | None, *, field: str, kind: SliKind) -> str:
    if value is None:
        raise InvalidInput(f"a {kind.value} SLI needs {field.rsplit('.', 1)[-1]}", field=field)
    if not _SIGNAL.fullmatch(value):
        raise InvalidInput("a signal name is letters, digits, _ . and :", field=field)
    return value


def _refuse(given: bool, *, field: str, kind: SliKind) -> None:
    if given:
        name = field.rsplit(".", 1)[-1]
        raise InvalidInput(f"{name} does not belong to a {kind.value} SLI", field=field)


async def _selector(
    session: AsyncSession, signal: str, matchers: list[Matcher], *, field: str
) -> Selector:
    validate_matchers(matchers, field=field)
    await check_patterns_in_database(session, matchers, field=field)
    return Selector(signal, tuple(matchers))


async def _check_ratio(session: AsyncSession, draft: SliDraft) -> RatioSli:
    kind = SliKind.RATIO
    for name, given in (
        ("signal", draft.signal is not None),
        ("matchers", bool(draft.matchers)),
        ("threshold", draft.threshold is not None),
        ("comparator", draft.comparator is not None),
    ):
        _refuse(given, field=f"input.sli.{name}", kind=kind)
    good_signal = _require(draft.good_signal, field="input.sli.goodSignal", kind=kind)
    total_signal = _require(draft.total_signal, field="input.sli.totalSignal", kind=kind)
    good = await _selector(
        session, good_signal, draft.good_matchers, field="input.sli.goodMatchers"
    )
    total = await _selector(
        session, total_signal, draft.total_matchers, field="input.sli.totalMatchers"
    )
    if good.selects_same_samples_as(total):
        raise InvalidInput(
            "good and total select the same samples: the SLI would always be 100 %",
            field="input.sli.totalSignal",
        )
    return RatioSli(good, total)


async def _check_threshold(session: AsyncSession, draft: SliDraft) -> ThresholdSli:
    kind = SliKind.THRESHOLD
    for name, given in (
        ("goodSignal", draft.good_signal is not None),
        ("goodMatchers", bool(draft.good_matchers)),
        ("totalSignal", draft.total_signal is not None),
        ("totalMatchers", bool(draft.total_matchers)),
    ):
        _refuse(given, field=f"input.sli.{name}", kind=kind)
    signal = _require(draft.signal, field="input.sli.signal", kind=kind)
    if draft.threshold is None or not math.isfinite(draft.threshold):
        raise InvalidInput("a THRESHOLD SLI needs a finite threshold", field="input.sli.threshold")
    if draft.comparator is None:
        raise InvalidInput(
            "a THRESHOLD SLI needs a comparator (LT, LTE, GT or GTE)", field="input.sli.comparator"
        )
    selector = await _selector(session, signal, draft.matchers, field="input.sli.matchers")
    return ThresholdSli(selector, draft.threshold, Comparator(draft.comparator))


async def _check(session: AsyncSession, draft: PolicyDraft) -> _Checked:
    require_service_name(draft.service, field="input.service")
    name = draft.name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidInput(f"name must be 1-{MAX_NAME} characters", field="input.name")
    if not (math.isfinite(draft.objective) and 0 < draft.objective < 100):
        raise InvalidInput(
            "objective is a percentage above 0 and below 100, e.g. 99.9", field="input.objective"
        )
    if not MIN_WINDOW_DAYS <= draft.window_days <= MAX_WINDOW_DAYS:
        raise InvalidInput(
            f"windowDays must be between {MIN_WINDOW_DAYS} and {MAX_WINDOW_DAYS}",
            field="input.windowDays",
        )
    if draft.sli.kind is SliKind.RATIO:
        sli: Sli = await _check_ratio(session, draft.sli)
    else:
        sli = await _check_threshold(session, draft.sli)
    return _Checked(
        draft.service, name, draft.objective, draft.window_days, sli, draft.on_exhausted
    )


async def _refuse_duplicate(
    session: AsyncSession, *, workspace_id: int, checked: _Checked, policy_id: int | None
) -> None:
    query = select(SloPolicy.id).where(
        SloPolicy.workspace_id == workspace_id,
        SloPolicy.service == checked.service,
        SloPolicy.name == checked.name,
    )
    if policy_id is not None:
        query = query.where(SloPolicy.id != policy_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"service {checked.service} has an SLO policy named {checked.name!r}")


def _apply(policy: SloPolicy, checked: _Checked, now: datetime) -> None:
    policy.service = checked.service
    policy.name = checked.name
    policy.objective = checked.objective
    policy.window_days = checked.window_days
    policy.sli = checked.sli.to_dict()
    policy.on_exhausted = checked.on_exhausted.value
    if checked.on_exhausted is OnExhausted.NONE:
        policy.budget_policy_state = BudgetPolicyState.ACTIVE.value
    policy.updated_at = now


async def create(
    session: AsyncSession, *, workspace_id: int, draft: PolicyDraft, now: datetime
) -> SloPolicy:
    checked = await _check(session, draft)
    await _refuse_duplicate(session, workspace_id=workspace_id, checked=checked, policy_id=None)
    policy = SloPolicy(
        workspace_id=workspace_id,
        budget_policy_state=BudgetPolicyState.ACTIVE.value,
        created_at=now,
    )
    _apply(policy, checked, now)
    session.add(policy)
    await session.flush()
    return policy


async def update(
    session: AsyncSession, *, policy: SloPolicy, draft: PolicyDraft, now: datetime
) -> SloPolicy:
    """Replace a policy's settings. Its roll-ups start afresh, as they may count
    other samples now; its evaluations and open alerts stay, and the next
    evaluation carries on from them."""
    checked = await _check(session, draft)
    await _refuse_duplicate(
        session, workspace_id=policy.workspace_id, checked=checked, policy_id=policy.id
    )
    _apply(policy, checked, now)
    await session.execute(delete(SloRollup).where(SloRollup.policy_id == policy.id))
    policy.rolled_up_to_hour = None
    policy.rollups_checked_at = None
    await session.flush()
    return policy


async def delete_policy(session: AsyncSession, *, policy: SloPolicy) -> None:
    """Delete a policy with its evaluations and roll-ups (its alerts stay)."""
    await session.execute(delete(SloPolicy).where(SloPolicy.id == policy.id))
