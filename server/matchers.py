"""Label matchers (=, !=, =~, !~) with Prometheus semantics, in Python and in SQL.

A missing label reads as the empty string; regular expressions are fully anchored.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func

from server.errors import InvalidInput

MAX_MATCHERS = 20
MAX_PATTERN_LENGTH = 500


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
    def anchored_pattern(self) -> str:
        return f"^(?:{self.value})$"

    def matches(self, labels: dict[str, Any]) -> bool:
        actual = str(labels.get(self.label, ""))
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NEQ:
            return actual != self.value
        found = re.match(self.anchored_pattern, actual) is not None
        return found if self.op is MatchOp.RE else not found

    def to_sql(self, labels_column: Any) -> ColumnElement[bool]:
        actual = func.coalesce(labels_column[self.label].as_string(), "")
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
        if matcher.op in (MatchOp.RE, MatchOp.NRE):
            _check_pattern(matcher.value, field=f"{field}[{index}].value")
    return matchers


def _check_pattern(pattern: str, *, field: str) -> None:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidInput(f"a pattern may be at most {MAX_PATTERN_LENGTH} characters", field=field)
    try:
        re.compile(pattern)
    except re.error as error:
        raise InvalidInput(f"invalid regular expression: {error}", field=field) from error


def matches_all(matchers: list[Matcher], labels: dict[str, Any]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)
