"""Checks on free text from clients."""

import re

from server.core.errors import InvalidInput


class RememberingPattern:
    """A pattern that remembers the texts it matched: a batch repeats a handful of
    names thousands of times. Bounded, as the texts come from clients."""

    def __init__(self, pattern: re.Pattern[str], *, kept: int = 10_000) -> None:
        self._pattern = pattern
        self._kept = kept
        self._matched: set[str] = set()

    def fullmatch(self, text: str) -> bool:
        if text in self._matched:
            return True
        if not self._pattern.fullmatch(text):
            return False
        if len(self._matched) < self._kept:
            self._matched.add(text)
        return True


def refuse_nul(value: str | None, *, field: str) -> None:
    """PostgreSQL can neither store nor compare text holding U+0000: bad input."""
    if value is not None and "\x00" in value:
        raise InvalidInput(f"{field} may not hold a NUL character", field=field)


SERVICE_RULE = "service must be 1-100 characters of letters, digits and _.:/-"
_SERVICE = RememberingPattern(re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}"))


def is_service_name(text: str) -> bool:
    """The one rule for service names, shared by signals, alerts and SLOs."""
    return _SERVICE.fullmatch(text)


def require_service_name(text: str, *, field: str) -> None:
    if not is_service_name(text):
        raise InvalidInput(SERVICE_RULE, field=field)
