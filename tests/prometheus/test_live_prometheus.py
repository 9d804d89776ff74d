"""A real Prometheus (Debian's ``prometheus``) scrapes opsgraph's ``/metrics``,
remote-writes what it scraped to opsgraph and sends a firing rule's alert to
opsgraph's ``/api/v2/alerts``; GraphQL then shows the samples as signals and
the alert, one alert across Prometheus' re-sends, resolved once the rule stops
firing (its expression changed and Prometheus reloaded with SIGHUP)."""

from pathlib import Path
from typing import Any

import httpx

from server.core.settings import Settings
from tests.conftest import Workspace, free_port
from tests.graphql_client import GraphQLClient
from tests.prometheus.processes import binary, eventually, running, unique, wall_clock_opsgraph

SIGNALS = """query($filter: SignalFilter) { signals(filter: $filter, first: 5) {
  totalCount edges { node { service name value labels } } } }"""
ALERTS = """query($filter: AlertFilter) { alerts(filter: $filter, first: 10) {
  edges { node { fingerprint service severity status source summary occurrenceCount
  labels annotations generatorUrl endsAt } } } }"""


def prometheus_config(opsgraph: str, workspace: Workspace, rules: Path) -> str:
    return f"""
global:
  scrape_interval: 250ms
  evaluation_interval: 250ms
scrape_configs:
  - job_name: opsgraph
    static_configs:
      - targets: ["{opsgraph}"]
remote_write:
  - url: http://{opsgraph}/api/v1/write
    authorization:
      credentials: {workspace.developer}
    queue_config:
      batch_send_deadline: 250ms
      min_backoff: 100ms
      max_backoff: 1s
alerting:
  alertmanagers:
    - api_version: v2
      authorization:
        credentials: {workspace.admin}
      static_configs:
        - targets: ["{opsgraph}"]
rule_files: ["{rules}"]
"""


def rules(alertname: str, expr: str) -> str:
    return f"""
groups:
  - name: opsgraph-live
    rules:
      - alert: {alertname}
        expr: {expr}
        for: 0s
        labels:
          severity: page
          service: live-checkout
        annotations:
          summary: checkout is on fire
"""


async def first_signal(gql: GraphQLClient, workspace: Workspace, **filter_: Any) -> dict[str, Any]:
    """The first signal that passes the filter; empty while there is none."""
    data = await gql.data(SIGNALS, {"filter": filter_}, key=workspace.viewer)
    edges = data["signals"]["edges"]
    node: dict[str, Any] = edges[0]["node"] if edges else {}
    return node


async def failed_samples(prometheus_url: str) -> float:
    """What Prometheus counts as refused by the remote-write receiver."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{prometheus_url}/metrics")).text
    counted = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("prometheus_remote_storage_samples_failed_total")
    ]
    assert counted, "Prometheus exposes its remote-write counters"
    return sum(counted)


async def alerts_named(
    gql: GraphQLClient, workspace: Workspace, alertname: str
) -> list[dict[str, Any]]:
    matcher = {"label": "alertname", "op": "EQ", "value": alertname}
    data = await gql.data(ALERTS, {"filter": {"labels": [matcher]}}, key=workspace.viewer)
    return [edge["node"] for edge in data["alerts"]["edges"]]


async def test_prometheus_scrapes_remote_writes_and_alerts_into_opsgraph(
    settings: Settings, gql: GraphQLClient, workspace: Workspace, tmp_path: Path
) -> None:
    prometheus = binary(["prometheus"], "prometheus")
    alertname = unique("LiveCheckoutDown")
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(rules(alertname, "vector(1)"))
    async with wall_clock_opsgraph(settings) as opsgraph:
        config = tmp_path / "prometheus.yml"
        config.write_text(prometheus_config(opsgraph, workspace, rules_file))
        port = free_port()
        argv = [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=250ms",
        ]
        async with running(argv, port=port, log=tmp_path / "prometheus.log") as server:
            up = await eventually(
                lambda: first_signal(gql, workspace, name="up", service="opsgraph"),
                within=60,
                what=f"the scrape's up sample as a signal\n{server.output()}",
            )
            assert up["value"] == 1.0
            assert set(up["labels"]) == {"instance"}, "job is the service; __name__ the name"
            matcher = {"label": "route", "op": "EQ", "value": "/metrics"}
            scraped = await eventually(
                lambda: first_signal(
                    gql,
                    workspace,
                    name="opsgraph_http_request_duration_seconds_count",
                    labels=[matcher],
                ),
                within=30,
                what="opsgraph's own request metric, scraped and written back",
            )
            assert scraped["service"] == "opsgraph"

            async def repeated() -> list[dict[str, Any]]:
                found = await alerts_named(gql, workspace, alertname)
                return found if found and found[0]["occurrenceCount"] >= 3 else []

            (alert,) = await eventually(
                repeated, within=60, what=f"the rule's alert, re-sent\n{server.output()}"
            )
            assert alert["status"] == "FIRING"
            assert (alert["service"], alert["severity"], alert["source"]) == (
                "live-checkout",
                "PAGE",
                "RULE",
            )
            assert alert["summary"] == "checkout is on fire"
            assert alert["annotations"] == {"summary": "checkout is on fire"}
            assert alert["generatorUrl"].startswith("http"), alert
            assert alert["endsAt"] is not None, "Prometheus says when it ends unless re-sent"
            assert alert["labels"] == {
                "alertname": alertname,
                "severity": "page",
                "service": "live-checkout",
            }

            rules_file.write_text(rules(alertname, "vector(1) == 0"))
            server.reload()

            async def resolved() -> list[dict[str, Any]]:
                found = await alerts_named(gql, workspace, alertname)
                return found if found and found[0]["status"] == "RESOLVED" else []

            (alert,) = await eventually(
                resolved, within=60, what=f"the alert resolved\n{server.output()}"
            )
            assert len(await alerts_named(gql, workspace, alertname)) == 1
            assert await failed_samples(server.base_url) == 0, "opsgraph refused no sample"
