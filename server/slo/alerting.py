"""Burn-rate alerts: one alert per policy and firing pair, raised through the
alerts domain with a stable fingerprint, so repeated evaluations deduplicate.

- A firing pair raises (or re-raises) its alert: PAGE for the fast pairs
  (1h/5m, 6h/30m), WARNING for the slow ones (1d/2h, 3d/6h).
- Tiers: while a faster pair fires, the alerts of the slower pairs are stored
  but inhibited (``alert.inhibited``), so one incident pages once; they are
  uninhibited when no faster pair fires any more.
- A pair that stops firing has its open alert resolved by ``slo-evaluator``;
  with no pair firing, every alert of the policy is resolved.
- An open alert whose interval (from its first firing, at most the SLO window
  back) spent more than 20 % of the window's error budget is flagged
  ``needsPostmortem``.
"""

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.raising import (
    Alert,
    AlertDraft,
    AlertSource,
    Severity,
    flag_needs_postmortem,
    raise_alerts,
    resolve,
    set_inhibited,
)
from server.slo import budget
from server.slo.budget import Assessment, BurnPair, Counts
from server.slo.incidents import Incident, fingerprint, open_alerts_by_policy, policy_fingerprints
from server.slo.models import SloPolicy

ACTOR = "slo-evaluator"
ALERT_NAME = "SloErrorBudgetBurn"


def _rate(assessment: Assessment, window: str) -> str:
    rate = assessment.burn_rates[window]
    return "-" if rate is None else f"{rate:.1f}x"


def _factor(pair: BurnPair) -> str:
    return str(Decimal(pair.factor.numerator) / Decimal(pair.factor.denominator))


def _draft(policy: SloPolicy, pair: BurnPair, assessment: Assessment) -> AlertDraft:
    summary = (
        f"SLO {policy.name!r} of {policy.service} burns its error budget too fast: "
        f"{_rate(assessment, pair.long.name)} over {pair.long.name}, "
        f"{_rate(assessment, pair.short.name)} over {pair.short.name} "
        f"(alerts above {_factor(pair)}x)"
    )
    return AlertDraft(
        service=policy.service,
        summary=summary[:1000],
        severity=Severity.PAGE if pair.pages else Severity.WARNING,
        source=AlertSource.SLO,
        labels={
            "alertname": ALERT_NAME,
            "slo_policy_id": str(policy.id),
            "slo_policy": policy.name,
            "slo_pair": pair.name,
            "burn_factor": _factor(pair),
        },
        fingerprint=fingerprint(policy.id, pair.name),
    )


async def _flag_postmortems(
    session: AsyncSession,
    policy: SloPolicy,
    window: Counts,
    incidents: list[Incident],
    now: datetime,
) -> None:
    flagged, details = [], {}
    for incident in incidents:
        share = budget.incident_share(incident.counts, window, policy.objective)
        if share is None or not budget.needs_postmortem(share):
            continue
        flagged.append(incident.alert)
        details[incident.alert.id] = {
            "policyId": str(policy.id),
            "badEvents": incident.counts.bad,
            "errorBudgetShare": float(share),
        }
    await flag_needs_postmortem(session, alerts=flagged, now=now, details=details)


async def _raise_firing(
    session: AsyncSession, policy: SloPolicy, assessment: Assessment, now: datetime
) -> None:
    firing = [budget.PAIRS_BY_NAME[name] for name in assessment.firing_pairs]
    if not firing:
        return
    # The fastest firing pair pages; the slower ones are stored inhibited from the
    # start, so their fired events already say so.
    drafts = [
        replace(_draft(policy, pair, assessment), inhibited=index > 0)
        for index, pair in enumerate(firing)
    ]
    alerts = await raise_alerts(session, workspace_id=policy.workspace_id, drafts=drafts, now=now)
    fastest = firing[0].name
    await set_inhibited(session, alerts=alerts[1:], inhibited=True, now=now, inhibitedBy=fastest)
    await set_inhibited(session, alerts=alerts[:1], inhibited=False, now=now)


async def _resolve_stopped(
    session: AsyncSession,
    policy: SloPolicy,
    firing: list[str],
    open_alerts: list[Alert],
    now: datetime,
) -> None:
    pairs = policy_fingerprints(policy.id)
    for alert in open_alerts:
        if pairs[alert.fingerprint] not in firing:
            await resolve(session, alert=alert, actor=ACTOR, now=now)


async def apply_alerts(
    session: AsyncSession,
    *,
    policy: SloPolicy,
    assessment: Assessment,
    window: Counts,
    incidents: list[Incident],
    now: datetime,
) -> None:
    """Bring the policy's alerts in line with one (newest) evaluation."""
    await _raise_firing(session, policy, assessment, now)
    await _flag_postmortems(session, policy, window, incidents, now)
    open_alerts = [incident.alert for incident in incidents]
    await _resolve_stopped(session, policy, assessment.firing_pairs, open_alerts, now)


async def resolve_all(
    session: AsyncSession, *, policy: SloPolicy, actor: str, now: datetime
) -> None:
    """Resolve every open alert of a policy (it is being deleted)."""
    open_alerts = (await open_alerts_by_policy(session, [policy])).get(policy.id, [])
    for alert in open_alerts:
        await resolve(session, alert=alert, actor=actor, now=now)
