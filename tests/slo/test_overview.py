"""sloOverview and the SLO status of each service in observabilityOverview."""

from datetime import timedelta

import pytest

from tests.conftest import START, Workspace
from tests.graphql_client import GraphQLClient
from tests.slo.helpers import create_policy, evaluate, ingest, ratio_policy, sample

OVERVIEW = """{
  sloOverview {
    generatedAt notEvaluated counts { status count }
    policies {
      policy { id service name } status errorBudgetRemaining evaluatedAt
      fastestBurn { window rate }
    }
  }
}"""
SERVICES = "{ observabilityOverview { services { service signalCount sloStatus } } }"
AT = START - timedelta(hours=1)


async def test_overview_of_every_policy_and_the_worst_status_per_service(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer

    async def policy(service: str, name: str) -> str:
        created = await create_policy(
            gql,
            key,
            ratio_policy(
                service=service,
                name=name,
                good=f"{name}_ok",
                total=f"{name}_all",
                objective=90.0,
                window_days=1,
            ),
        )
        return str(created["id"])

    async def requests(service: str, name: str, ok: float, all_: float, minutes: int) -> None:
        ts = AT - timedelta(minutes=minutes)
        await ingest(
            gql,
            key,
            [
                sample(ok, ts, service=service, name=f"{name}_ok"),
                sample(all_, ts, service=service, name=f"{name}_all"),
            ],
        )

    # A 10 % budget. checkout/browse: 2 bad of 100 (HEALTHY); checkout/pay: 4 bad of
    # 50 45 minutes ago and 5 of 50 20 minutes ago (CRITICAL, fastest over 30m at
    # 1.0x); search/query: 5 of 100 (WARNING); search/suggest: never evaluated.
    browse, pay = await policy("checkout", "browse"), await policy("checkout", "pay")
    query, suggest = await policy("search", "query"), await policy("search", "suggest")
    await requests("checkout", "browse", 98, 100, 180)
    await requests("checkout", "pay", 46, 50, 45)
    await requests("checkout", "pay", 45, 50, 20)
    await requests("search", "query", 95, 100, 600)
    for policy_id in (browse, pay, query):
        await evaluate(gql, key, policy_id, AT)

    overview = (await gql.data(OVERVIEW, key=workspace.viewer))["sloOverview"]
    names = [summary["policy"]["name"] for summary in overview["policies"]]
    assert names == ["browse", "pay", "query", "suggest"]
    by_id = {summary["policy"]["id"]: summary for summary in overview["policies"]}
    assert by_id[pay]["status"] == "CRITICAL"
    assert by_id[pay]["errorBudgetRemaining"] == pytest.approx(0.1)
    assert by_id[pay]["fastestBurn"] == {"window": "30m", "rate": pytest.approx(1.0)}
    assert by_id[pay]["evaluatedAt"] == AT.isoformat()
    assert by_id[browse]["fastestBurn"]["rate"] == pytest.approx(0.2)
    assert by_id[query]["status"] == "WARNING"
    assert by_id[suggest]["status"] is None
    assert by_id[suggest]["fastestBurn"] is None
    assert overview["notEvaluated"] == 1
    counts = {count["status"]: count["count"] for count in overview["counts"]}
    assert counts == {"HEALTHY": 1, "WARNING": 1, "CRITICAL": 1, "EXHAUSTED": 0, "NO_DATA": 0}

    services = (await gql.data(SERVICES, key=workspace.viewer))["observabilityOverview"]
    statuses = {s["service"]: s["sloStatus"] for s in services["services"]}
    assert statuses == {"checkout": "CRITICAL", "search": "WARNING"}
