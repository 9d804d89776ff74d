"""The application factory: FastAPI, the GraphQL router and the operational endpoints."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from schema.engine.schema import OpsGraphSchema
from schema.root import build_schema
from server.core import metrics
from server.core.clock import Clock, SystemClock
from server.core.services import Services
from server.core.settings import Settings, get_settings
from server.notifications import service as notifications
from server.oncall import service as oncall
from server.transport.composition import build_services
from server.transport.graphql_http import GraphQLEndpoint
from server.transport.headers import guarded
from server.transport.http import OpsGraphView, RequestContextMiddleware
from server.transport.persisted import PersistedOperations
from server.transport.prometheus import mount_prometheus_endpoints
from server.transport.web_assets import mount_web_assets, playground_page

GRAPHQL_PATH = "/graphql"


class OpsGraphApp(FastAPI):
    """FastAPI for the operational routes and websockets; GraphQL over HTTP goes
    straight to its endpoint, past the middleware and routing it does not use.
    Every response passes the security headers and CORS (``guarded``)."""

    graphql_http: ASGIApp
    guarded: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.guarded(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == GRAPHQL_PATH:
            await self.graphql_http(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = build_services(settings, clock or SystemClock())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    app = OpsGraphApp(title="opsgraph", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    schema = build_schema(settings)
    ide_html = playground_page() if settings.playground_enabled else None
    app.graphql_http = RequestContextMiddleware(
        GraphQLEndpoint(schema, services, ide_html=ide_html),
        max_body_bytes=settings.max_body_bytes,
    )
    app.guarded = guarded(app.dispatch, settings)
    app.router.routes.append(WebSocketRoute(GRAPHQL_PATH, _websocket_view(schema, settings)))
    _add_operational_routes(app, services)
    mount_prometheus_endpoints(app, services)
    mount_web_assets(app, settings)
    return app


def _websocket_view(schema: OpsGraphSchema, settings: Settings) -> OpsGraphView:
    view = OpsGraphView(
        schema,
        graphql_ide=None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        connection_init_wait_timeout=timedelta(seconds=settings.websocket_init_timeout_seconds),
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        keep_alive=True,
        keep_alive_interval=15,
    )
    view.persisted = PersistedOperations.from_settings(settings)
    return view


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

    @app.post(notifications.RECEIPTS_PATH, include_in_schema=False)
    async def notification_receipt(request: Request) -> JSONResponse:
        body, now = await request.body(), services.clock.now()
        status, answer = await notifications.answer_receipt(
            services.db, body=body, headers=request.headers, now=now
        )
        return JSONResponse(answer, status_code=status)

    @app.get("/oncall/{schedule}.ics", include_in_schema=False)
    async def oncall_feed(schedule: str, token: str = "") -> Response:
        async with services.db.reader() as session:
            body = await oncall.calendar_feed(
                session, schedule=schedule, token=token, now=services.clock.now()
            )
        if body is None:  # a wrong token and an unknown schedule look alike
            return Response(status_code=404)
        return Response(body, media_type="text/calendar; charset=utf-8")
