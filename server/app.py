"""The application factory: FastAPI, the GraphQL router and the operational endpoints."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Route, WebSocketRoute
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from schema.root import build_schema
from server import metrics
from server.clock import Clock, SystemClock
from server.http import (
    OpsGraphView,
    RateLimitExceeded,
    RequestContextMiddleware,
    graphql_error_body,
    rate_limit_headers,
)
from server.services import Services
from server.settings import Settings, get_settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = Services.build(settings, clock or SystemClock())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(title="opsgraph", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    # A plain ASGI route, so FastAPI's dependency injection stays out of the way.
    view = _graphql_view(settings)
    app.router.routes.append(Route("/graphql", view))
    app.router.routes.append(WebSocketRoute("/graphql", view))
    _add_operational_routes(app, services)
    _add_error_handlers(app)
    return app


def _graphql_view(settings: Settings) -> OpsGraphView:
    return OpsGraphView(
        build_schema(settings),
        graphql_ide="graphiql" if settings.playground_enabled else None,
        allow_queries_via_get=True,
        multipart_uploads_enabled=False,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        connection_init_wait_timeout=timedelta(seconds=settings.websocket_init_timeout_seconds),
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        keep_alive=True,
        keep_alive_interval=15,
    )


def _add_operational_routes(app: FastAPI, services: Services) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = {"database": await services.db.ping(), "bus": await services.bus.ping()}
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RateLimitExceeded)
    async def rate_limited(request: Request, error: RateLimitExceeded) -> Response:
        headers = rate_limit_headers(error.status) | {"Retry-After": str(error.error.retry_after)}
        body = graphql_error_body(
            error.error.message, error.error.code.value, request.state.request_id
        )
        return Response(body, status_code=429, media_type="application/json", headers=headers)
