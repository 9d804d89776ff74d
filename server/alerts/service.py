"""The alerts domain's front door: alerts, silence rules, aggregation rules, SLA figures.

The schema calls only this module; the modules beside it (``raising``,
``lifecycle``, ``queries``, ``silences``, ``aggregation``, ``drafts``) hold the
rules and the SQL. Other domains raise alerts through ``raising`` instead, the
named entry point the import contracts allow them. Every lookup is scoped to the
caller's workspace, so that a row of another workspace reads as missing. Services
flush and never commit: the caller's transaction does, and only then are events
published.

``list_*`` return a ``Listing`` (a query and its order, not yet run) for the
caller to page; those that check their input against the database take a session.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import aggregation, drafts, lifecycle, queries, raising, silences
from server.alerts.aggregation import AggregationRuleDraft
from server.alerts.aggregation import create as create_aggregation_rule
from server.alerts.aggregation import delete_rule as delete_aggregation_rule
from server.alerts.aggregation import update_rule as update_aggregation_rule
from server.alerts.drafts import AlertInputLike, AlertSource, AlertStatus, Severity
from server.alerts.events import AlertEventType
from server.alerts.lifecycle import ACKNOWLEDGE, CLOSE, RESOLVE, Transition
from server.alerts.models import AggregationRule, Alert, AlertGroup, SilenceRule
from server.alerts.queries import (
    AlertFilter,
    OpenAlertCount,
    SlaFigures,
    open_alert_counts,
    sla_overview,
)
from server.alerts.silences import (
    Recurrence,
    RecurrenceDraft,
    SilenceDraft,
    SilenceState,
    Weekday,
    rule_matchers,
    rule_recurrence,
    silences_at,
    state_at,
)
from server.alerts.silences import create as create_silence_rule
from server.alerts.silences import delete_rule as delete_silence_rule
from server.alerts.silences import expire as expire_silence_rule
from server.alerts.silences import update_rule as update_silence_rule
from server.core.db import find_in_workspace
from server.core.events import service as events
from server.core.events.service import EventRecord, Stream
from server.core.matchers import check_patterns_in_database
from server.core.pagination import Listing

__all__ = [
    "ACKNOWLEDGE",
    "CLOSE",
    "RESOLVE",
    "Transition",
    "transition",
    "AggregationRule",
    "AggregationRuleDraft",
    "Alert",
    "AlertEventType",
    "AlertFilter",
    "AlertGroup",
    "AlertGroupListing",
    "AlertSource",
    "AlertStatus",
    "OpenAlertCount",
    "Recurrence",
    "RecurrenceDraft",
    "Severity",
    "SilenceDraft",
    "SilenceRule",
    "SilenceState",
    "SlaFigures",
    "Weekday",
    "alert_timelines",
    "create_aggregation_rule",
    "create_silence_rule",
    "delete_aggregation_rule",
    "delete_silence_rule",
    "expire_silence_rule",
    "find_alert",
    "find_silence_rule",
    "list_aggregation_rules",
    "list_alert_groups",
    "list_alerts",
    "list_silence_rules",
    "open_alert_counts",
    "raise_alert",
    "raise_alerts",
    "rule_matchers",
    "rule_recurrence",
    "silences_at",
    "sla_overview",
    "state_at",
    "update_aggregation_rule",
    "update_silence_rule",
]


# Alerts: reading


async def list_alerts(
    session: AsyncSession, *, workspace_id: int, filter_: AlertFilter
) -> Listing[Alert]:
    """The workspace's alerts that pass ``filter_``; refuses a label pattern the
    database could not compile, which would otherwise fail inside the query."""
    query, params = queries.alerts_query(workspace_id=workspace_id, filter_=filter_)
    await check_patterns_in_database(session, filter_.matchers, field="filter.labels")
    return Listing(query, (Alert.id,), params)


async def find_alert(session: AsyncSession, *, workspace_id: int, alert_id: int) -> Alert | None:
    return await find_in_workspace(session, Alert, alert_id, workspace_id=workspace_id)


async def alert_timelines(
    session: AsyncSession, *, workspace_id: int, alert_ids: list[int]
) -> list[list[EventRecord]]:
    """The events of each alert, oldest first, in the order of ``alert_ids``."""
    timelines = await events.subject_events(
        session, workspace_id=workspace_id, stream=Stream.ALERT, subject_ids=alert_ids
    )
    return [timelines[alert_id] for alert_id in alert_ids]


# Alerts: raising and the lifecycle


async def raise_alert(
    session: AsyncSession, *, workspace_id: int, item: AlertInputLike, now: datetime
) -> Alert:
    """Raise one alert, refused with errors under ``input``; an open alert with
    the same fingerprint is updated instead."""
    draft = drafts.validate_draft(item, field="input", now=now)
    (alert,) = await raising.raise_alerts(
        session, workspace_id=workspace_id, drafts=[draft], now=now
    )
    return alert


async def raise_alerts(
    session: AsyncSession,
    *,
    workspace_id: int,
    items: Sequence[AlertInputLike],
    max_batch: int,
    now: datetime,
) -> list[Alert]:
    """Raise a batch, all or none (errors under ``inputs``): one alert per item, in order."""
    checked = drafts.validate_drafts(list(items), max_batch=max_batch, field="inputs", now=now)
    return await raising.raise_alerts(session, workspace_id=workspace_id, drafts=checked, now=now)


async def transition(
    session: AsyncSession,
    move: Transition,
    *,
    workspace_id: int,
    alert_id: int,
    actor: str,
    now: datetime,
) -> Alert:
    """Move an alert along its lifecycle: ``ACKNOWLEDGE``, ``RESOLVE`` or ``CLOSE``."""
    return await lifecycle.apply(
        session, move, workspace_id=workspace_id, alert_id=alert_id, actor=actor, now=now
    )


# Silence rules


def list_silence_rules(
    *, workspace_id: int, state: SilenceState | None, now: datetime
) -> Listing[SilenceRule]:
    return Listing(
        silences.rules_query(workspace_id=workspace_id, state=state, now=now), (SilenceRule.id,)
    )


async def find_silence_rule(
    session: AsyncSession, *, workspace_id: int, rule_id: int
) -> SilenceRule | None:
    return await find_in_workspace(session, SilenceRule, rule_id, workspace_id=workspace_id)


# Aggregation rules and their groups


def list_aggregation_rules(*, workspace_id: int) -> Listing[AggregationRule]:
    return Listing(aggregation.rules_query(workspace_id=workspace_id), (AggregationRule.id,))


@dataclass(frozen=True)
class AlertGroupListing:
    """Alert groups, with each rule's window in seconds: a group's window ends
    one rule window after it opened."""

    listing: Listing[AlertGroup]
    window_seconds: Mapping[int, int]


async def list_alert_groups(
    session: AsyncSession, *, workspace_id: int, rule_id: int | None
) -> AlertGroupListing:
    return AlertGroupListing(
        listing=Listing(
            aggregation.groups_query(workspace_id=workspace_id, rule_id=rule_id), (AlertGroup.id,)
        ),
        window_seconds=await aggregation.rule_windows(session, workspace_id=workspace_id),
    )
