"""What Prometheus and Alertmanager say about an alert besides its labels:
annotations and ``generatorURL`` kept (a re-send replaces them), and ``endsAt``:
an alert that stops being re-sent is resolved once it passes."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from server.core.clock import FrozenClock
from server.core.services import Services
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.prometheus.test_alert_intake import iso, labels_of, notification, prometheus_alert
from tests.prometheus.wire_client import post_json

ALERTS = """query($filter: AlertFilter) { alerts(filter: $filter, first: 50) { edges { node {
  id status summary annotations generatorUrl endsAt resolvedAt resolvedBy occurrenceCount
  events { type } } } } }"""
#: Alertmanager's webhook hides the end of a firing alert behind Go's zero time.
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


async def alerts_of(
    gql: GraphQLClient, workspace: Workspace, alertname: str
) -> list[dict[str, Any]]:
    matcher = {"label": "alertname", "op": "EQ", "value": alertname}
    data = await gql.data(ALERTS, {"filter": {"labels": [matcher]}}, key=workspace.viewer)
    return [edge["node"] for edge in data["alerts"]["edges"]]


async def only_alert(gql: GraphQLClient, workspace: Workspace, alertname: str) -> dict[str, Any]:
    (alert,) = await alerts_of(gql, workspace, alertname)
    return alert


def sent(
    clock: FrozenClock, labels: dict[str, str], *, ends_in: timedelta, **fields: Any
) -> dict[str, Any]:
    """An alert as Prometheus posts it, ending ``ends_in`` from the clock's now."""
    return {**prometheus_alert(clock, labels), "endsAt": iso(clock.now() + ends_in), **fields}


async def post_alerts(
    http: httpx.AsyncClient, workspace: Workspace, alerts: list[dict[str, Any]]
) -> None:
    response = await post_json(http, "/api/v2/alerts", workspace.developer, alerts)
    assert response.status_code == 200, response.text


async def sweep(services: Services) -> None:
    await services.runner.periodic["alert_expiry_sweep"].run()


async def test_annotations_generator_url_and_end_are_kept_and_a_re_send_replaces_them(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    name = f"Annotated{uuid.uuid4().hex[:6]}"
    labels = labels_of(name)
    await post_alerts(http, workspace, [prometheus_alert(clock, labels)])
    alert = await only_alert(gql, workspace, name)
    assert alert["annotations"] == {
        "summary": "error ratio above 5%",
        "runbook": "https://runbooks/x",
    }
    assert alert["generatorUrl"] == "http://prometheus:9090/graph?g0.expr=vector%281%29"
    assert datetime.fromisoformat(alert["endsAt"]) == clock.now() + timedelta(minutes=4)

    again = sent(
        clock,
        labels,
        ends_in=timedelta(minutes=8),
        annotations={"summary": "error ratio above 10%", "dashboard": "https://grafana/x"},
        generatorURL="http://prometheus-2:9090/graph?g0.expr=up",
    )
    await post_alerts(http, workspace, [again])
    alert = await only_alert(gql, workspace, name)
    assert alert["occurrenceCount"] == 2
    assert alert["annotations"] == {
        "summary": "error ratio above 10%",
        "dashboard": "https://grafana/x",
    }, "the latest annotations replace the earlier ones, runbook included"
    assert alert["summary"] == "error ratio above 10%"
    assert alert["generatorUrl"] == "http://prometheus-2:9090/graph?g0.expr=up"
    assert datetime.fromisoformat(alert["endsAt"]) == clock.now() + timedelta(minutes=8)


async def test_a_generator_url_opsgraph_would_not_link_is_dropped_not_the_alert(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    name = f"OddLink{uuid.uuid4().hex[:6]}"
    odd = {**prometheus_alert(clock, labels_of(name)), "generatorURL": "javascript:alert(1)"}
    await post_alerts(http, workspace, [odd])
    alert = await only_alert(gql, workspace, name)
    assert (alert["status"], alert["generatorUrl"]) == ("FIRING", None)


async def test_an_alertmanager_webhook_keeps_annotations_and_the_generator_url(
    http: httpx.AsyncClient, gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    name = f"HookNotes{uuid.uuid4().hex[:6]}"
    labels = labels_of(name)

    def firing(annotations: dict[str, str], url: str) -> dict[str, Any]:
        alert = {
            **prometheus_alert(clock, labels),
            "status": "firing",
            "endsAt": GO_ZERO_TIME,
            "annotations": annotations,
            "generatorURL": url,
        }
        return notification("firing", [alert])

    first = firing({"summary": "disk 90% full"}, "http://prometheus/graph?g0.expr=disk")
    response = await post_json(http, "/integrations/alertmanager", workspace.developer, first)
    assert response.status_code == 200, response.text
    alert = await only_alert(gql, workspace, name)
    assert alert["annotations"] == {"summary": "disk 90% full"}
    assert alert["generatorUrl"] == "http://prometheus/graph?g0.expr=disk"
    assert alert["endsAt"] is None, "Alertmanager resolves it itself: no end to wait for"

    second = firing({"summary": "disk 95% full", "runbook": "https://runbooks/disk"}, "http://p2/g")
    response = await post_json(http, "/integrations/alertmanager", workspace.developer, second)
    assert response.status_code == 200, response.text
    alert = await only_alert(gql, workspace, name)
    assert alert["occurrenceCount"] == 2
    assert alert["annotations"] == {"summary": "disk 95% full", "runbook": "https://runbooks/disk"}
    assert alert["generatorUrl"] == "http://p2/g"


async def test_an_alert_prometheus_stops_sending_is_resolved_once_its_end_passes(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
) -> None:
    """Prometheus re-sends a firing alert each evaluation with ``endsAt`` four
    resend delays ahead. One whose rule is deleted (or whose Prometheus dies) is
    sent no more and ends there; one still re-sent moves its end forward."""
    clock = paused_runner
    start = clock.now()
    stopped, continued = f"Stopped{uuid.uuid4().hex[:6]}", f"Continued{uuid.uuid4().hex[:6]}"
    resend = timedelta(minutes=1)
    for name in (stopped, continued):
        await post_alerts(http, workspace, [sent(clock, labels_of(name), ends_in=4 * resend)])
    ends = start + 4 * resend

    clock.set(start + resend)  # the next evaluation: only one rule still exists
    await post_alerts(http, workspace, [sent(clock, labels_of(continued), ends_in=4 * resend)])
    moved = await only_alert(gql, workspace, continued)
    assert datetime.fromisoformat(moved["endsAt"]) == start + 5 * resend

    clock.set(ends - timedelta(seconds=1))
    await sweep(services)
    assert (await only_alert(gql, workspace, stopped))["status"] == "FIRING"

    clock.set(ends + timedelta(seconds=10))  # the sweep runs a little after the end
    await sweep(services)
    alert = await only_alert(gql, workspace, stopped)
    assert (alert["status"], alert["resolvedBy"]) == ("RESOLVED", "alert-expiry")
    assert datetime.fromisoformat(alert["resolvedAt"]) == clock.now()
    assert [e["type"] for e in alert["events"]] == ["alert.fired", "alert.resolved"]
    assert (await only_alert(gql, workspace, continued))["status"] == "FIRING"

    # Prometheus comes back: the same labels open a new alert.
    await post_alerts(http, workspace, [sent(clock, labels_of(stopped), ends_in=4 * resend)])
    statuses = sorted(a["status"] for a in await alerts_of(gql, workspace, stopped))
    assert statuses == ["FIRING", "RESOLVED"]

    clock.set(start + 5 * resend)
    await sweep(services)
    assert (await only_alert(gql, workspace, continued))["status"] == "RESOLVED"
