"""Ingest a few signal samples into opsgraph, then print their time series.

Usage (with a server from ``make run``):

    export OPSGRAPH_ADMIN_KEY=og_...          # printed by the first start
    .venv/bin/python web-examples/ingest_and_query.py

``OPSGRAPH_URL`` defaults to http://127.0.0.1:8000/graphql. Any key with the
developer or admin role works. Only ``httpx`` is needed.
"""

import argparse
import os
import random
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
AGGREGATES = ("AVG", "SUM", "MIN", "MAX", "COUNT", "P50", "P95", "P99")

INGEST = """
mutation Ingest($signals: [SignalInput!]!) {
  ingestSignals(signals: $signals) {
    accepted
    rejected { index reason }
  }
}
"""

SERIES = """
query Series(
  $service: String!, $name: String!, $from: DateTime!, $to: DateTime!,
  $step: Int!, $aggregate: Aggregate!
) {
  signalSeries(
    service: $service, name: $name, from: $from, to: $to,
    step: $step, aggregate: $aggregate
  ) { ts value count }
}
"""


class GraphQLError(RuntimeError):
    """The server answered with GraphQL errors."""


class OpsGraphClient:
    """A minimal GraphQL-over-HTTP client: JSON POSTs with a bearer key."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/graphql-response+json",
            },
        )
        self._url = url

    def __enter__(self) -> "OpsGraphClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one operation and return its ``data``; raise on any error."""
        response = self._http.post(self._url, json={"query": query, "variables": variables or {}})
        content_type = response.headers.get("content-type", "")
        if "json" not in content_type:  # e.g. 413 or 415, answered in plain text
            raise GraphQLError(f"HTTP {response.status_code}: {response.text}")
        body: dict[str, Any] = response.json()
        errors: list[dict[str, Any]] = body.get("errors") or []
        if errors:
            described = "; ".join(
                f"{error.get('extensions', {}).get('code', '?')}: {error['message']}"
                for error in errors
            )
            request_id = response.headers.get("x-request-id", "-")
            raise GraphQLError(f"{described} (request ID {request_id})")
        data: dict[str, Any] = body["data"]
        return data


def make_samples(service: str, name: str, now: datetime, minutes: int) -> list[dict[str, Any]]:
    """Six latency samples a minute over the last ``minutes`` minutes, on two routes."""
    rng = random.Random(42)
    samples: list[dict[str, Any]] = []
    start = now - timedelta(minutes=minutes)
    for second in range(0, minutes * 60, 10):
        route = "/pay" if second % 20 == 0 else "/cart"
        samples.append(
            {
                "service": service,
                "name": name,
                "value": round(rng.lognormvariate(4.8, 0.5), 1),
                "ts": (start + timedelta(seconds=second)).isoformat(),
                "labels": {"route": route, "region": "eu"},
            }
        )
    return samples


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Ingest samples, then print a signalSeries.")
    parser.add_argument("--service", default="checkout")
    parser.add_argument("--name", default="http_request_duration_ms")
    parser.add_argument("--minutes", type=int, default=10, help="history to ingest")
    parser.add_argument("--step", type=int, default=60, help="bucket width in seconds")
    parser.add_argument("--aggregate", default="P95", choices=AGGREGATES)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    url = os.environ.get("OPSGRAPH_URL", DEFAULT_URL)
    api_key = os.environ.get("OPSGRAPH_ADMIN_KEY")
    if not api_key:
        print("set OPSGRAPH_ADMIN_KEY to the key printed by the first start", file=sys.stderr)
        return 2

    now = datetime.now(UTC).replace(microsecond=0)
    samples = make_samples(arguments.service, arguments.name, now, arguments.minutes)
    # Buckets start at `from`; aligning it to the step gives round bucket times.
    earliest = int((now - timedelta(minutes=arguments.minutes)).timestamp())
    window_start = datetime.fromtimestamp(earliest - earliest % arguments.step, UTC)
    try:
        with OpsGraphClient(url, api_key) as client:
            result = client.execute(INGEST, {"signals": samples})["ingestSignals"]
            print(f"ingested {result['accepted']} samples, rejected {len(result['rejected'])}")
            for rejection in result["rejected"]:
                print(f"  #{rejection['index']}: {rejection['reason']}")

            points = client.execute(
                SERIES,
                {
                    "service": arguments.service,
                    "name": arguments.name,
                    "from": window_start.isoformat(),
                    "to": (now + timedelta(seconds=1)).isoformat(),
                    "step": arguments.step,
                    "aggregate": arguments.aggregate,
                },
            )["signalSeries"]
    except (httpx.HTTPError, GraphQLError) as error:
        print(f"opsgraph at {url}: {error}", file=sys.stderr)
        return 1

    series = f"{arguments.service}/{arguments.name}"
    print(f"\n{arguments.aggregate} of {series}, step {arguments.step}s")
    print(f"{'bucket start (UTC)':<27} {'value':>10} {'samples':>8}")
    for point in points:
        print(f"{point['ts']:<27} {point['value']:>10.1f} {point['count']:>8}")
    return 0


def run(argv: list[str] | None = None) -> int:
    """``main``, quiet when whoever reads stdout stops early (``| head``)."""
    try:
        status = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # Keep the interpreter from failing again on flushing the closed stdout.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return status


if __name__ == "__main__":
    sys.exit(run())
