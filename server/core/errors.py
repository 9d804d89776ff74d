"""The project's own errors; the GraphQL layer maps each to an error code once."""

from enum import StrEnum


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    CURSOR_EXPIRED = "CURSOR_EXPIRED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL = "INTERNAL"


class OpsGraphError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Unauthenticated(OpsGraphError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(OpsGraphError):
    code = ErrorCode.FORBIDDEN


class InvalidInput(OpsGraphError):
    code = ErrorCode.BAD_USER_INPUT


class NotFound(OpsGraphError):
    code = ErrorCode.NOT_FOUND


class Conflict(OpsGraphError):
    code = ErrorCode.CONFLICT


class RateLimited(OpsGraphError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
