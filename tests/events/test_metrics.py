"""Event and job metrics move when events flow and tasks run."""

import asyncio
import re

from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.ws_client import subscription_client


def _sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_delivery_subscription_and_job_metrics(
    gql: GraphQLClient, live_server: str, workspace: Workspace
) -> None:
    delivered = 'opsgraph_events_delivered_total{stream="task"}'
    runs = 'opsgraph_job_runs_total{kind="security_inspection",outcome="succeeded"}'
    before = (await gql.http.get("/metrics")).text
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe("subscription { taskEvents { type } }")
        await gql.data("mutation { startSecurityInspection { id } }", key=workspace.admin)
        while (await client.next_data())["taskEvents"]["type"] != "task.succeeded":
            pass
        for _ in range(100):  # the runner counts its run just after the commit
            during = (await gql.http.get("/metrics")).text
            if _sample(during, runs) > _sample(before, runs):
                break
            await asyncio.sleep(0.02)
    assert _sample(during, "opsgraph_live_subscriptions") >= 1
    assert _sample(during, delivered) >= _sample(before, delivered) + 4
    assert _sample(during, runs) >= _sample(before, runs) + 1
    assert _sample(during, "opsgraph_events_published_total") > _sample(
        before, "opsgraph_events_published_total"
    )
    assert _sample(during, "opsgraph_event_delivery_lag_seconds_count") >= 4
