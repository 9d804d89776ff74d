"""Reading alerts: filtered listing, open counts and the SLA overview, in SQL."""

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.drafts import AlertStatus, Severity
from server.alerts.models import OPEN_STATUSES, Alert
from server.core.clock import require_offset
from server.core.errors import InvalidInput
from server.core.matchers import Matcher, validate_matchers
from server.core.text import refuse_nul

MAX_TEXT = 200


@dataclass(frozen=True)
class AlertFilter:
    service: str | None = None
    statuses: list[AlertStatus] = field(default_factory=list)
    severities: list[Severity] = field(default_factory=list)
    matchers: list[Matcher] = field(default_factory=list)
    from_: datetime | None = None
    to: datetime | None = None
    text: str | None = None


@functools.cache
def _alerts_query(
    *, service: bool, statuses: bool, severities: bool, from_: bool, to: bool
) -> Select[Alert]:
    """Alerts of a workspace, filtered on what is named; one kept query per shape,
    its values bound by name."""
    query = select(Alert).where(Alert.workspace_id == bindparam("workspace_id"))
    if service:
        query = query.where(Alert.service == bindparam("service"))
    if statuses:
        query = query.where(Alert.status.in_(bindparam("statuses", expanding=True)))
    if severities:
        query = query.where(Alert.severity.in_(bindparam("severities", expanding=True)))
    if from_:
        query = query.where(Alert.last_fired_at >= bindparam("from_"))
    if to:
        query = query.where(Alert.first_fired_at < bindparam("to"))
    return query


def alerts_query(
    *, workspace_id: int, filter_: AlertFilter
) -> tuple[Select[Alert], dict[str, Any]]:
    """Alerts of a workspace and the values of the query's parameters; ``from``/``to``
    keep those that fired in the range (first fired before ``to``, last fired at or
    after ``from``)."""
    require_offset(filter_.from_, field="filter.from")
    require_offset(filter_.to, field="filter.to")
    refuse_nul(filter_.service, field="filter.service")
    values: dict[str, Any] = {
        "service": filter_.service,
        "statuses": [status.value for status in filter_.statuses] or None,
        "severities": [severity.value for severity in filter_.severities] or None,
        "from_": filter_.from_,
        "to": filter_.to,
    }
    params = {key: value for key, value in values.items() if value is not None}
    query = _alerts_query(**{key: key in params for key in values})
    if filter_.text:
        if len(filter_.text) > MAX_TEXT or "\x00" in filter_.text:
            raise InvalidInput(
                f"text may be at most {MAX_TEXT} characters, without NUL", field="filter.text"
            )
        query = query.where(Alert.summary.icontains(filter_.text, autoescape=True))
    for matcher in validate_matchers(filter_.matchers, field="filter.labels"):
        query = query.where(matcher.to_sql(Alert.labels, {"service": Alert.service}))
    return query, params | {"workspace_id": workspace_id}


@dataclass(frozen=True)
class OpenAlertCount:
    service: str
    severity: Severity
    count: int


async def open_alert_counts(session: AsyncSession, *, workspace_id: int) -> list[OpenAlertCount]:
    rows = await session.execute(
        select(Alert.service, Alert.severity, func.count())
        .where(Alert.workspace_id == workspace_id, Alert.status.in_(OPEN_STATUSES))
        .group_by(Alert.service, Alert.severity)
        .order_by(Alert.service, Alert.severity)
    )
    return [
        OpenAlertCount(service=service, severity=Severity(severity), count=count)
        for service, severity, count in rows.all()
    ]


@dataclass(frozen=True)
class SlaFigures:
    total: int
    acknowledged: int
    resolved: int
    closed: int
    timeout_escalated: int
    mtta_seconds: float | None
    mttr_seconds: float | None

    @property
    def timeout_escalation_rate(self) -> float | None:
        return self.timeout_escalated / self.total if self.total else None


def _seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[float]:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier).cast(Float)
    # SQLite keeps UTC text; julianday() reads it as fractional days.
    return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)


async def sla_overview(
    session: AsyncSession,
    *,
    workspace_id: int,
    from_: datetime,
    to: datetime,
    service: str | None = None,
) -> SlaFigures:
    """Figures over the alerts first fired in ``[from_, to)``, computed in the database."""
    require_offset(from_, field="from")
    require_offset(to, field="to")
    if to <= from_:
        raise InvalidInput("to must be after from", field="to")
    dialect = (await session.connection()).dialect.name
    query = select(
        func.count(),
        func.count(Alert.acknowledged_at),
        func.count(Alert.resolved_at),
        func.count(Alert.closed_at),
        func.count(Alert.timeout_escalated_at),
        func.avg(_seconds_between(dialect, Alert.acknowledged_at, Alert.first_fired_at)),
        func.avg(_seconds_between(dialect, Alert.resolved_at, Alert.first_fired_at)),
    ).where(
        Alert.workspace_id == workspace_id,
        Alert.first_fired_at >= from_,
        Alert.first_fired_at < to,
    )
    if service is not None:
        query = query.where(Alert.service == service)
    row = (await session.execute(query)).one()
    total, acknowledged, resolved, closed, escalated, mtta, mttr = row
    return SlaFigures(
        total=total,
        acknowledged=acknowledged,
        resolved=resolved,
        closed=closed,
        timeout_escalated=escalated,
        mtta_seconds=float(mtta) if mtta is not None else None,
        mttr_seconds=float(mttr) if mttr is not None else None,
    )
