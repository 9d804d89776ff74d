"""Capacity policies: checking a draft, and creating or replacing the policy of a meter."""

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.capacity.models import CapacityPolicy, CapacityRollup
from server.core.errors import InvalidInput
from server.core.matchers import Matcher, check_patterns_in_database, validate_matchers
from server.core.text import require_service_name

MIN_HORIZON_DAYS = 1
MAX_HORIZON_DAYS = 365
MAX_CAPACITY = 1e300
_METER_KEY = re.compile(r"[\x21-\x7e]{1,200}")
_SIGNAL = re.compile(r"[A-Za-z_:][A-Za-z0-9_.:]{0,199}")


@dataclass(frozen=True)
class PolicyDraft:
    meter_key: str
    service: str
    signal: str
    capacity: float
    warning_ratio: float
    horizon_days: int
    matchers: list[Matcher] = field(default_factory=list)


def require_meter_key(meter_key: str, *, field: str) -> None:
    if not _METER_KEY.fullmatch(meter_key):
        raise InvalidInput(
            "meterKey must be 1-200 printable ASCII characters without spaces", field=field
        )


async def check(session: AsyncSession, draft: PolicyDraft) -> None:
    """Refuse a bad draft as bad input, naming the field."""
    require_meter_key(draft.meter_key, field="input.meterKey")
    require_service_name(draft.service, field="input.service")
    if not _SIGNAL.fullmatch(draft.signal):
        raise InvalidInput(
            "signal must be a metric name: letters, digits, _ . and :", field="input.signal"
        )
    if not (math.isfinite(draft.capacity) and 0 < draft.capacity <= MAX_CAPACITY):
        raise InvalidInput("capacity must be a finite number above 0", field="input.capacity")
    if not (math.isfinite(draft.warning_ratio) and 0 < draft.warning_ratio <= 1):
        raise InvalidInput(
            "warningRatio must be above 0 and at most 1, e.g. 0.8", field="input.warningRatio"
        )
    if not MIN_HORIZON_DAYS <= draft.horizon_days <= MAX_HORIZON_DAYS:
        raise InvalidInput(
            f"horizonDays must be between {MIN_HORIZON_DAYS} and {MAX_HORIZON_DAYS}",
            field="input.horizonDays",
        )
    validate_matchers(draft.matchers, field="input.labels")
    await check_patterns_in_database(session, draft.matchers, field="input.labels")


def _meter_changed(policy: CapacityPolicy, draft: PolicyDraft) -> bool:
    matchers = [matcher.to_dict() for matcher in draft.matchers]
    return (policy.service, policy.signal, policy.matchers) != (
        draft.service,
        draft.signal,
        matchers,
    )


async def _claim(
    session: AsyncSession, *, workspace_id: int, draft: PolicyDraft, now: datetime
) -> CapacityPolicy:
    """The meter's policy row, inserted from the draft when missing, locked.

    One INSERT ... ON CONFLICT: of two first upserts at once, one inserts and
    the other waits for it and updates; neither fails on the unique key."""
    dialect = (await session.connection()).dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(CapacityPolicy).values(
        workspace_id=workspace_id,
        meter_key=draft.meter_key,
        service=draft.service,
        signal=draft.signal,
        matchers=[matcher.to_dict() for matcher in draft.matchers],
        capacity=draft.capacity,
        warning_ratio=draft.warning_ratio,
        horizon_days=draft.horizon_days,
        created_at=now,
        updated_at=now,
    )
    claimed = statement.on_conflict_do_update(
        index_elements=[CapacityPolicy.workspace_id, CapacityPolicy.meter_key],
        set_={"updated_at": statement.excluded.updated_at},
    ).returning(CapacityPolicy.id)
    policy_id = (await session.execute(claimed)).scalar_one()
    fresh = select(CapacityPolicy).where(CapacityPolicy.id == policy_id)
    return (await session.scalars(fresh.execution_options(populate_existing=True))).one()


async def upsert(
    session: AsyncSession, *, workspace_id: int, draft: PolicyDraft, now: datetime
) -> CapacityPolicy:
    """Create the meter's policy, or replace its settings. A meter that selects
    other samples now starts its roll-ups afresh."""
    await check(session, draft)
    policy = await _claim(session, workspace_id=workspace_id, draft=draft, now=now)
    if _meter_changed(policy, draft):
        await session.execute(delete(CapacityRollup).where(CapacityRollup.policy_id == policy.id))
        policy.rolled_up_to_hour = None
    policy.service = draft.service
    policy.signal = draft.signal
    policy.matchers = [matcher.to_dict() for matcher in draft.matchers]
    policy.capacity = draft.capacity
    policy.warning_ratio = draft.warning_ratio
    policy.horizon_days = draft.horizon_days
    policy.updated_at = now
    await session.flush()
    return policy


def policy_matchers(policy: CapacityPolicy) -> list[Matcher]:
    return [Matcher.from_dict(stored) for stored in policy.matchers]
