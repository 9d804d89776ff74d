"""Builders and GraphQL documents shared by the SLO tests."""

from datetime import datetime, timedelta
from typing import Any

from tests.graphql_client import GraphQLClient

INGEST = """
mutation($signals: [SignalInput!]!) {
  ingestSignals(signals: $signals) { accepted rejected { index reason } }
}"""
SLI_FIELDS = """
  kind goodSignal totalSignal signal threshold comparator
  goodMatchers { label op value } totalMatchers { label op value } matchers { label op value }
"""
POLICY_FIELDS = f"""
  id service name objective windowDays errorBudget onExhausted budgetPolicyState status
  evaluatedAt sli {{ {SLI_FIELDS} }}
"""
EVALUATION_FIELDS = """
  id policyId evaluatedAt sli good total errorBudgetRemaining budgetConsumed
  burnRates { window rate } firingPairs status lookBack
"""
CREATE = f"""
mutation($input: SloPolicyInput!) {{ createSloPolicy(input: $input) {{ {POLICY_FIELDS} }} }}"""
UPDATE = f"""
mutation($id: ID!, $input: SloPolicyInput!) {{
  updateSloPolicy(id: $id, input: $input) {{ {POLICY_FIELDS} }}
}}"""
DELETE = f"mutation($id: ID!) {{ deleteSloPolicy(id: $id) {{ {POLICY_FIELDS} }} }}"
POLICY = f"""
query($id: ID!) {{
  sloPolicy(id: $id) {{ {POLICY_FIELDS} latestEvaluation {{ {EVALUATION_FIELDS} }} }}
}}"""
EVALUATE = f"""
mutation($policyId: ID!, $at: DateTime) {{
  evaluateSlo(policyId: $policyId, at: $at) {{ {EVALUATION_FIELDS} }}
}}"""
ALERT_FIELDS = """
  id fingerprint severity status source labels occurrenceCount inhibited needsPostmortem
  resolvedBy summary
"""
SLO_ALERTS = f"""
query {{
  alerts(filter: {{labels: [{{label: "alertname", op: EQ, value: "SloErrorBudgetBurn"}}]}}) {{
    edges {{ node {{ {ALERT_FIELDS} }} }}
  }}
}}"""


def threshold_policy(
    *,
    service: str = "checkout",
    name: str = "latency",
    signal: str = "latency_ms",
    objective: float = 99.0,
    window_days: int = 7,
    threshold: float = 300.0,
    comparator: str = "LTE",
    matchers: list[dict[str, str]] | None = None,
    on_exhausted: str = "NONE",
) -> dict[str, Any]:
    sli: dict[str, Any] = {
        "kind": "THRESHOLD",
        "signal": signal,
        "threshold": threshold,
        "comparator": comparator,
    }
    if matchers is not None:
        sli["matchers"] = matchers
    return _policy(service, name, objective, window_days, sli, on_exhausted)


def ratio_policy(
    *,
    service: str = "checkout",
    name: str = "availability",
    good: str = "requests_good",
    total: str = "requests_total",
    good_matchers: list[dict[str, str]] | None = None,
    total_matchers: list[dict[str, str]] | None = None,
    objective: float = 99.0,
    window_days: int = 7,
    on_exhausted: str = "NONE",
) -> dict[str, Any]:
    sli: dict[str, Any] = {"kind": "RATIO", "goodSignal": good, "totalSignal": total}
    if good_matchers is not None:
        sli["goodMatchers"] = good_matchers
    if total_matchers is not None:
        sli["totalMatchers"] = total_matchers
    return _policy(service, name, objective, window_days, sli, on_exhausted)


def _policy(  # noqa: PLR0917
    service: str,
    name: str,
    objective: float,
    window_days: int,
    sli: dict[str, Any],
    on_exhausted: str,
) -> dict[str, Any]:
    return {
        "service": service,
        "name": name,
        "objective": objective,
        "windowDays": window_days,
        "sli": sli,
        "onExhausted": on_exhausted,
    }


def matcher(label: str, op: str, value: str) -> dict[str, str]:
    return {"label": label, "op": op, "value": value}


def sample(
    value: float,
    ts: datetime,
    *,
    service: str = "checkout",
    name: str = "latency_ms",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"service": service, "name": name, "value": value, "ts": ts.isoformat()}
    if labels is not None:
        item["labels"] = labels
    return item


def spread(
    count: int, value: float, *, newest: datetime, every: timedelta, **kwargs: Any
) -> list[dict[str, Any]]:
    """``count`` samples of ``value``, the newest at ``newest``, then every ``every`` back."""
    return [sample(value, newest - index * every, **kwargs) for index in range(count)]


async def ingest(gql: GraphQLClient, key: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 10_000):
        result = (await gql.data(INGEST, {"signals": items[start : start + 10_000]}, key=key))[
            "ingestSignals"
        ]
        assert result["rejected"] == [], result


async def create_policy(gql: GraphQLClient, key: str, policy: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = (await gql.data(CREATE, {"input": policy}, key=key))[
        "createSloPolicy"
    ]
    return created


async def evaluate(
    gql: GraphQLClient, key: str, policy_id: str, at: datetime | None = None
) -> dict[str, Any]:
    variables = {"policyId": policy_id, "at": at.isoformat() if at else None}
    evaluation: dict[str, Any] = (await gql.data(EVALUATE, variables, key=key))["evaluateSlo"]
    return evaluation


def rates(evaluation: dict[str, Any]) -> dict[str, float | None]:
    return {burn["window"]: burn["rate"] for burn in evaluation["burnRates"]}


async def slo_alerts(gql: GraphQLClient, key: str) -> dict[str, dict[str, Any]]:
    """The workspace's burn-rate alerts by pair (the newest alert of each pair)."""
    edges = (await gql.data(SLO_ALERTS, key=key))["alerts"]["edges"]
    found: dict[str, dict[str, Any]] = {}
    for edge in reversed(edges):  # oldest first, so the newest of a pair wins
        node = edge["node"]
        found[node["labels"]["slo_pair"]] = node
    return found
