"""The request ID of the work in progress, carried by a context variable."""

import os
import re
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("opsgraph_request_id", default=None)
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(request_id: str | None) -> None:
    _request_id.set(request_id)


def accept_or_generate(header_value: str | None) -> str:
    """Keep a client's request ID if it is safe to log and echo, else make one."""
    if header_value and _SAFE_REQUEST_ID.match(header_value):
        return header_value
    return os.urandom(16).hex()
