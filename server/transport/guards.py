"""What a GraphQL request over HTTP passes before it runs, and how refusals read.

In order: persisted operations (when only those are accepted), the rate limit
of its key and workspace (reads or writes, by the operation's type) or, with
no key, of its client address, and the query cost. Each refusal is a GraphQL
error with a code; the cost, when the client asks for it
(``extensions: {"cost": true}`` or the header ``X-OpsGraph-Cost: 1``), comes
back in ``extensions.cost`` as ``{"requested": N, "limit": L}``.
"""

from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Scope

from schema.engine.cost import operation_cost
from schema.engine.documents import root_fields
from schema.engine.schema import OpsGraphSchema
from server.core.auth import Principal
from server.core.errors import ErrorCode
from server.core.ratelimit import RateLimitStatus, RequestKind
from server.core.request_context import current_request_id
from server.core.services import Services
from server.transport.persisted import PersistedOperations, PersistedQueryRefused

COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED"
COST_HEADER = b"x-opsgraph-cost"


class Refused(Exception):
    """A request answered with an error before it ran."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class Admission:
    query: str
    headers: dict[str, str] = field(default_factory=dict)
    cost: dict[str, int] | None = None


def cost_refusal(cost: int, limit: int) -> str:
    return (
        f"the query costs {cost}, over the limit of {limit}: "
        "ask for fewer items (first) or fewer nested lists"
    )


def error_response(
    message: str,
    code: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json",
    **extensions: Any,
) -> Response:
    coded: dict[str, Any] = {"code": code, **extensions}
    request_id = current_request_id()
    if request_id is not None:
        coded["requestId"] = request_id
    body = orjson.dumps({"errors": [{"message": message, "extensions": coded}]})
    return Response(body, status, headers, media_type=media_type)


def rate_limit_headers(status: RateLimitStatus) -> dict[str, str]:
    headers = {
        "X-RateLimit-Limit": str(status.limit),
        "X-RateLimit-Remaining": str(max(status.remaining, 0)),
        "X-RateLimit-Reset": str(status.reset_seconds),
    }
    if status.exceeded:
        headers["Retry-After"] = str(status.retry_after)
    return headers


def client_address(scope: Scope, *, behind_proxy: bool) -> str:
    """The address a request came from: the connection's peer, or, behind a
    trusted proxy, the last address of ``X-Forwarded-For`` (the one that proxy
    added; a client can only put addresses before it)."""
    if behind_proxy:
        forwarded: list[bytes] = [
            value for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"
        ]
        last = forwarded[-1].decode("latin-1").split(",")[-1].strip() if forwarded else ""
        if last:
            return last
    peer = scope.get("client")
    return str(peer[0]) if peer else "unknown"


class RequestGuards:
    def __init__(self, schema: OpsGraphSchema, services: Services) -> None:
        settings = services.settings
        self._schema = schema
        self._services = services
        self._max_cost = settings.max_query_cost
        self._page_size = settings.default_page_size
        self._persisted = PersistedOperations.from_settings(settings)

    def takes_hash_alone(self, extensions: dict[str, Any] | None) -> bool:
        """Whether a request without a query text may still name a persisted one."""
        named = isinstance((extensions or {}).get("persistedQuery"), dict)
        return self._persisted is not None and named

    async def admit(
        self,
        *,
        query: str | None,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        extensions: dict[str, Any] | None,
        principal: Principal | None,
        client: str,
        wants_cost: bool,
        request_error_status: int,
    ) -> Admission:
        """The request's document and response headers, or Refused."""
        text = self._persisted_text(query, extensions)
        prepared = self._schema.preparer.prepare(text)
        document = prepared.document if not prepared.errors else None
        kind = RequestKind.READ
        if document is not None and root_fields(document, operation_name)[0] == "mutation":
            kind = RequestKind.WRITE
        admission = Admission(text, await self._rate_limit(principal, client, kind))
        if document is not None:
            cost = operation_cost(
                self._schema,
                document,
                operation_name,
                variables,
                default_page_size=self._page_size,
            )
            reported = {"requested": cost, "limit": self._max_cost}
            if cost > self._max_cost:
                raise Refused(
                    error_response(
                        cost_refusal(cost, self._max_cost),
                        COST_LIMIT_EXCEEDED,
                        status=request_error_status,
                        headers=admission.headers,
                        cost=reported,
                    )
                )
            if wants_cost or (extensions or {}).get("cost") is True:
                admission.cost = reported
        return admission

    def _persisted_text(self, query: str | None, extensions: dict[str, Any] | None) -> str:
        if self._persisted is None:
            return query or ""
        try:
            return self._persisted.resolve(query, extensions)
        except PersistedQueryRefused as refusal:
            raise Refused(error_response(refusal.message, refusal.code)) from refusal

    async def _rate_limit(
        self, principal: Principal | None, client: str, kind: RequestKind
    ) -> dict[str, str]:
        limiter = self._services.rate_limiter
        if not limiter.enabled:
            return {}
        if principal is None:
            status = await limiter.hit_anonymous(client)
        else:
            status = await limiter.hit(principal, kind)
        if status is None:
            return {}
        headers = rate_limit_headers(status)
        if status.exceeded:
            what = "mutations" if kind is RequestKind.WRITE else "requests"
            if principal is None:
                what = "requests without an API key from this address"
            raise Refused(
                error_response(
                    f"rate limit exceeded: too many {what}; retry in {status.retry_after}s",
                    ErrorCode.RATE_LIMITED.value,
                    status=429,
                    headers=headers,
                    retryAfter=status.retry_after,
                )
            )
        return headers
