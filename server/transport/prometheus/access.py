"""What a request to a Prometheus endpoint passes before it is read, and how
refusals and failures answer.

The same API keys and the same rate limit as ``/graphql``: a Bearer key (as
Prometheus' and Alertmanager's ``authorization`` settings send it) whose role
may write (developer or admin), and one write from the key's and its
workspace's budgets per request. The status codes are chosen for senders that
retry 5xx and 429 but never 4xx: what a retry cannot fix (no key, a viewer's
key, a body that cannot be read) is 4xx; what passes (rate limit, an
unreachable database, a fault of opsgraph's) is 429 or 5xx, with
``Retry-After`` where the wait is known.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from server.core.auth import Permission, Principal
from server.core.errors import ErrorCode, OpsGraphError
from server.core.ratelimit import RequestKind
from server.core.services import Services
from server.transport.guards import Refused, error_response, rate_limit_headers
from server.transport.http import BodyTooLarge, authenticate

logger = logging.getLogger("opsgraph.prometheus")

#: The status each of the project's errors answers with on these endpoints.
STATUS_OF_CODE = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.BAD_USER_INPUT: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


@dataclass
class Admitted:
    principal: Principal
    headers: dict[str, str] = field(default_factory=dict)


def refusal(status: int, code: ErrorCode, message: str, **headers: str) -> Refused:
    return Refused(error_response(message, code.value, status=status, headers=headers or None))


async def admit(services: Services, request: Request) -> Admitted:
    """The request's principal and rate limit headers, or Refused."""
    principal, error = await authenticate(services, request.headers.get("authorization"))
    if error is not None or principal is None:
        message = error.message if error is not None else "an API key is required"
        raise refusal(
            401,
            ErrorCode.UNAUTHENTICATED,
            f"{message}: send 'Authorization: Bearer <api key>' (a developer or admin key)",
            **{"WWW-Authenticate": 'Bearer realm="opsgraph"'},
        )
    if not principal.can(Permission.OBSERVABILITY_WRITE):
        raise refusal(
            403,
            ErrorCode.FORBIDDEN,
            f"this key's role ({principal.role.value}) cannot write: use a developer or admin key",
        )
    return Admitted(principal, await _rate_limit(services, principal))


async def _rate_limit(services: Services, principal: Principal) -> dict[str, str]:
    limiter = services.rate_limiter
    if not limiter.enabled:
        return {}
    status = await limiter.hit(principal, RequestKind.WRITE)
    if status is None:
        return {}
    headers = rate_limit_headers(status)
    if status.exceeded:
        raise Refused(
            error_response(
                f"rate limit exceeded: too many writes; retry in {status.retry_after}s",
                ErrorCode.RATE_LIMITED.value,
                status=429,
                headers=headers,
                retryAfter=status.retry_after,
            )
        )
    return headers


def media_type(request: Request, header: str = "content-type") -> str:
    return request.headers.get(header, "").partition(";")[0].strip().lower()


Handler = Callable[[Request], Awaitable[Response]]


def answered(services: Services, handler: Handler) -> Handler:
    """``handler`` with refusals, the project's errors, outages and faults answered."""
    retry_after = str(services.settings.unavailable_retry_after_seconds)

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as refused:
            return refused.response
        except OpsGraphError as error:
            status = STATUS_OF_CODE.get(error.code, 500)
            return error_response(error.message, error.code.value, status=status)
        except BodyTooLarge:
            raise  # answered by the middleware that enforces the limit
        except Exception as error:
            dependency = services.dependencies.report(error)
            if dependency is None:
                logger.exception("unexpected error serving %s", request.url.path)
                return error_response("internal error", ErrorCode.INTERNAL.value, status=500)
            return error_response(
                f"The {dependency.name} cannot be reached right now; retry in a few seconds.",
                ErrorCode.SERVICE_UNAVAILABLE.value,
                status=503,
                headers={"Retry-After": retry_after},
                dependency=dependency.name,
            )

    return endpoint
