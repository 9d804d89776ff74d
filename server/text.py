"""Checks on free text from clients."""

from server.errors import InvalidInput


def refuse_nul(value: str | None, *, field: str) -> None:
    """PostgreSQL can neither store nor compare text holding U+0000: bad input."""
    if value is not None and "\x00" in value:
        raise InvalidInput(f"{field} may not hold a NUL character", field=field)
