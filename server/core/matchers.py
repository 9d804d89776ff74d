"""Label matchers (=, !=, =~, !~) with Prometheus semantics, in Python and in SQL.

A missing label reads as the empty string; regular expressions are fully anchored
and ``.`` matches a newline too (Prometheus compiles ``^(?s:<re>)$``). The anchors
are ``^`` and ``\\Z`` and the leading ``(?s)`` flag, which Python (and so SQLite's
REGEXP) and PostgreSQL's advanced regular expressions read the same way.
"""

import re
from contextlib import nullcontext
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import InvalidInput

MAX_MATCHERS = 20
MAX_PATTERN_LENGTH = 500
#: A label name (Prometheus' rule, at most 64 characters).
LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: PostgreSQL's SQLSTATE for "invalid regular expression".
_INVALID_REGULAR_EXPRESSION = "2201B"
#: Patterns PostgreSQL already compiled; a dashboard repeats the same few.
_POSTGRES_CHECKED: set[str] = set()
_POSTGRES_CHECKED_LIMIT = 4096


class MatchOp(StrEnum):
    EQ = "="
    NEQ = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    label: str
    op: MatchOp
    value: str

    @property
    def is_regex(self) -> bool:
        return self.op in (MatchOp.RE, MatchOp.NRE)

    @property
    def anchored_pattern(self) -> str:
        return f"(?s)^(?:{self.value})\\Z"

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "op": self.op.value, "value": self.value}

    @classmethod
    def from_dict(cls, stored: dict[str, str]) -> "Matcher":
        return cls(label=stored["label"], op=MatchOp(stored["op"]), value=stored["value"])

    def matches(self, labels: dict[str, Any]) -> bool:
        actual = str(labels.get(self.label, ""))
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NEQ:
            return actual != self.value
        found = re.match(self.anchored_pattern, actual) is not None
        return found if self.op is MatchOp.RE else not found

    def to_sql(
        self, labels_column: Any, columns: dict[str, Any] | None = None
    ) -> ColumnElement[bool]:
        """The matcher as a SQL condition on a JSON labels column.

        ``columns`` maps label names that stand for a column of their own
        (e.g. an alert's ``service``) to that column.
        """
        column = (columns or {}).get(self.label)
        actual: ColumnElement[str] = (
            column
            if column is not None
            else func.coalesce(labels_column[self.label].as_string(), "")
        )
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NEQ:
            return actual != self.value
        found = actual.regexp_match(self.anchored_pattern)
        return found if self.op is MatchOp.RE else ~found


def validate_matchers(matchers: list[Matcher], *, field: str = "matchers") -> list[Matcher]:
    if len(matchers) > MAX_MATCHERS:
        raise InvalidInput(f"at most {MAX_MATCHERS} matchers are allowed", field=field)
    for index, matcher in enumerate(matchers):
        if not matcher.label:
            raise InvalidInput("a matcher needs a label name", field=f"{field}[{index}].label")
        if not LABEL_NAME.fullmatch(matcher.label):
            raise InvalidInput(
                f"label name {matcher.label!r} is invalid: letters, digits and _, "
                "not starting with a digit, at most 64 characters",
                field=f"{field}[{index}].label",
            )
        if "\x00" in matcher.value:  # PostgreSQL cannot compare text holding U+0000
            raise InvalidInput("a value may not hold NUL", field=f"{field}[{index}].value")
        if matcher.is_regex:
            _check_pattern(matcher, field=f"{field}[{index}].value")
    return matchers


def _check_pattern(matcher: Matcher, *, field: str) -> None:
    if len(matcher.value) > MAX_PATTERN_LENGTH:
        raise InvalidInput(f"a pattern may be at most {MAX_PATTERN_LENGTH} characters", field=field)
    unportable = _unportable_construct(matcher.value)
    if unportable is not None:
        raise InvalidInput(
            f"{unportable} means one thing in Python and another in PostgreSQL; "
            "rewrite the pattern without it",
            field=field,
        )
    try:
        # The pattern alone, so that e.g. "a)|(b" cannot escape the anchors,
        # and anchored, as it runs (e.g. a "(?i)" inside the group is refused).
        re.compile(matcher.value)
        re.compile(matcher.anchored_pattern)
    except re.error as error:
        raise InvalidInput(f"invalid regular expression: {error}", field=field) from error


def _unportable_construct(pattern: str) -> str | None:
    """A construct Python's ``re`` and PostgreSQL's regular expressions read
    differently, if the pattern has one.

    Patterns run in Python (checking alerts as they are raised, SQLite's REGEXP)
    and in PostgreSQL (filters, re-checks), which must agree: ``\\b`` and
    ``\\B`` are word boundaries in Python but a backspace and a backslash in
    PostgreSQL, and ``[[:alpha:]]``-style classes exist only in PostgreSQL.
    """
    in_brackets = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        following = pattern[index + 1 : index + 2]
        if char == "\\":
            if not in_brackets and following in ("b", "B"):
                return f"\\{following}"
            index += 2
            continue
        if in_brackets:
            if char == "[" and following in (":", ".", "="):
                return f"[{following} ... {following}]"
            if char == "]":
                in_brackets = False
        elif char == "[":
            in_brackets = True
            # A "]" (after an optional "^") right at the start is a literal.
            index += 2 if pattern[index + 1 : index + 3] == "^]" else 1
            if pattern[index : index + 1] == "]":
                index += 1
            continue
        index += 1
    return None


async def check_patterns_in_database(
    session: AsyncSession, matchers: list[Matcher], *, field: str = "matchers"
) -> None:
    """Refuse, as bad input, a pattern the database's regex engine cannot compile.

    Python's ``re`` (SQLite's REGEXP) accepts some syntax PostgreSQL does not,
    e.g. ``(?P<name>...)``, atomic groups or possessive quantifiers; without this
    check such a query would fail inside the database as an internal error.
    Call it after ``validate_matchers``.
    """
    if not any(matcher.is_regex for matcher in matchers):
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return
    driver: Any = (await connection.get_raw_connection()).driver_connection
    in_transaction = driver.is_in_transaction()
    for index, matcher in enumerate(matchers):
        pattern = matcher.anchored_pattern
        if not matcher.is_regex or pattern in _POSTGRES_CHECKED:
            continue
        try:
            # Inside a transaction, a savepoint keeps the failure from aborting it.
            async with session.begin_nested() if in_transaction else nullcontext():
                await session.execute(select(literal("").regexp_match(pattern)))
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != _INVALID_REGULAR_EXPRESSION:
                raise
            detail = str(error.orig).strip().splitlines()[0].rsplit(": ", 1)[-1]
            raise InvalidInput(
                f"invalid regular expression (PostgreSQL): {detail}",
                field=f"{field}[{index}].value",
            ) from error
        if len(_POSTGRES_CHECKED) >= _POSTGRES_CHECKED_LIMIT:
            _POSTGRES_CHECKED.clear()
        _POSTGRES_CHECKED.add(pattern)


def matches_all(matchers: list[Matcher], labels: dict[str, Any]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)
