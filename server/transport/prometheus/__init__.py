"""Prometheus and Alertmanager speak to opsgraph directly (``endpoints``)."""

from fastapi import FastAPI

from server.core.services import Services
from server.transport.prometheus.endpoints import PrometheusEndpoints


def mount_prometheus_endpoints(app: FastAPI, services: Services) -> None:
    app.router.routes.extend(PrometheusEndpoints(services).routes())
