"""HTTP glue: request IDs, body limits, metrics, authentication and the websocket view."""

import json
import logging
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from schema.context import Context
from schema.engine.execution import RenderedData
from server.core import metrics
from server.core.auth import Principal, parse_bearer
from server.core.errors import ErrorCode, OpsGraphError
from server.core.request_context import accept_or_generate, set_request_id
from server.core.services import Services
from server.transport.persisted import PersistedOperations
from server.transport.ws_guard import TOO_MANY, WebSocketGuard
from server.transport.ws_protocols import LegacyGraphQLWSHandler, TransportWSHandler

logger = logging.getLogger("opsgraph.http")

KNOWN_ROUTES = frozenset(
    {
        "/graphql",
        "/healthz",
        "/readyz",
        "/metrics",
        "/dashboard",
        "/api/v1/write",
        "/api/v2/alerts",
        "/integrations/alertmanager",
    }
)


def graphql_error_body(message: str, code: str, request_id: str | None) -> bytes:
    extensions = {"code": code} | ({"requestId": request_id} if request_id else {})
    return json.dumps({"errors": [{"message": message, "extensions": extensions}]}).encode()


class RequestContextMiddleware:
    """Gives every HTTP request an ID, a size limit on its body, metrics and a log line."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = accept_or_generate(headers.get(b"x-request-id", b"").decode("latin-1"))
        set_request_id(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._http(scope, receive, send, request_id, headers)

    async def _http(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        headers: dict[bytes, bytes],
    ) -> None:
        started = time.perf_counter()
        status = 500
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            status = 413
            await self._too_large(send, request_id)
            self._observe(scope, status, started)
            return

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, self._limited(receive), send_with_request_id)
        except BodyTooLarge:  # a chunked body grew past the limit while being read
            status = 413
            await self._too_large(send, request_id)
        finally:
            self._observe(scope, status, started)

    def _limited(self, receive: Receive) -> Receive:
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        return limited_receive

    async def _too_large(self, send: Send, request_id: str) -> None:
        body = graphql_error_body(
            f"request body larger than {self.max_body_bytes} bytes",
            ErrorCode.BAD_USER_INPUT.value,
            request_id,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        path = scope["path"]
        route = path if path in KNOWN_ROUTES else "other"
        metrics.child(metrics.http_requests, scope["method"], route, str(status)).observe(elapsed)
        logger.info(
            "%s %s %s",
            scope["method"],
            path,
            status,
            extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
        )


class BodyTooLarge(Exception):
    pass


async def authenticate(
    services: Services, authorization: str | None
) -> tuple[Principal | None, OpsGraphError | None]:
    """The principal of an ``Authorization`` value, or the error refusing it."""
    try:
        secret = parse_bearer(authorization)
        if secret is None:
            return None, None
        return await services.authenticator.authenticate(secret), None
    except OpsGraphError as error:
        return None, error


class OpsGraphView(GraphQL[Context, None]):
    """Strawberry's view, for websockets: both subprotocols, authenticated by the
    API key of ``connection_init``. HTTP is served by ``server.transport.graphql_http``."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyGraphQLWSHandler
    #: The allow-list of persisted-operations mode, shared by this app's connections.
    persisted: PersistedOperations | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        contexts: list[Context] = []
        scope["opsgraph.contexts"] = contexts
        services: Services = scope["app"].state.services
        guard = WebSocketGuard(
            scope,
            receive,
            send,
            settings=services.settings,
            limiter=services.rate_limiter,
            slots=services.connection_slots,
            schema=self.schema,  # type: ignore[arg-type]
            persisted=self.persisted,
        )
        scope["opsgraph.guard"] = guard
        try:
            await self.run(WebSocket(scope, receive=guard.receive, send=guard.send))
        finally:
            await guard.release()
            for context in contexts:
                await context.close()

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        services: Services = request.app.state.services
        context = Context(
            services,
            request_id=request.scope.get("state", {}).get("request_id"),
            principal=None,
            share_read_session=False,
        )
        context.request = request
        request.scope["opsgraph.contexts"].append(context)
        return context

    def encode_json(self, data: object) -> str:
        """A websocket message; the data of an event shared by many subscribers is
        spliced in as already encoded (schema.engine.execution.RenderedData)."""
        if isinstance(data, dict):
            payload = data.get("payload")
            if isinstance(payload, dict) and payload.keys() == {"data"}:
                rendered = payload["data"]
                if isinstance(rendered, RenderedData):
                    rest = {key: value for key, value in data.items() if key != "payload"}
                    head = orjson.dumps(rest)[:-1] + (b"," if rest else b"")
                    return (head + b'"payload":{"data":' + rendered.json() + b"}}").decode()
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a websocket from its ``connection_init`` payload."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = params.get("Authorization") or params.get("authorization")
        if authorization is None and params.get("apiKey"):
            authorization = f"Bearer {params['apiKey']}"
        principal, _ = await authenticate(context.services, authorization)
        if principal is None:
            raise ConnectionRejectionError({"message": "a valid API key is required"})
        guard = _guard_of(context)
        if guard is not None and not await guard.authenticated(principal):
            limit = context.services.settings.max_websocket_connections_per_key
            await guard.close(TOO_MANY, f"This API key already holds {limit} connections")
            raise ConnectionRejectionError({"message": "too many connections for this API key"})
        context.authenticate(principal)
        acknowledged: UnsetType = UNSET
        return acknowledged


def _guard_of(context: Context) -> WebSocketGuard | None:
    request = context.request
    guard = request.scope.get("opsgraph.guard") if request is not None else None
    return guard if isinstance(guard, WebSocketGuard) else None
