"""HTTP glue: request IDs, body limits, metrics, the GraphQL router and its context."""

import json
import logging
import time
from typing import Any

from cross_web import AsyncHTTPRequestAdapter
from cross_web import HTTPException as GraphQLHTTPException
from fastapi import Request, Response
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from schema.context import Context
from server import metrics
from server.auth import Principal, parse_bearer
from server.errors import ErrorCode, OpsGraphError, RateLimited
from server.ratelimit import RateLimitStatus
from server.request_context import accept_or_generate, set_request_id
from server.services import Services

logger = logging.getLogger("opsgraph.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
KNOWN_ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/dashboard"})


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
        metrics.http_requests.labels(
            method=scope["method"], route=route, status=str(status)
        ).observe(elapsed)
        logger.info(
            "%s %s %s",
            scope["method"],
            path,
            status,
            extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
        )


class BodyTooLarge(Exception):
    pass


class RateLimitExceeded(Exception):
    def __init__(self, error: RateLimited, status: RateLimitStatus) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status


def rate_limit_headers(status: RateLimitStatus) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(status.limit),
        "X-RateLimit-Remaining": str(max(status.remaining, 0)),
        "X-RateLimit-Reset": str(status.reset_seconds),
    }


async def _authenticate(
    services: Services, authorization: str | None
) -> tuple[Principal | None, OpsGraphError | None]:
    try:
        secret = parse_bearer(authorization)
        if secret is None:
            return None, None
        return await services.authenticator.authenticate(secret), None
    except OpsGraphError as error:
        return None, error


async def create_context(connection: HTTPConnection, response: Response | None) -> Context:
    """Authenticates the caller and applies the per-key rate limit."""
    services: Services = connection.app.state.services
    request_id = connection.scope.get("state", {}).get("request_id")
    principal, auth_error = (None, None)
    if connection.scope["type"] == "http":
        principal, auth_error = await _authenticate(
            services, connection.headers.get("authorization")
        )
    if principal is not None and services.rate_limiter.enabled:
        status = services.rate_limiter.hit(principal.key_id)
        if response is not None:
            response.headers.update(rate_limit_headers(status))
        if status.exceeded:
            raise RateLimitExceeded(
                RateLimited("rate limit exceeded", retry_after=status.reset_seconds), status
            )
    return Context(
        services,
        request_id=request_id,
        principal=principal,
        auth_error=auth_error,
        share_read_session=connection.scope["type"] == "http",
    )


def is_request_error(result: ExecutionResult) -> bool:
    """Parse, validation and variable errors: nothing was executed."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or [])
    )


class OpsGraphView(GraphQL[Context, None]):
    """GraphQL over HTTP, with ``application/graphql-response+json`` and its status codes.

    A plain ASGI app mounted on FastAPI: FastAPI's dependency injection cost
    about a quarter of a trivial query, and the view needs none of it.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        contexts: list[Context] = []
        scope["opsgraph.contexts"] = contexts
        try:
            if scope["type"] == "http":
                request = Request(scope, receive=receive)
                try:
                    response = await self.run(request)
                except GraphQLHTTPException as error:
                    response = PlainTextResponse(error.reason, status_code=error.status_code)
                await response(scope, receive, send)
            elif scope["type"] == "websocket":
                await self.run(WebSocket(scope, receive=receive, send=send))
        finally:
            for context in contexts:
                await context.close()

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = await create_context(
            request, response if isinstance(response, Response) else None
        )
        request.scope["opsgraph.contexts"].append(context)
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a websocket from its ``connection_init`` payload."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = params.get("Authorization") or params.get("authorization")
        if authorization is None and params.get("apiKey"):
            authorization = f"Bearer {params['apiKey']}"
        principal, _ = await _authenticate(context.services, authorization)
        if principal is None:
            raise ConnectionRejectionError({"message": "a valid API key is required"})
        context.authenticate(principal)
        acknowledged: UnsetType = UNSET
        return acknowledged

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        response = await super().get_sub_response(request)
        request.state.sub_response = response
        return response

    async def parse_http_body(self, request: Any) -> Any:
        # The media type only: strawberry's parse_content_type builds an email.message.
        content_type = (request.content_type or "").partition(";")[0].strip().lower()
        if request.method == "POST" and content_type != "application/json":
            raise GraphQLHTTPException(
                415, "POST bodies must be application/json (text/plain and forms are refused)"
            )
        return await super().parse_http_body(request)

    async def execute_single(  # noqa: PLR0917
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except GraphQLHTTPException as error:
            if request_adapter.method == "GET" and "mutation" in error.reason.lower():
                # GraphQL over HTTP: a mutation over GET is 405 Method Not Allowed.
                raise GraphQLHTTPException(405, error.reason) from error
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if is_request_error(result):
            processed.pop("data", None)  # nothing was executed, so there is no data entry
        if GRAPHQL_RESPONSE_JSON in request.headers.get("accept", ""):
            response: Response = request.state.sub_response
            response.media_type = GRAPHQL_RESPONSE_JSON
            if is_request_error(result):
                response.status_code = 400
        return processed

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type:
            response.headers["content-type"] = sub_response.media_type
        return response
