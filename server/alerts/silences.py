"""Silence rules: matching alerts are stored and visible but not notified or escalated.

A rule is in effect from ``starts_at`` to ``ends_at``; with a recurrence it
silences only inside its weekly windows (e.g. every Sunday 02:00-04:00 UTC)
during that span. Open alerts follow their rules: creating, changing or
expiring a rule re-checks them at once, and a periodic sweep catches rules
that start, end or enter a window with time alone.
"""

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.events import AlertEventType, alert_event, emit
from server.alerts.models import OPEN_STATUSES, Alert, SilenceRule
from server.core.clock import require_offset
from server.core.db import get_in_workspace
from server.core.errors import Conflict, InvalidInput
from server.core.events.outbox import Outbox
from server.core.matchers import Matcher, check_patterns_in_database, matches_all, validate_matchers

MAX_COMMENT = 2000
MAX_WINDOW_MINUTES = 7 * 24 * 60
_HOUR_MINUTE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class Weekday(IntEnum):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class SilenceState(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class Recurrence:
    """Weekly windows in UTC: on each of ``weekdays`` (0 = Monday) from
    ``start_minute`` after midnight, for ``duration_minutes``."""

    weekdays: tuple[int, ...]
    start_minute: int
    duration_minutes: int

    def covers(self, at: datetime) -> bool:
        # A window may run past midnight, into the following days.
        days_back = self.duration_minutes // (24 * 60) + 1
        for offset in range(days_back + 1):
            day = (at - timedelta(days=offset)).date()
            if day.weekday() not in self.weekdays:
                continue
            opens = datetime.combine(day, time(), UTC) + timedelta(minutes=self.start_minute)
            if opens <= at < opens + timedelta(minutes=self.duration_minutes):
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        return {
            "weekdays": list(self.weekdays),
            "start_minute": self.start_minute,
            "duration_minutes": self.duration_minutes,
        }

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> "Recurrence":
        return cls(
            weekdays=tuple(stored["weekdays"]),
            start_minute=stored["start_minute"],
            duration_minutes=stored["duration_minutes"],
        )


@dataclass(frozen=True)
class RecurrenceDraft:
    weekdays: list[int]
    start_time: str
    duration_minutes: int


@dataclass(frozen=True)
class SilenceDraft:
    matchers: list[Matcher]
    ends_at: datetime
    starts_at: datetime | None = None
    comment: str | None = None
    recurrence: RecurrenceDraft | None = None


@dataclass(frozen=True)
class _Checked:
    matchers: list[Matcher]
    starts_at: datetime
    ends_at: datetime
    comment: str | None
    recurrence: Recurrence | None = field(default=None)


def rule_matchers(rule: SilenceRule) -> list[Matcher]:
    return [Matcher.from_dict(stored) for stored in rule.matchers]


def rule_recurrence(rule: SilenceRule) -> Recurrence | None:
    return Recurrence.from_dict(rule.recurrence) if rule.recurrence else None


def state_at(rule: SilenceRule, at: datetime) -> SilenceState:
    if at < rule.starts_at:
        return SilenceState.PENDING
    if at >= rule.ends_at:
        return SilenceState.EXPIRED
    return SilenceState.ACTIVE


def silences_at(rule: SilenceRule, at: datetime) -> bool:
    """Whether the rule silences matching alerts at ``at``."""
    if state_at(rule, at) is not SilenceState.ACTIVE:
        return False
    recurrence = rule_recurrence(rule)
    return recurrence is None or recurrence.covers(at)


def _check_recurrence(draft: RecurrenceDraft) -> Recurrence:
    if not draft.weekdays or any(not 0 <= day <= 6 for day in draft.weekdays):
        raise InvalidInput("give one or more weekdays", field="input.recurrence.weekdays")
    found = _HOUR_MINUTE.fullmatch(draft.start_time)
    if found is None:
        raise InvalidInput(
            "startTime must be HH:MM in UTC, e.g. 02:00", field="input.recurrence.startTime"
        )
    if not 1 <= draft.duration_minutes <= MAX_WINDOW_MINUTES:
        raise InvalidInput(
            f"durationMinutes must be between 1 and {MAX_WINDOW_MINUTES}",
            field="input.recurrence.durationMinutes",
        )
    return Recurrence(
        weekdays=tuple(sorted(set(draft.weekdays))),
        start_minute=int(found[1]) * 60 + int(found[2]),
        duration_minutes=draft.duration_minutes,
    )


async def _check(session: AsyncSession, draft: SilenceDraft, *, now: datetime) -> _Checked:
    if not draft.matchers:
        raise InvalidInput("a silence needs at least one matcher", field="input.matchers")
    matchers = validate_matchers(draft.matchers, field="input.matchers")
    if all(matcher.matches({}) for matcher in matchers):
        raise InvalidInput(
            "at least one matcher must need a label value (these would silence everything)",
            field="input.matchers",
        )
    await check_patterns_in_database(session, matchers, field="input.matchers")
    require_offset(draft.starts_at, field="input.startsAt")
    require_offset(draft.ends_at, field="input.endsAt")
    starts_at = (draft.starts_at or now).astimezone(UTC)
    ends_at = draft.ends_at.astimezone(UTC)
    if ends_at <= now:
        raise InvalidInput("endsAt lies in the past", field="input.endsAt")
    if ends_at <= starts_at:
        raise InvalidInput("endsAt must be after startsAt", field="input.endsAt")
    comment = draft.comment
    if comment is not None and (len(comment) > MAX_COMMENT or "\x00" in comment):
        raise InvalidInput(
            f"comment may be at most {MAX_COMMENT} characters, without NUL",
            field="input.comment",
        )
    recurrence = _check_recurrence(draft.recurrence) if draft.recurrence else None
    return _Checked(matchers, starts_at, ends_at, comment, recurrence)


def _apply(rule: SilenceRule, checked: _Checked, now: datetime) -> None:
    rule.matchers = [matcher.to_dict() for matcher in checked.matchers]
    rule.starts_at = checked.starts_at
    rule.ends_at = checked.ends_at
    rule.comment = checked.comment
    rule.recurrence = checked.recurrence.to_dict() if checked.recurrence else None
    rule.updated_at = now


async def create(
    session: AsyncSession, *, workspace_id: int, draft: SilenceDraft, author: str, now: datetime
) -> SilenceRule:
    checked = await _check(session, draft, now=now)
    rule = SilenceRule(workspace_id=workspace_id, author=author, created_at=now)
    _apply(rule, checked, now)
    session.add(rule)
    await session.flush()
    await reconcile(session, workspace_id=workspace_id, now=now)
    return rule


async def get(session: AsyncSession, *, workspace_id: int, rule_id: int) -> SilenceRule:
    return await get_in_workspace(
        session, SilenceRule, rule_id, workspace_id=workspace_id, what="silence rule"
    )


async def update_rule(
    session: AsyncSession, *, workspace_id: int, rule_id: int, draft: SilenceDraft, now: datetime
) -> SilenceRule:
    rule = await get(session, workspace_id=workspace_id, rule_id=rule_id)
    if state_at(rule, now) is SilenceState.EXPIRED:
        raise Conflict(f"silence rule {rule_id} has expired; create a new one")
    if draft.starts_at is None:  # left out: the rule keeps its start
        draft = replace(draft, starts_at=rule.starts_at)
    _apply(rule, await _check(session, draft, now=now), now)
    await session.flush()
    await reconcile(session, workspace_id=workspace_id, now=now)
    return rule


async def expire(
    session: AsyncSession, *, workspace_id: int, rule_id: int, now: datetime
) -> SilenceRule:
    """End the rule now; a pending rule ends before it started."""
    rule = await get(session, workspace_id=workspace_id, rule_id=rule_id)
    if state_at(rule, now) is SilenceState.EXPIRED:
        raise Conflict(f"silence rule {rule_id} has expired already")
    rule.starts_at = min(rule.starts_at, now)
    rule.ends_at = now
    rule.updated_at = now
    await session.flush()
    await reconcile(session, workspace_id=workspace_id, now=now)
    return rule


async def delete_rule(
    session: AsyncSession, *, workspace_id: int, rule_id: int, now: datetime
) -> SilenceRule:
    rule = await get(session, workspace_id=workspace_id, rule_id=rule_id)
    await session.execute(delete(SilenceRule).where(SilenceRule.id == rule.id))
    await reconcile(session, workspace_id=workspace_id, now=now)
    return rule


def rules_query(
    *, workspace_id: int, state: SilenceState | None, now: datetime
) -> Select[SilenceRule]:
    query = select(SilenceRule).where(SilenceRule.workspace_id == workspace_id)
    if state is SilenceState.PENDING:
        query = query.where(SilenceRule.starts_at > now)
    elif state is SilenceState.ACTIVE:
        query = query.where(SilenceRule.starts_at <= now, SilenceRule.ends_at > now)
    elif state is SilenceState.EXPIRED:
        query = query.where(SilenceRule.ends_at <= now)
    return query


async def silencing_rules(
    session: AsyncSession, *, workspace_id: int, now: datetime
) -> list[SilenceRule]:
    """The rules that silence at ``now``."""
    rules = await session.scalars(
        rules_query(workspace_id=workspace_id, state=SilenceState.ACTIVE, now=now).order_by(
            SilenceRule.id
        )
    )
    return [rule for rule in rules.all() if silences_at(rule, now)]


def silenced_by(rules: list[SilenceRule], match_labels: dict[str, str]) -> bool:
    return any(matches_all(rule_matchers(rule), match_labels) for rule in rules)


def _silenced_sql(rules: list[SilenceRule]) -> ColumnElement[bool]:
    service = {"service": Alert.service}
    conditions = [
        and_(*(matcher.to_sql(Alert.labels, service) for matcher in rule_matchers(rule)))
        for rule in rules
    ]
    return or_(*conditions) if conditions else false()


async def reconcile(session: AsyncSession, *, workspace_id: int, now: datetime) -> int:
    """Set ``silenced`` on the open alerts of a workspace to what its rules say now.

    Set-based: one UPDATE each way; every alert that changes gets an event.
    Returns how many changed.
    """
    silenced = _silenced_sql(await silencing_rules(session, workspace_id=workspace_id, now=now))
    changed = 0
    for becomes, condition, type_ in (
        (True, silenced, AlertEventType.SUPPRESSED),
        (False, ~silenced, AlertEventType.UNSUPPRESSED),
    ):
        alerts = (
            await session.scalars(
                update(Alert)
                .where(
                    Alert.workspace_id == workspace_id,
                    Alert.status.in_(OPEN_STATUSES),
                    Alert.silenced.is_(not becomes),
                    condition,
                )
                .values(silenced=becomes)
                .returning(Alert)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
        ).all()
        await emit(session, [alert_event(alert, type_, now) for alert in alerts])
        changed += len(alerts)
    return changed


async def workspaces_to_sweep(session: AsyncSession, *, since: datetime) -> list[int]:
    """Workspaces whose rules may have changed state since ``since``, or that
    still hold silenced open alerts."""
    with_rules = select(SilenceRule.workspace_id).where(SilenceRule.ends_at > since)
    with_silenced = select(Alert.workspace_id).where(
        Alert.status.in_(OPEN_STATUSES), Alert.silenced.is_(True)
    )
    rows = await session.scalars(with_rules.union(with_silenced))
    return sorted(set(rows.all()))


async def sweep(outbox: Outbox, *, now: datetime, interval: timedelta) -> int:
    """Bring every workspace's open alerts in line with its rules at ``now``."""
    changed = 0
    async with outbox.transaction() as session:
        # Twice the interval back: a rule that ended just before a late sweep counts.
        for workspace_id in await workspaces_to_sweep(session, since=now - 2 * interval):
            changed += await reconcile(session, workspace_id=workspace_id, now=now)
    return changed
