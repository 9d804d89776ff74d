"""Operations and small builders for the escalation tests."""

from datetime import datetime
from typing import Any

from server.core.clock import FrozenClock
from server.core.services import Services
from server.escalation import service as escalation
from tests.graphql_client import GraphQLClient
from tests.oncall.helpers import CREATE_SHIFT, UPSERT_SCHEDULE, shift_input

POLICY_FIELDS = """
  id name matchers { label op value } steps { delaySeconds targets } repeat refireThreshold
  createdBy createdAt updatedAt
"""
CREATE_POLICY = f"""
mutation($input: EscalationPolicyInput!) {{
  createEscalationPolicy(input: $input) {{ {POLICY_FIELDS} }}
}}"""
UPDATE_POLICY = f"""
mutation($id: ID!, $input: EscalationPolicyInput!) {{
  updateEscalationPolicy(id: $id, input: $input) {{ {POLICY_FIELDS} }}
}}"""
DELETE_POLICY = f"mutation($id: ID!) {{ deleteEscalationPolicy(id: $id) {{ {POLICY_FIELDS} }} }}"
GET_POLICY = f"query($id: ID!) {{ escalationPolicy(id: $id) {{ {POLICY_FIELDS} }} }}"
LIST_POLICIES = "{ escalationPolicies { totalCount edges { node { id name } } } }"
EXECUTIONS = """
query($alertId: ID!) {
  escalationExecutions(alertId: $alertId) {
    id step cycle reason target recipients undeliverable executedAt alert { id status }
  }
}"""
RAISE = """
mutation($input: AlertInput!) {
  raiseAlert(input: $input) { id occurrenceCount silenced noiseSuppressed }
}"""
ACK = "mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }"
RESOLVE = "mutation($id: ID!) { resolveAlert(id: $id) { id } }"


def step(delay_seconds: int, *targets: str) -> dict[str, Any]:
    return {"delaySeconds": delay_seconds, "targets": list(targets)}


async def create_policy(
    gql: GraphQLClient, key: str, *steps: dict[str, Any], name: str = "web", **fields: Any
) -> dict[str, Any]:
    variables = {"input": {"name": name, "steps": list(steps), **fields}}
    policy: dict[str, Any] = (await gql.data(CREATE_POLICY, variables, key=key))[
        "createEscalationPolicy"
    ]
    return policy


async def raise_alert(
    gql: GraphQLClient,
    key: str,
    fingerprint: str = "checkout-5xx",
    *,
    service: str = "checkout",
    severity: str = "PAGE",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    item = {
        "service": service,
        "summary": f"{fingerprint} is failing",
        "severity": severity,
        "fingerprint": fingerprint,
        "labels": labels or {},
    }
    alert: dict[str, Any] = (await gql.data(RAISE, {"input": item}, key=key))["raiseAlert"]
    return alert


async def executions(gql: GraphQLClient, key: str, alert_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await gql.data(EXECUTIONS, {"alertId": alert_id}, key=key))[
        "escalationExecutions"
    ]
    return found


def summary(found: list[dict[str, Any]]) -> list[tuple[str, int, int, str, list[str]]]:
    """(reason, step, cycle, target, recipients) of each execution."""
    return [(e["reason"], e["step"], e["cycle"], e["target"], e["recipients"]) for e in found]


async def add_shift(
    gql: GraphQLClient,
    key: str,
    schedule: str,
    person: str,
    starts_at: datetime,
    ends_at: datetime,
    contact: str | None = None,
) -> None:
    variables = {"input": shift_input(schedule, person, starts_at, ends_at, contact)}
    await gql.data(CREATE_SHIFT, variables, key=key)


async def set_fallback(gql: GraphQLClient, key: str, schedule: str, contact: str) -> None:
    variables = {"input": {"name": schedule, "fallbackContact": contact}}
    await gql.data(UPSERT_SCHEDULE, variables, key=key)


async def sweep_at(services: Services, clock: FrozenClock, at: datetime) -> escalation.SweepReport:
    """One escalation sweep at ``at``, with the session clock moved there first."""
    clock.set(at)
    return await escalation.sweep(
        services.outbox, now=at, batch_size=services.settings.escalation_batch_size
    )
