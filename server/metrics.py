"""Prometheus metrics of the process, exposed on ``/metrics``."""

from prometheus_client import CollectorRegistry, Counter, Histogram

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
