"""Builders and GraphQL documents shared by the capacity tests."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from server.core.services import Services
from server.core.tasks.models import PeriodicJob
from tests.graphql_client import GraphQLClient

INGEST = """
mutation($signals: [SignalInput!]!) {
  ingestSignals(signals: $signals) { accepted rejected { index reason } }
}"""
POLICY_FIELDS = """
  id meterKey service signal labels { label op value } capacity warningRatio horizonDays
  createdAt updatedAt
"""
UPSERT = f"""
mutation($input: CapacityPolicyInput!) {{
  upsertCapacityPolicy(input: $input) {{ {POLICY_FIELDS} }}
}}"""
POLICIES = f"""
query($first: Int, $after: String) {{
  capacityPolicies(first: $first, after: $after) {{
    totalCount edges {{ cursor node {{ {POLICY_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }}
  }}
}}"""
FORECAST = (
    "mutation($meterKey: String!) { forecastCapacity(meterKey: $meterKey) { id kind status } }"
)
FORECASTS = """
query($meterKey: String) {
  capacityForecasts(meterKey: $meterKey) {
    totalCount
    edges { node {
      id policyId meterKey method currentValue predictedValue lower upper timeToWarning
      timeToExhaustion points buckets trendPerDay seasonality levelShiftAt capacity
      warningRatio horizonDays createdAt
    } }
  }
}"""
TASK = "query($id: ID!) { task(id: $id) { id status result error } }"
TASKS = "{ tasks { totalCount } }"
CAPACITY_ALERTS = """
query {
  alerts(filter: {labels: [{label: "alertname", op: EQ, value: "CapacityForecast"}]}) {
    edges { node { fingerprint severity status source labels occurrenceCount resolvedBy summary } }
  }
}"""


def policy_input(
    *,
    meter_key: str = "checkout/disk_used",
    service: str = "checkout",
    signal: str = "disk_used",
    labels: list[dict[str, str]] | None = None,
    capacity: float = 1000.0,
    warning_ratio: float = 0.8,
    horizon_days: int = 20,
) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "meterKey": meter_key,
        "service": service,
        "signal": signal,
        "capacity": capacity,
        "warningRatio": warning_ratio,
        "horizonDays": horizon_days,
    }
    if labels is not None:
        draft["labels"] = labels
    return draft


def growing_samples(
    now: datetime,
    *,
    days: int = 3,
    level_now: float = 500.0,
    per_day: float = 20.0,
    every: timedelta = timedelta(minutes=10),
    labels: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Samples of disk_used from ``days`` before ``now``, growing ``per_day``, with
    a small alternating wobble."""
    samples = []
    moment, index = now - timedelta(days=days), 0
    while moment < now:
        age_days = (now - moment) / timedelta(days=1)
        value = level_now - per_day * age_days + (1.0 if index % 2 else -1.0)
        samples.append(
            {
                "service": "checkout",
                "name": "disk_used",
                "value": value,
                "ts": moment.isoformat(),
                "labels": labels or {"mount": "/data"},
            }
        )
        moment, index = moment + every, index + 1
    return samples


async def ingest(gql: GraphQLClient, key: str, samples: list[dict[str, Any]]) -> None:
    result = (await gql.data(INGEST, {"signals": samples}, key=key))["ingestSignals"]
    assert result["rejected"] == []
    assert result["accepted"] == len(samples)


async def forecasts_due(services: Services, at: datetime) -> None:
    """Make the hourly forecast job due at ``at``: other tests run the session's
    jobs at clocks of their own, which may leave it due only later."""
    async with services.db.transaction() as session:
        await session.execute(
            update(PeriodicJob)
            .where(PeriodicJob.name == "capacity_forecasts")
            .values(next_run_at=at)
        )
