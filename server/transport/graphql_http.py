"""GraphQL over HTTP: GET and POST, answered straight on the ASGI interface.

Follows the GraphQL-over-HTTP specification: ``application/json`` POST bodies
only (``text/plain`` and form posts, which browsers send cross-site without a
preflight, are refused with 415), queries but never mutations over GET (405),
and the ``application/graphql-response+json`` media type with a 400 status for
a request that could not be executed, when the client accepts it. A request
without a query is 400 with a GraphQL error body, except a browser's GET (its
``Accept`` names ``text/html``), which gets the playground when it is enabled.

Strawberry's HTTP view does the same through request and response adapters,
which cost about as much as executing a small query; this endpoint reads the
request and writes the response itself and leaves execution to the schema.
Websockets stay with Strawberry's view (``server.transport.http.OpsGraphView``).
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from schema.context import Context
from schema.engine.errors import INTERNAL_MESSAGE, without_suggestions
from schema.engine.schema import OpsGraphSchema
from server.core.errors import ErrorCode
from server.core.request_context import current_request_id
from server.core.services import Services
from server.transport.guards import (
    COST_HEADER,
    Refused,
    RequestGuards,
    client_address,
    error_response,
)
from server.transport.http import BodyTooLarge, authenticate, graphql_error_body

logger = logging.getLogger("opsgraph.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
NO_QUERY = (
    "No GraphQL query found in the request: send one as the `query` parameter (GET) "
    "or the `query` member of a JSON body (POST)"
)
ALLOWED_OPERATIONS = {
    "GET": (OperationType.QUERY,),
    "POST": (OperationType.QUERY, OperationType.MUTATION),
}


class RequestRefused(Exception):
    """A request that cannot be a GraphQL operation: answered with a status and a reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None

    @classmethod
    def from_mapping(cls, data: object) -> "GraphQLRequest":
        if not isinstance(data, dict):
            raise RequestRefused(400, "The request body must be one JSON object (no batches).")
        return cls(
            query=_member(data, "query", str, "a string"),
            variables=_member(data, "variables", dict, "an object"),
            operation_name=_member(data, "operationName", str, "a string"),
            extensions=_member(data, "extensions", dict, "an object"),
        )


def _member(data: dict[str, Any], name: str, kind: type, described: str) -> Any:
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        raise RequestRefused(400, f"The GraphQL operation's `{name}` must be {described} or null.")
    return value


class _Headers:
    """The request's headers by lower-case name (ASGI gives them lower-cased)."""

    def __init__(self, scope: Scope) -> None:
        self._raw: dict[bytes, bytes] = dict(scope["headers"])

    def get(self, name: bytes) -> str:
        return self._raw.get(name, b"").decode("latin-1")


class GraphQLEndpoint:
    def __init__(self, schema: OpsGraphSchema, services: Services, *, ide_html: str | None) -> None:
        self._schema = schema
        self._services = services
        self._ide_html = ide_html
        self._guards = RequestGuards(schema, services)
        self._hide_suggestions = services.settings.is_production
        self._retry_after = str(services.settings.unavailable_retry_after_seconds)
        self._behind_proxy = services.settings.trust_forwarded_proto
        self._next_probe = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _Headers(scope)
        try:
            response = await self._respond(scope, receive, headers)
        except RequestRefused as refused:
            response = PlainTextResponse(refused.reason, status_code=refused.status)
        except Refused as refused:
            response = refused.response
        except BodyTooLarge:
            raise  # answered by the middleware that enforces the limit
        except Exception as error:
            response = self._unavailable(error) or _internal_error()
        await response(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive, headers: _Headers) -> Response:
        method = scope["method"]
        if method == "POST":
            request = await _read_post(receive, headers)
        elif method == "GET":
            params = QueryParams(scope["query_string"])
            if "query" not in params and _wants_html(headers.get(b"accept")):
                return self._ide()
            request = _read_get(params)
        else:
            raise RequestRefused(405, "GraphQL only supports GET and POST requests.")
        accept = headers.get(b"accept")
        if not request.query and not self._guards.takes_hash_alone(request.extensions):
            return _query_required(accept)
        principal, auth_error = await authenticate(self._services, headers.get(b"authorization"))
        admission = await self._guards.admit(
            query=request.query,
            operation_name=request.operation_name,
            variables=request.variables,
            extensions=request.extensions,
            principal=principal,
            client=client_address(scope, behind_proxy=self._behind_proxy),
            wants_cost=headers.get(COST_HEADER).strip() not in ("", "0"),
            request_error_status=400 if GRAPHQL_RESPONSE_JSON in accept else 200,
        )
        request = GraphQLRequest(
            admission.query, request.variables, request.operation_name, request.extensions
        )
        context = Context(
            self._services,
            request_id=current_request_id(),
            principal=principal,
            auth_error=auth_error,
        )
        try:
            result = await self._execute(request, method, context)
        finally:
            await context.close()
        extensions = {"cost": admission.cost} if admission.cost is not None else None
        response = _graphql_response(
            result, accept, admission.headers, extensions, hide_suggestions=self._hide_suggestions
        )
        dependency = _unavailable_dependency(result)
        if dependency is not None:
            self._services.dependencies.by_name(dependency).failed("a request could not reach it")
            response.status_code = 503
            response.headers["Retry-After"] = self._retry_after
        elif self._services.dependencies.database.is_down:
            if context.used_database:
                self._services.dependencies.database.succeeded()
            else:
                await self._probe_database()
        return response

    async def _probe_database(self) -> None:
        """Notice the end of an outage without waiting for the next poll, from an
        answer that needed no database: at most once a second while it is marked down."""
        now = time.monotonic()
        if now < self._next_probe:
            return
        self._next_probe = now + 1.0
        if await self._services.db.ping():
            self._services.dependencies.database.succeeded()

    async def _execute(
        self, request: GraphQLRequest, method: str, context: Context
    ) -> ExecutionResult:
        try:
            return await self._schema.execute(
                request.query,
                variable_values=request.variables,
                context_value=context,
                operation_name=request.operation_name,
                allowed_operation_types=ALLOWED_OPERATIONS[method],
                operation_extensions=request.extensions,
            )
        except CannotGetOperationTypeError as error:
            raise RequestRefused(400, error.as_http_error_reason()) from error
        except InvalidOperationTypeError as error:
            # GraphQL over HTTP: a mutation over GET is 405 Method Not Allowed.
            raise RequestRefused(
                405 if method == "GET" else 400, error.as_http_error_reason(method)
            ) from error

    def _unavailable(self, error: Exception) -> Response | None:
        """503 with Retry-After when the error is an unreachable database or Redis."""
        dependency = self._services.dependencies.report(error)
        if dependency is None:
            return None
        return error_response(
            f"The {dependency.name} cannot be reached right now; retry in a few seconds.",
            ErrorCode.SERVICE_UNAVAILABLE.value,
            status=503,
            headers={"Retry-After": self._retry_after},
            dependency=dependency.name,
        )

    def _ide(self) -> Response:
        if self._ide_html is None:
            raise RequestRefused(404, "Not Found")
        return HTMLResponse(self._ide_html)


async def _read_post(receive: Receive, headers: _Headers) -> GraphQLRequest:
    # The media type only, compared exactly: parameters such as charset may follow.
    media_type = headers.get(b"content-type").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise RequestRefused(
            415, "POST bodies must be application/json (text/plain and forms are refused)"
        )
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    try:
        data = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as error:
        raise RequestRefused(400, "Unable to parse request body as JSON") from error
    return GraphQLRequest.from_mapping(data)


def _read_get(params: QueryParams) -> GraphQLRequest:
    data: dict[str, Any] = dict(params)
    for name in ("variables", "extensions"):
        if data.get(name):
            try:
                data[name] = orjson.loads(data[name])
            except orjson.JSONDecodeError as error:
                raise RequestRefused(400, f"Unable to parse `{name}` as JSON") from error
        else:
            data.pop(name, None)
    return GraphQLRequest.from_mapping(data)


def _wants_html(accept: str) -> bool:
    """Whether the client is a browser: its ``Accept`` names ``text/html`` itself.

    ``*/*`` alone (curl, HTTP libraries) does not count: such a client wants the
    GraphQL-over-HTTP answer, not the playground's page.
    """
    for media_range in accept.split(","):
        media_type, _, parameters = media_range.partition(";")
        if media_type.strip().lower() == "text/html":
            return _quality(parameters) > 0
    return False


def _quality(parameters: str) -> float:
    """The ``q`` weight of a media range's parameters (1 when absent or malformed)."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 1.0
    return 1.0


def _query_required(accept: str) -> Response:
    """GraphQL over HTTP: a request without a query is 400, with a GraphQL error body."""
    body = graphql_error_body(NO_QUERY, ErrorCode.BAD_USER_INPUT.value, current_request_id())
    media_type = GRAPHQL_RESPONSE_JSON if GRAPHQL_RESPONSE_JSON in accept else "application/json"
    return Response(body, 400, media_type=media_type)


def is_request_error(result: ExecutionResult) -> bool:
    """Parse, validation and variable errors: nothing was executed."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or [])
    )


def _internal_error() -> Response:
    logger.exception("unexpected error serving a GraphQL request")
    body = graphql_error_body(INTERNAL_MESSAGE, ErrorCode.INTERNAL.value, current_request_id())
    return Response(body, 500, media_type="application/json")


def _unavailable_dependency(result: ExecutionResult) -> str | None:
    """The dependency an error of the result found unreachable, if any."""
    code = ErrorCode.SERVICE_UNAVAILABLE.value
    for error in result.errors or []:
        extensions = error.extensions or {}
        if extensions.get("code") == code:
            return str(extensions.get("dependency"))
    return None


def _graphql_response(
    result: ExecutionResult,
    accept: str,
    headers: dict[str, str],
    extensions: dict[str, Any] | None = None,
    *,
    hide_suggestions: bool = False,
) -> Response:
    body: dict[str, Any] = {}
    request_error = is_request_error(result)
    if not request_error:
        body["data"] = result.data
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
        if hide_suggestions:
            for error in body["errors"]:
                error["message"] = without_suggestions(error["message"])
    if extensions:
        body["extensions"] = extensions
    status = 200
    media_type = "application/json"
    if GRAPHQL_RESPONSE_JSON in accept:
        media_type = GRAPHQL_RESPONSE_JSON
        status = 400 if request_error else 200
    return Response(orjson.dumps(body), status, headers, media_type=media_type)
