"""Prometheus metrics of the process, exposed on ``/metrics``."""

from functools import lru_cache
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

MetricT = TypeVar("MetricT", bound=MetricWrapperBase)

registry = CollectorRegistry(auto_describe=True)

http_requests = Histogram(
    "opsgraph_http_request_duration_seconds",
    "HTTP request duration by method, route and status.",
    ["method", "route", "status"],
    registry=registry,
)
graphql_operations = Histogram(
    "opsgraph_graphql_operation_duration_seconds",
    "GraphQL operation duration by operation type and root fields.",
    ["operation_type", "root_fields"],
    registry=registry,
)
graphql_errors = Counter(
    "opsgraph_graphql_errors_total",
    "GraphQL errors returned, by error code.",
    ["code"],
    registry=registry,
)
live_subscriptions = Gauge(
    "opsgraph_live_subscriptions", "Event subscriptions open on this process.", registry=registry
)
events_published = Counter(
    "opsgraph_events_published_total",
    "Events sequenced and announced on the bus.",
    registry=registry,
)
events_delivered = Counter(
    "opsgraph_events_delivered_total",
    "Events delivered to subscribers, by stream.",
    ["stream"],
    registry=registry,
)
event_delivery_lag = Histogram(
    "opsgraph_event_delivery_lag_seconds",
    "Time from an event's occurrence to its delivery to a subscriber.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=registry,
)
job_runs = Counter(
    "opsgraph_job_runs_total",
    "Task and periodic job runs by kind and outcome.",
    ["kind", "outcome"],
    registry=registry,
)


@lru_cache(maxsize=4_096)
def child(metric: MetricT, *label_values: str) -> MetricT:
    """``metric.labels(*label_values)``, looked up once: ``labels()`` validates and
    locks on every call, a cost that showed on every request."""
    return metric.labels(*label_values)
