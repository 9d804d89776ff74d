"""Raising, deduplicating and walking an alert through its lifecycle."""

from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient

ALERT_FIELDS = "id fingerprint status occurrenceCount silenced severity labels"
RAISE = f"mutation($inputs: [AlertInput!]!) {{ raiseAlerts(inputs: $inputs) {{ {ALERT_FIELDS} }} }}"


async def test_raise_dedup_and_lifecycle(gql: GraphQLClient, workspace: Workspace) -> None:
    item = {"service": "checkout", "summary": "5xx", "severity": "PAGE", "labels": {"pod": "a"}}
    raised = (await gql.data(RAISE, {"inputs": [item, item, {**item, "labels": {"pod": "b"}}]}, key=workspace.developer))["raiseAlerts"]
    assert raised[0]["id"] == raised[1]["id"] != raised[2]["id"]
    assert raised[0]["occurrenceCount"] == 2
    again = (await gql.data(RAISE, {"inputs": [item]}, key=workspace.developer))["raiseAlerts"]
    assert again[0]["id"] == raised[0]["id"] and again[0]["occurrenceCount"] == 3
    ack = await gql.data("mutation($id: ID!) { acknowledgeAlert(id: $id) { status acknowledgedBy } }", {"id": raised[0]["id"]}, key=workspace.developer)
    assert ack["acknowledgeAlert"]["status"] == "ACKNOWLEDGED"
    code = await gql.error_code("mutation($id: ID!) { closeAlert(id: $id) { status } }", {"id": raised[0]["id"]}, key=workspace.developer)
    assert code == "CONFLICT"
    detail = await gql.data("query($id: ID!) { alert(id: $id) { status events { type cursor payload } } }", {"id": raised[0]["id"]}, key=workspace.viewer)
    assert [e["type"] for e in detail["alert"]["events"]] == ["alert.fired", "alert.deduplicated", "alert.acknowledged"]
    listed = await gql.data("{ alerts(filter: {status: [FIRING]}) { totalCount edges { node { id events { type } } } } observabilityOverview { services { service openAlerts openAlertsBySeverity { severity count } } } }", key=workspace.viewer)
    assert listed["alerts"]["totalCount"] == 1
    print(listed)
