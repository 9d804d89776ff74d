"""Aggregation rules: at most N notifications per group of alerts and window.

A rule groups the new alerts it matches by the values of its group-by labels.
A group's window opens with its first alert and lasts the rule's window; the
first ``max_notifications`` new alerts of a window are notified, the rest are
stored with ``noise_suppressed`` and an ``alert.noise_suppressed`` event. Each
alert belongs to the first rule (lowest id) that matches it. Silenced alerts
are not notified anyway and do not count.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from server.alerts.events import AlertEventType, alert_event, emit
from server.alerts.models import AggregationRule, Alert, AlertGroup
from server.core.db import get_in_workspace
from server.core.errors import InvalidInput
from server.core.matchers import (
    LABEL_NAME,
    Matcher,
    check_patterns_in_database,
    matches_all,
    validate_matchers,
)

MAX_GROUP_BY = 10
MAX_WINDOW = timedelta(days=7)
MAX_NOTIFICATIONS = 10_000


@dataclass(frozen=True)
class AggregationRuleDraft:
    name: str
    group_by: list[str]
    window_seconds: int
    max_notifications: int
    matchers: list[Matcher]


async def _check(session: AsyncSession, draft: AggregationRuleDraft) -> AggregationRuleDraft:
    name = draft.name.strip()
    if not 1 <= len(name) <= 200 or "\x00" in name:
        raise InvalidInput("name must be 1-200 characters, without NUL", field="input.name")
    if len(draft.group_by) > MAX_GROUP_BY:
        raise InvalidInput(f"group by at most {MAX_GROUP_BY} labels", field="input.groupBy")
    for index, label in enumerate(draft.group_by):
        if not LABEL_NAME.fullmatch(label):
            raise InvalidInput(f"label name {label!r} is invalid", field=f"input.groupBy[{index}]")
    if len(set(draft.group_by)) != len(draft.group_by):
        raise InvalidInput("a label is given twice", field="input.groupBy")
    if not 1 <= draft.window_seconds <= MAX_WINDOW.total_seconds():
        raise InvalidInput(
            f"windowSeconds must be between 1 and {int(MAX_WINDOW.total_seconds())}",
            field="input.windowSeconds",
        )
    if not 0 <= draft.max_notifications <= MAX_NOTIFICATIONS:
        raise InvalidInput(
            f"maxNotifications must be between 0 and {MAX_NOTIFICATIONS}",
            field="input.maxNotifications",
        )
    matchers = validate_matchers(draft.matchers, field="input.matchers")
    await check_patterns_in_database(session, matchers, field="input.matchers")
    return AggregationRuleDraft(
        name, draft.group_by, draft.window_seconds, draft.max_notifications, matchers
    )


def _apply(rule: AggregationRule, draft: AggregationRuleDraft, now: datetime) -> None:
    rule.name = draft.name
    rule.group_by = list(draft.group_by)
    rule.window_seconds = draft.window_seconds
    rule.max_notifications = draft.max_notifications
    rule.matchers = [matcher.to_dict() for matcher in draft.matchers]
    rule.updated_at = now


async def create(
    session: AsyncSession, *, workspace_id: int, draft: AggregationRuleDraft, now: datetime
) -> AggregationRule:
    rule = AggregationRule(workspace_id=workspace_id, created_at=now)
    _apply(rule, await _check(session, draft), now)
    session.add(rule)
    await session.flush()
    return rule


async def get(session: AsyncSession, *, workspace_id: int, rule_id: int) -> AggregationRule:
    return await get_in_workspace(
        session, AggregationRule, rule_id, workspace_id=workspace_id, what="aggregation rule"
    )


async def update_rule(
    session: AsyncSession,
    *,
    workspace_id: int,
    rule_id: int,
    draft: AggregationRuleDraft,
    now: datetime,
) -> AggregationRule:
    """Change a rule; its groups start afresh, as their keys may mean something else."""
    rule = await get(session, workspace_id=workspace_id, rule_id=rule_id)
    _apply(rule, await _check(session, draft), now)
    await session.execute(delete(AlertGroup).where(AlertGroup.rule_id == rule.id))
    await session.flush()
    return rule


async def delete_rule(session: AsyncSession, *, workspace_id: int, rule_id: int) -> AggregationRule:
    rule = await get(session, workspace_id=workspace_id, rule_id=rule_id)
    await session.execute(delete(AggregationRule).where(AggregationRule.id == rule.id))
    return rule


def rules_query(*, workspace_id: int) -> Select[AggregationRule]:
    return select(AggregationRule).where(AggregationRule.workspace_id == workspace_id)


def groups_query(*, workspace_id: int, rule_id: int | None) -> Select[AlertGroup]:
    query = select(AlertGroup).where(AlertGroup.workspace_id == workspace_id)
    if rule_id is not None:
        query = query.where(AlertGroup.rule_id == rule_id)
    return query


def group_key(values: dict[str, str]) -> str:
    canonical = json.dumps(sorted(values.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Grouped:
    rule: AggregationRule
    labels: dict[str, str]
    alerts: list[Alert]


def _group(rules: list[AggregationRule], alerts: list[Alert]) -> dict[tuple[int, str], _Grouped]:
    compiled = [(rule, [Matcher.from_dict(m) for m in rule.matchers]) for rule in rules]
    groups: dict[tuple[int, str], _Grouped] = {}
    for alert in alerts:
        seen = {**alert.labels, "service": alert.service}
        rule = next((rule for rule, matchers in compiled if matches_all(matchers, seen)), None)
        if rule is None:
            continue
        values = {label: seen.get(label, "") for label in rule.group_by}
        key = (rule.id, group_key(values))
        groups.setdefault(key, _Grouped(rule, values, [])).alerts.append(alert)
    return groups


async def _locked_groups(
    session: AsyncSession,
    workspace_id: int,
    grouped: dict[tuple[int, str], _Grouped],
    now: datetime,
) -> dict[tuple[int, str], AlertGroup]:
    """The group rows, created if new, locked until commit (in a fixed order)."""
    connection = await session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(AlertGroup)
        .values(
            [
                {
                    "workspace_id": workspace_id,
                    "rule_id": rule_id,
                    "group_key": key,
                    "group_labels": group.labels,
                    "window_started_at": now,
                    "window_alerts": 0,
                    "window_notified": 0,
                    "window_suppressed": 0,
                    "total_alerts": 0,
                    "total_suppressed": 0,
                    "last_alert_at": now,
                }
                for (rule_id, key), group in sorted(grouped.items())
            ]
        )
        .on_conflict_do_nothing(index_elements=["rule_id", "group_key"])
    )
    rows = await session.scalars(
        select(AlertGroup)
        .where(tuple_(AlertGroup.rule_id, AlertGroup.group_key).in_(list(grouped)))
        .order_by(AlertGroup.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {(row.rule_id, row.group_key): row for row in rows.all()}


async def aggregate(
    session: AsyncSession, *, workspace_id: int, new_alerts: list[Alert], now: datetime
) -> None:
    """Count new, unsilenced alerts into their groups; mark those over the limit."""
    if not new_alerts:
        return
    ordered = rules_query(workspace_id=workspace_id).order_by(AggregationRule.id)
    rules = list((await session.scalars(ordered)).all())
    grouped = _group(rules, new_alerts)
    if not grouped:
        return
    rows = await _locked_groups(session, workspace_id, grouped, now)
    suppressed: dict[int, tuple[Alert, AlertGroup]] = {}
    for key, group in grouped.items():
        row = rows[key]
        if now >= row.window_started_at + timedelta(seconds=group.rule.window_seconds):
            row.window_started_at = now
            row.window_alerts = row.window_notified = row.window_suppressed = 0
        allowed = max(group.rule.max_notifications - row.window_notified, 0)
        over = group.alerts[allowed:]
        row.window_alerts += len(group.alerts)
        row.window_notified += len(group.alerts) - len(over)
        row.window_suppressed += len(over)
        row.total_alerts += len(group.alerts)
        row.total_suppressed += len(over)
        row.last_alert_at = now
        suppressed.update((alert.id, (alert, row)) for alert in over)
    await session.flush()
    await _mark_suppressed(session, suppressed, now)


async def _mark_suppressed(
    session: AsyncSession, suppressed: dict[int, tuple[Alert, AlertGroup]], now: datetime
) -> None:
    if not suppressed:
        return
    await session.execute(
        update(Alert)
        .where(Alert.id.in_(list(suppressed)))
        .values(noise_suppressed=True)
        .execution_options(synchronize_session=False)
    )
    rows: list[dict[str, Any]] = []
    for alert, group in suppressed.values():
        set_committed_value(alert, "noise_suppressed", True)
        rows.append(
            alert_event(
                alert,
                AlertEventType.NOISE_SUPPRESSED,
                now,
                aggregationRuleId=str(group.rule_id),
                groupLabels=group.group_labels,
            )
        )
    await emit(session, rows)


async def rule_windows(session: AsyncSession, *, workspace_id: int) -> dict[int, int]:
    """Each rule's window in seconds."""
    rows = await session.execute(
        select(AggregationRule.id, AggregationRule.window_seconds).where(
            AggregationRule.workspace_id == workspace_id
        )
    )
    return dict(rows.all())
