"""Maps every GraphQL error to a code and masks unexpected ones.

Request errors (parse, validation, variable coercion) have no path; execution
errors carry the project's own exception, or else are internal and masked. An
execution error caused by an unreachable database or Redis is
``SERVICE_UNAVAILABLE`` (``extensions.dependency`` names which): said plainly to
the client and not logged here; the transport reports the outage, which is
logged once (``server.core.outages``), not with a traceback per request.
"""

import logging
import re
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from server.core import metrics
from server.core.errors import ErrorCode, OpsGraphError
from server.core.outages import unavailable_dependency
from server.core.request_context import current_request_id

logger = logging.getLogger("opsgraph.graphql")

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL_MESSAGE = "Internal server error; quote the request ID when reporting it."
UNAVAILABLE_MESSAGE = "The {dependency} cannot be reached right now; retry in a few seconds."
#: graphql-core's suggestions, e.g. " Did you mean 'alerts'?" (hidden in production).
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _unavailable(error: GraphQLError) -> str | None:
    """The dependency whose outage caused an execution error, if that is its cause."""
    original = error.original_error
    if error.path is None or original is None or isinstance(original, OpsGraphError):
        return None
    return unavailable_dependency(original)


def _is_internal(error: GraphQLError) -> bool:
    return (
        error.path is not None
        and not isinstance(error.original_error, OpsGraphError)
        and _unavailable(error) is None
    )


def without_suggestions(message: str) -> str:
    """The message without graphql-core's "Did you mean ...?" suggestions."""
    return _SUGGESTION.sub("", message)


def _request_error_code(error: GraphQLError) -> str:
    if error.message.startswith("Syntax Error"):
        return PARSE_FAILED
    if error.message.startswith("Variable '$"):
        return ErrorCode.BAD_USER_INPUT.value
    return VALIDATION_FAILED


#: graphql-core's variable coercion errors, e.g. "Variable '$input' has invalid
#: value at .sli.comparator: Value 'X' does not exist in 'Comparator' enum."
_VARIABLE_ERROR = re.compile(
    r"Variable '\$(?P<name>\w+)' has invalid value(?: at (?P<path>[^:]+))?:"
)


def _variable_field(message: str) -> str | None:
    """The input field a variable coercion error is about, e.g. input.sli.comparator."""
    found = _VARIABLE_ERROR.match(message)
    return found["name"] + (found["path"] or "") if found is not None else None


def error_extensions(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    extensions: dict[str, Any] = dict(error.extensions or {})
    if isinstance(original, OpsGraphError):
        extensions["code"] = original.code.value
        if original.field is not None:
            extensions["field"] = original.field
    elif (dependency := _unavailable(error)) is not None:
        extensions = {"code": ErrorCode.SERVICE_UNAVAILABLE.value, "dependency": dependency}
    elif _is_internal(error):
        extensions = {"code": ErrorCode.INTERNAL.value}
    else:
        extensions.setdefault("code", _request_error_code(error))
        if extensions["code"] == ErrorCode.BAD_USER_INPUT.value:
            field = _variable_field(error.message)
            if field is not None:
                extensions.setdefault("field", field)
    request_id = current_request_id()
    if request_id is not None:
        extensions["requestId"] = request_id
    return extensions


def code_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors as clients see them: each with its code and the request ID, the
    message of an unexpected one masked."""
    coded = []
    for error in errors:
        extensions = error_extensions(error)
        metrics.child(metrics.graphql_errors, extensions["code"]).inc()
        message = _client_message(error)
        coded.append(
            GraphQLError(
                message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                original_error=None,
                extensions=extensions,
            )
        )
    return coded


def _client_message(error: GraphQLError) -> str:
    dependency = _unavailable(error)
    if dependency is not None:
        return UNAVAILABLE_MESSAGE.format(dependency=dependency)
    return INTERNAL_MESSAGE if _is_internal(error) else error.message


def log_errors(errors: list[GraphQLError]) -> None:
    """An unexpected error is logged with its stack; an outage and the client's
    own mistakes quietly."""
    for error in errors:
        original = error.original_error
        if _is_internal(error) and original is not None:
            logger.error(
                "unexpected error in %s",
                ".".join(str(part) for part in error.path or []),
                exc_info=(type(original), original, original.__traceback__),
            )
        else:
            logger.debug("graphql error: %s", error.message)


class CodedErrors(MaskErrors):
    """MaskErrors that codes every error, for operations run through extensions."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_internal, error_message=INTERNAL_MESSAGE)

    def _process_result(self, result: object) -> None:
        # MaskErrors checks ``isinstance(result, <runtime-checkable Protocol>)``,
        # which inspects every member of the protocol on each request.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = code_errors(errors)  # type: ignore[attr-defined]
