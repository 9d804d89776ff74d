"""Removes secrets from operation variables before they are written to the audit log."""

import re
from typing import Any

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(
    r"(secret|password|passwd|token|authorization|api_?key$|credential)", re.I
)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)
MAX_STRING = 1_000
MAX_ITEMS = 10


def redact(value: Any, *, name: str = "") -> Any:
    """Redact values under secret-looking names and credentials inside URLs; truncate."""
    if name and _SECRET_NAME.search(name) and value is not None:
        return REDACTED
    if isinstance(value, dict):
        return {key: redact(item, name=str(key)) for key, item in value.items()}
    if isinstance(value, list):
        items = [redact(item, name=name) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"... {len(value) - MAX_ITEMS} more")
        return items
    if isinstance(value, str):
        # PostgreSQL's jsonb cannot hold U+0000: a refused NUL must not lose the record.
        cleaned = _URL_CREDENTIALS.sub(r"\g<scheme>[redacted]@", value).replace("\x00", "\ufffd")
        return cleaned[:MAX_STRING]
    return value
