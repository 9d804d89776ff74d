"""Capacity alerts: one per policy, raised through the alerts domain with the
stable fingerprint ``capacity:<policy id>``, so repeated forecasts deduplicate.

A forecast whose path reaches the warning level (capacity x warning ratio)
within the policy's horizon raises the alert: WARNING, or CRITICAL when it
reaches the capacity itself within the horizon. A forecast that no longer does
resolves the open alert (as ``capacity-forecaster``).
"""

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.raising import (
    AlertDraft,
    AlertSource,
    Severity,
    open_alerts,
    raise_alerts,
    resolve,
)
from server.capacity.models import CapacityForecast, CapacityPolicy

ACTOR = "capacity-forecaster"
ALERT_NAME = "CapacityForecast"


def fingerprint(policy_id: int) -> str:
    return f"capacity:{policy_id}"


def _within_horizon(moment: datetime | None, forecast: CapacityForecast) -> bool:
    return moment is not None and moment <= forecast.created_at + timedelta(
        days=forecast.horizon_days
    )


def crosses_warning(forecast: CapacityForecast) -> bool:
    return _within_horizon(forecast.time_to_warning, forecast)


def _draft(policy: CapacityPolicy, forecast: CapacityForecast) -> AlertDraft:
    exhausted = _within_horizon(forecast.time_to_exhaustion, forecast)
    reaches = "its capacity" if exhausted else f"{forecast.warning_ratio:.0%} of its capacity"
    when = forecast.time_to_exhaustion if exhausted else forecast.time_to_warning
    assert when is not None
    summary = (
        f"{policy.meter_key} of {policy.service} is forecast to reach {reaches} "
        f"({forecast.capacity:g}) by {when.isoformat(timespec='minutes')}: "
        f"now {forecast.current_value:g}, {forecast.slope_per_day:+g} a day ({forecast.method})"
    )
    return AlertDraft(
        service=policy.service,
        summary=summary[:1000],
        severity=Severity.CRITICAL if exhausted else Severity.WARNING,
        source=AlertSource.RULE,
        labels={
            "alertname": ALERT_NAME,
            "meter_key": policy.meter_key,
            "capacity_policy_id": str(policy.id),
            "signal": policy.signal,
        },
        fingerprint=fingerprint(policy.id),
    )


async def apply_alerts(
    session: AsyncSession,
    *,
    forecasts: list[tuple[CapacityPolicy, CapacityForecast]],
    now: datetime,
) -> None:
    """Raise the alerts of the forecasts that cross, resolve those of the others."""
    drafts: dict[int, list[AlertDraft]] = defaultdict(list)
    calm: dict[int, list[str]] = defaultdict(list)
    for policy, forecast in forecasts:
        if crosses_warning(forecast):
            drafts[policy.workspace_id].append(_draft(policy, forecast))
        else:
            calm[policy.workspace_id].append(fingerprint(policy.id))
    for workspace_id, batch in drafts.items():
        await raise_alerts(session, workspace_id=workspace_id, drafts=batch, now=now)
    for workspace_id, fingerprints in calm.items():
        for alert in await open_alerts(
            session, workspace_id=workspace_id, fingerprints=fingerprints
        ):
            await resolve(session, alert=alert, actor=ACTOR, now=now)
