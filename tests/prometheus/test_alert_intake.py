"""``POST /api/v2/alerts`` (as Prometheus sends alerts to an Alertmanager) and
``POST /integrations/alertmanager`` (an Alertmanager webhook receiver): alerts
raised, deduplicated and resolved, found through GraphQL."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from server.alerts.prometheus import labelset_fingerprint
from server.core.clock import FrozenClock
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.prometheus.wire_client import error_code, post_json

ALERTS = """query($filter: AlertFilter) { alerts(filter: $filter, first: 50) { totalCount
  edges { node { fingerprint service summary severity status source labels occurrenceCount
  events { type } } } } }"""


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def prometheus_alert(clock: FrozenClock, labels: dict[str, str], *, ended: bool = False) -> Any:
    """As Prometheus' notifier posts it: endsAt ahead while firing, passed once resolved."""
    now = clock.now()
    return {
        "labels": labels,
        "annotations": {"summary": "error ratio above 5%", "runbook": "https://runbooks/x"},
        "startsAt": iso(now - timedelta(minutes=1)),
        "endsAt": iso(now - timedelta(seconds=1) if ended else now + timedelta(minutes=4)),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=vector%281%29",
    }


async def alerts_of(
    gql: GraphQLClient, workspace: Workspace, alertname: str
) -> list[dict[str, Any]]:
    matcher = {"label": "alertname", "op": "EQ", "value": alertname}
    data = await gql.data(ALERTS, {"filter": {"labels": [matcher]}}, key=workspace.viewer)
    return [edge["node"] for edge in data["alerts"]["edges"]]


def labels_of(alertname: str, **more: str) -> dict[str, str]:
    return {"alertname": alertname, "job": "api", "severity": "critical", **more}


async def test_prometheus_re_sends_are_one_alert_resolved_when_ends_at_passes(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    name = f"HighErrors{uuid.uuid4().hex[:6]}"
    labels = labels_of(name)
    for _ in range(3):  # one evaluation interval after another
        response = await post_json(
            http, "/api/v2/alerts", workspace.developer, [prometheus_alert(clock, labels)]
        )
        assert response.status_code == 200, response.text
    (alert,) = await alerts_of(gql, workspace, name)
    assert alert["fingerprint"] == labelset_fingerprint(labels)
    assert (alert["service"], alert["severity"], alert["source"]) == ("api", "CRITICAL", "RULE")
    assert (alert["summary"], alert["status"]) == ("error ratio above 5%", "FIRING")
    assert alert["labels"] == labels
    assert alert["occurrenceCount"] == 3
    assert [e["type"] for e in alert["events"]] == ["alert.fired"] + ["alert.deduplicated"] * 2
    for _ in range(2):  # Prometheus keeps sending a resolved alert for a while
        resolved = [prometheus_alert(clock, labels, ended=True)]
        response = await post_json(http, "/api/v2/alerts", workspace.developer, resolved)
        assert response.status_code == 200, response.text
    (alert,) = await alerts_of(gql, workspace, name)
    assert alert["status"] == "RESOLVED"
    assert alert["events"][-1]["type"] == "alert.resolved"
    assert [e["type"] for e in alert["events"]].count("alert.resolved") == 1
    await post_json(http, "/api/v2/alerts", workspace.developer, [prometheus_alert(clock, labels)])
    statuses = sorted(a["status"] for a in await alerts_of(gql, workspace, name))
    assert statuses == ["FIRING", "RESOLVED"], "firing again after resolving opens a new alert"


async def test_alerts_opsgraph_cannot_store_are_refused_alone(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    name = f"Mixed{uuid.uuid4().hex[:6]}"
    batch = [
        prometheus_alert(clock, labels_of(name)),
        {"labels": "nope"},
        prometheus_alert(clock, labels_of(name, path="x" * 300)),
    ]
    response = await post_json(http, "/api/v2/alerts", workspace.developer, batch)
    assert (response.status_code, error_code(response)) == (400, "BAD_USER_INPUT")
    assert response.json()["errors"][0]["message"].startswith("2 alerts refused, the rest taken")
    assert len(await alerts_of(gql, workspace, name)) == 1


async def test_bodies_of_the_wrong_shape_are_refused_whole(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace
) -> None:
    not_json = await http.post(
        "/api/v2/alerts",
        content=b"{",
        headers={
            "Authorization": f"Bearer {workspace.developer}",
            "Content-Type": "application/json",
        },
    )
    assert (not_json.status_code, error_code(not_json)) == (400, "BAD_USER_INPUT")
    not_a_list = await post_json(http, "/api/v2/alerts", workspace.developer, {"labels": {}})
    assert not_a_list.status_code == 400
    form = await http.post(
        "/api/v2/alerts",
        content=b"labels=x",
        headers={
            "Authorization": f"Bearer {workspace.developer}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert form.status_code == 415


async def test_a_viewer_key_cannot_raise_alerts(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    name = f"Viewer{uuid.uuid4().hex[:6]}"
    alert = [prometheus_alert(clock, labels_of(name))]
    response = await post_json(http, "/api/v2/alerts", workspace.viewer, alert)
    assert (response.status_code, error_code(response)) == (403, "FORBIDDEN")
    assert (await post_json(http, "/api/v2/alerts", None, alert)).status_code == 401
    assert await alerts_of(gql, workspace, name) == []


def notification(status: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="x"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "opsgraph",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def webhook_alert(clock: FrozenClock, labels: dict[str, str], status: str) -> dict[str, Any]:
    return {
        **prometheus_alert(clock, labels, ended=status == "resolved"),
        "status": status,
        "fingerprint": labelset_fingerprint(labels),
    }


async def test_an_alertmanager_webhook_raises_repeats_and_resolves(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    name = f"Webhook{uuid.uuid4().hex[:6]}"
    labels = labels_of(name, service="checkout", severity="warning")
    firing = notification("firing", [webhook_alert(clock, labels, "firing")])
    for _ in range(2):
        response = await post_json(http, "/integrations/alertmanager", workspace.developer, firing)
        assert response.status_code == 200, response.text
        assert response.json() == {"firing": 1, "resolved": 0}
    (alert,) = await alerts_of(gql, workspace, name)
    assert (alert["service"], alert["severity"], alert["occurrenceCount"]) == (
        "checkout",
        "WARNING",
        2,
    )
    resolved = notification("resolved", [webhook_alert(clock, labels, "resolved")])
    response = await post_json(http, "/integrations/alertmanager", workspace.developer, resolved)
    assert response.json() == {"firing": 0, "resolved": 1}
    (alert,) = await alerts_of(gql, workspace, name)
    assert alert["status"] == "RESOLVED"
    old = await post_json(
        http, "/integrations/alertmanager", workspace.developer, {**firing, "version": "3"}
    )
    assert (old.status_code, error_code(old)) == (400, "BAD_USER_INPUT")
