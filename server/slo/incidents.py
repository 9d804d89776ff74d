"""A policy's incidents: its open burn-rate alerts, one per firing pair, each named
by the stable fingerprint ``slo:<policy>:<pair>``.

They are read before the policy is measured: the interval of each (from its
first firing, at most the SLO window back) is measured as one more window, to
tell whether the incident needs a postmortem.
"""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts.raising import Alert, open_alerts
from server.slo.budget import PAIRS, Counts
from server.slo.models import SloPolicy


def fingerprint(policy_id: int, pair: str) -> str:
    return f"slo:{policy_id}:{pair}"


def policy_fingerprints(policy_id: int) -> dict[str, str]:
    """Fingerprint -> pair name, for every pair of the policy."""
    return {fingerprint(policy_id, pair.name): pair.name for pair in PAIRS}


async def open_alerts_by_policy(
    session: AsyncSession, policies: list[SloPolicy]
) -> dict[int, list[Alert]]:
    """The open burn-rate alerts of each policy."""
    owners: dict[int, dict[str, int]] = defaultdict(dict)
    for policy in policies:
        for print_ in policy_fingerprints(policy.id):
            owners[policy.workspace_id][print_] = policy.id
    found: dict[int, list[Alert]] = defaultdict(list)
    for workspace_id, by_fingerprint in owners.items():
        alerts = await open_alerts(
            session, workspace_id=workspace_id, fingerprints=list(by_fingerprint)
        )
        for alert in alerts:
            found[by_fingerprint[alert.fingerprint]].append(alert)
    return found


@dataclass(frozen=True)
class Incident:
    """An open alert of the policy, and the events of its interval in the window."""

    alert: Alert
    counts: Counts
