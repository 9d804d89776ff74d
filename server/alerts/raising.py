"""Raising alerts: a whole batch is deduplicated, stored and announced set-based.

One ``INSERT .. ON CONFLICT DO UPDATE .. RETURNING`` statement stores a batch
(on PostgreSQL, the same statement logs its events). A fingerprint with an open alert
(FIRING or ACKNOWLEDGED) updates it (count +1, last fired now; the latest
annotations and generator URL; the later end, as Alertmanager merges ``endsAt``,
and a raise without one keeps the one it had); any other opens a new alert.
The unique index on open fingerprints makes this hold under concurrent raises
too. Rows go in fingerprint order, so that concurrent batches lock alerts in the
same order.

Automated sources in other domains (the SLO evaluator) reach the alerts domain
through this module alone: it re-exports the drafts they raise and what they do
to their open alerts besides (``automation``).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import aggregation, silences
from server.alerts.automation import flag_needs_postmortem as flag_needs_postmortem
from server.alerts.automation import open_alerts as open_alerts
from server.alerts.automation import resolve as resolve
from server.alerts.automation import set_inhibited as set_inhibited
from server.alerts.drafts import AlertDraft as AlertDraft
from server.alerts.drafts import AlertSource as AlertSource
from server.alerts.drafts import AlertStatus
from server.alerts.drafts import Severity as Severity
from server.alerts.events import AlertEventType, alert_event, alert_payload_sql, emit
from server.alerts.models import OPEN_CONDITION, OPEN_STATUSES
from server.alerts.models import Alert as Alert
from server.core.db import UTCDateTime
from server.core.events import service as events
from server.core.events.service import Stream


@dataclass(frozen=True, slots=True)
class _Raise:
    draft: AlertDraft
    occurrences: int
    silenced: bool


def _collapse(drafts: list[AlertDraft]) -> dict[str, tuple[AlertDraft, int]]:
    """One entry per fingerprint: its last draft and how often the batch raised it."""
    collapsed: dict[str, tuple[AlertDraft, int]] = {}
    for draft in drafts:
        previous = collapsed.get(draft.fingerprint)
        collapsed[draft.fingerprint] = (draft, previous[1] + 1 if previous else 1)
    return collapsed


def _row(workspace_id: int, raised: _Raise, now: datetime) -> dict[str, Any]:
    draft = raised.draft
    return {
        "workspace_id": workspace_id,
        "fingerprint": draft.fingerprint,
        "source": draft.source.value,
        "severity": draft.severity.value,
        "status": AlertStatus.FIRING.value,
        "service": draft.service,
        "summary": draft.summary,
        "labels": draft.labels,
        "occurrence_count": raised.occurrences,
        "silenced": raised.silenced,
        "noise_suppressed": False,
        "inhibited": draft.inhibited,
        "first_fired_at": now,
        "last_fired_at": now,
        "annotations": draft.annotations,
        "generator_url": draft.generator_url,
        "ends_at": draft.ends_at,
    }


_FIRED = AlertEventType.FIRED.value
_DEDUPLICATED = AlertEventType.DEDUPLICATED.value
_PAYLOAD = alert_payload_sql("u")

#: The PostgreSQL form of the upsert, which also logs each alert's event (fired
#: or deduplicated) with its payload built in the database: the batch travels as
#: one array per column, the statement text (and its plan) is the same for every
#: batch, and no event payload crosses the wire.
_UPSERT_AND_LOG = text(
    f"""
    WITH incoming AS (
        SELECT * FROM unnest(
            CAST(:fingerprints AS text[]), CAST(:sources AS text[]),
            CAST(:severities AS text[]), CAST(:services AS text[]),
            CAST(:summaries AS text[]), CAST(:labels AS text[]),
            CAST(:occurrences AS integer[]), CAST(:silenced AS boolean[]),
            CAST(:inhibited AS boolean[]), CAST(:annotations AS text[]),
            CAST(:generator_urls AS text[]), CAST(:ends_at AS timestamptz[])
        ) AS i(
            fingerprint, source, severity, service, summary, labels, occurrences, silenced,
            inhibited, annotations, generator_url, ends_at
        )
    ), upserted AS (
        INSERT INTO alerts AS alert (
            workspace_id, fingerprint, source, severity, status, service, summary, labels,
            occurrence_count, silenced, noise_suppressed, inhibited, first_fired_at,
            last_fired_at, annotations, generator_url, ends_at
        )
        SELECT :workspace_id, i.fingerprint, i.source, i.severity, 'FIRING', i.service,
               i.summary, CAST(i.labels AS jsonb), i.occurrences, i.silenced, false,
               i.inhibited, :now, :now, CAST(i.annotations AS jsonb), i.generator_url,
               i.ends_at
        FROM incoming AS i
        ORDER BY i.fingerprint
        ON CONFLICT (workspace_id, fingerprint) WHERE status IN ('FIRING', 'ACKNOWLEDGED')
        DO UPDATE SET
            occurrence_count = alert.occurrence_count + excluded.occurrence_count,
            last_fired_at = excluded.last_fired_at,
            severity = excluded.severity,
            summary = excluded.summary,
            labels = excluded.labels,
            silenced = alert.silenced OR excluded.silenced,
            annotations = excluded.annotations,
            generator_url = excluded.generator_url,
            ends_at = GREATEST(alert.ends_at, excluded.ends_at)
        RETURNING alert.*
    ), logged AS (
        INSERT INTO events (
            workspace_id, stream, type, subject_id, service, severity, payload, occurred_at
        )
        SELECT u.workspace_id, '{Stream.ALERT.value}',
               CASE WHEN u.occurrence_count = i.occurrences
                    THEN '{_FIRED}' ELSE '{_DEDUPLICATED}' END,
               u.id, u.service, u.severity,
               CASE WHEN u.occurrence_count = i.occurrences THEN {_PAYLOAD}
                    ELSE {_PAYLOAD} || jsonb_build_object('occurrences', i.occurrences) END,
               :now
        FROM upserted AS u JOIN incoming AS i ON i.fingerprint = u.fingerprint
        ORDER BY u.fingerprint
    )
    SELECT * FROM upserted
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


def _json_text(document: dict[str, str]) -> str:
    return orjson.dumps(document).decode()


def _upsert_values(workspace_id: int, raises: list[_Raise], now: datetime) -> Any:
    """The SQLite form: a multi-row INSERT .. ON CONFLICT to the same effect (SQLite
    has no arrays; its writes are serialised, so the events follow in Python)."""
    values = sqlite_insert(Alert)
    return (
        values.on_conflict_do_update(
            index_elements=[Alert.workspace_id, Alert.fingerprint],
            index_where=OPEN_CONDITION,
            set_={
                "occurrence_count": Alert.occurrence_count + values.excluded.occurrence_count,
                "last_fired_at": values.excluded.last_fired_at,
                "severity": values.excluded.severity,
                "summary": values.excluded.summary,
                "labels": values.excluded.labels,
                # Raising can only silence; lifting a silence is the silences' sweep.
                "silenced": Alert.silenced | values.excluded.silenced,
                "annotations": values.excluded.annotations,
                "generator_url": values.excluded.generator_url,
                # The later of the two ends (SQLite's max() is NULL if either is).
                "ends_at": func.max(
                    func.coalesce(Alert.ends_at, values.excluded.ends_at),
                    func.coalesce(values.excluded.ends_at, Alert.ends_at),
                ),
            },
        )
        .values([_row(workspace_id, raised, now) for raised in raises])
        .returning(Alert)
    )


async def _upsert(
    session: AsyncSession, workspace_id: int, raises: list[_Raise], now: datetime
) -> tuple[dict[str, Alert], bool]:
    """Store the batch: the alert of each fingerprint, and whether their fired or
    deduplicated events were logged too."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        statement = select(Alert).from_statement(_upsert_values(workspace_id, raises, now))
        result = await session.scalars(statement, execution_options={"populate_existing": True})
        return {alert.fingerprint: alert for alert in result.all()}, False
    parameters = {
        "workspace_id": workspace_id,
        "now": now,
        "fingerprints": [r.draft.fingerprint for r in raises],
        "sources": [r.draft.source.value for r in raises],
        "severities": [r.draft.severity.value for r in raises],
        "services": [r.draft.service for r in raises],
        "summaries": [r.draft.summary for r in raises],
        "labels": [_json_text(r.draft.labels) for r in raises],
        "occurrences": [r.occurrences for r in raises],
        "silenced": [r.silenced for r in raises],
        "inhibited": [r.draft.inhibited for r in raises],
        "annotations": [_json_text(r.draft.annotations) for r in raises],
        "generator_urls": [r.draft.generator_url for r in raises],
        "ends_at": [r.draft.ends_at for r in raises],
    }
    result = await session.scalars(
        select(Alert).from_statement(_UPSERT_AND_LOG),
        parameters,
        execution_options={"populate_existing": True},
    )
    events.note_appended(session)
    return {alert.fingerprint: alert for alert in result.all()}, True


async def _already_silenced(
    session: AsyncSession, workspace_id: int, fingerprints: list[str]
) -> set[str]:
    if not fingerprints:
        return set()
    rows = await session.scalars(
        select(Alert.fingerprint).where(
            Alert.workspace_id == workspace_id,
            Alert.fingerprint.in_(fingerprints),
            Alert.status.in_(OPEN_STATUSES),
            Alert.silenced.is_(True),
        )
    )
    return set(rows.all())


async def raise_alerts(
    session: AsyncSession, *, workspace_id: int, drafts: list[AlertDraft], now: datetime
) -> list[Alert]:
    """Store a validated batch; returns the alert of each draft, in order."""
    silencers = await silences.silencing_rules(session, workspace_id=workspace_id, now=now)
    raises = [
        _Raise(
            draft, count, bool(silencers) and silences.silenced_by(silencers, draft.match_labels)
        )
        for _fingerprint, (draft, count) in sorted(_collapse(drafts).items())
    ]
    silenced_before = await _already_silenced(
        session, workspace_id, [r.draft.fingerprint for r in raises if r.silenced]
    )
    by_fingerprint, logged = await _upsert(session, workspace_id, raises, now)
    rows: list[dict[str, Any]] = []
    new_alerts: list[Alert] = []
    for raised in raises:
        alert = by_fingerprint[raised.draft.fingerprint]
        opened = alert.occurrence_count == raised.occurrences
        if opened and not logged:
            rows.append(alert_event(alert, AlertEventType.FIRED, now))
        elif not logged:
            rows.append(
                alert_event(alert, AlertEventType.DEDUPLICATED, now, occurrences=raised.occurrences)
            )
        if raised.silenced and (opened or alert.fingerprint not in silenced_before):
            rows.append(alert_event(alert, AlertEventType.SUPPRESSED, now))
        elif opened and alert.inhibited:
            rows.append(alert_event(alert, AlertEventType.INHIBITED, now))
        elif opened:
            new_alerts.append(alert)
        if opened and logged:
            events.note_appended(session, _FIRED)
    await emit(session, rows)
    await aggregation.aggregate(session, workspace_id=workspace_id, new_alerts=new_alerts, now=now)
    return [by_fingerprint[draft.fingerprint] for draft in drafts]
