import strawberry

from server.core.matchers import Matcher
from server.core.matchers import MatchOp as MatchOpEnum

MatchOp = strawberry.enum(MatchOpEnum, name="MatchOp")


@strawberry.input
class MatcherInput:
    label: str
    op: MatchOp  # type: ignore[valid-type]
    value: str

    def to_matcher(self) -> Matcher:
        return Matcher(label=self.label, op=self.op, value=self.value)


def to_matchers(inputs: list[MatcherInput] | None) -> list[Matcher]:
    return [item.to_matcher() for item in inputs or []]


@strawberry.type(name="Matcher")
class MatcherType:
    label: str
    op: MatchOp  # type: ignore[valid-type]
    value: str

    @classmethod
    def from_matcher(cls, matcher: Matcher) -> "MatcherType":
        return cls(label=matcher.label, op=matcher.op, value=matcher.value)
