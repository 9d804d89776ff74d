"""A real Alertmanager (Debian's ``prometheus-alertmanager``) forwards to
opsgraph's webhook receiver: its repeated notifications are one alert, with
Alertmanager's own fingerprint, resolved when Alertmanager resolves it."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from server.alerts.prometheus import labelset_fingerprint
from server.core.settings import Settings
from tests.conftest import Workspace, free_port
from tests.graphql_client import GraphQLClient
from tests.prometheus.processes import binary, eventually, running, unique, wall_clock_opsgraph
from tests.prometheus.test_live_prometheus import alerts_named


def alertmanager_config(opsgraph: str, workspace: Workspace) -> str:
    return f"""
route:
  receiver: opsgraph
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: opsgraph
    webhook_configs:
      - url: http://{opsgraph}/integrations/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {workspace.developer}
"""


def posted_alert(labels: dict[str, str], ends_at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "labels": labels,
            "annotations": {"summary": "replication lag above 30s"},
            "startsAt": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
            "endsAt": ends_at.isoformat(),
            "generatorURL": "http://prometheus.example/graph",
        }
    ]


async def test_alertmanager_notifications_raise_repeat_and_resolve_one_alert(
    settings: Settings, gql: GraphQLClient, workspace: Workspace, tmp_path: Path
) -> None:
    alertmanager = binary(["prometheus-alertmanager", "alertmanager"], "prometheus-alertmanager")
    alertname = unique("ReplicationLag")
    labels = {"alertname": alertname, "job": "postgres", "severity": "critical"}
    async with wall_clock_opsgraph(settings) as opsgraph:
        config = tmp_path / "alertmanager.yml"
        config.write_text(alertmanager_config(opsgraph, workspace))
        port = free_port()
        argv = [
            alertmanager,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]
        async with (
            running(argv, port=port, log=tmp_path / "alertmanager.log") as server,
            httpx.AsyncClient(base_url=server.base_url, timeout=5) as client,
        ):
            firing = posted_alert(labels, datetime.now(UTC) + timedelta(minutes=5))
            assert (await client.post("/api/v2/alerts", json=firing)).status_code == 200

            async def repeated() -> list[dict[str, Any]]:
                found = await alerts_named(gql, workspace, alertname)
                return found if found and found[0]["occurrenceCount"] >= 2 else []

            (alert,) = await eventually(
                repeated, within=60, what=f"repeated notifications\n{server.output()}"
            )
            assert alert["fingerprint"] == labelset_fingerprint(labels)
            assert (alert["service"], alert["severity"], alert["status"]) == (
                "postgres",
                "CRITICAL",
                "FIRING",
            )
            assert alert["summary"] == "replication lag above 30s"
            assert alert["annotations"] == {"summary": "replication lag above 30s"}
            assert alert["generatorUrl"] == "http://prometheus.example/graph"
            assert alert["endsAt"] is None, "Alertmanager hides a firing alert's end"

            ended = posted_alert(labels, datetime.now(UTC) - timedelta(seconds=1))
            assert (await client.post("/api/v2/alerts", json=ended)).status_code == 200

            async def resolved() -> list[dict[str, Any]]:
                found = await alerts_named(gql, workspace, alertname)
                return found if found and found[0]["status"] == "RESOLVED" else []

            await eventually(resolved, within=60, what=f"the resolution\n{server.output()}")
            assert len(await alerts_named(gql, workspace, alertname)) == 1
