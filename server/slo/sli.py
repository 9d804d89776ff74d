"""What an SLI counts: a RATIO of two signals' sums, or the share of a signal's
samples that meet a THRESHOLD. Stored with its policy as a JSON document."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from server.core.matchers import Matcher


class SliKind(StrEnum):
    RATIO = "RATIO"
    THRESHOLD = "THRESHOLD"


class Comparator(StrEnum):
    """How a THRESHOLD SLI's good sample compares to the bound: ``value <op> threshold``."""

    LT = "LT"
    LTE = "LTE"
    GT = "GT"
    GTE = "GTE"


@dataclass(frozen=True)
class Selector:
    """The samples of one signal of the policy's service: a name and label matchers."""

    signal: str
    matchers: tuple[Matcher, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "matchers": [m.to_dict() for m in self.matchers]}

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> "Selector":
        return cls(stored["signal"], tuple(Matcher.from_dict(m) for m in stored["matchers"]))

    def selects_same_samples_as(self, other: "Selector") -> bool:
        return self.signal == other.signal and set(self.matchers) == set(other.matchers)


@dataclass(frozen=True)
class RatioSli:
    """good = sum of the good signal's values, total = sum of the total signal's."""

    good: Selector
    total: Selector

    @property
    def kind(self) -> SliKind:
        return SliKind.RATIO

    @property
    def signal_names(self) -> tuple[str, ...]:
        return tuple(sorted({self.good.signal, self.total.signal}))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "good": self.good.to_dict(), "total": self.total.to_dict()}


@dataclass(frozen=True)
class ThresholdSli:
    """total = the signal's samples, good = those with ``value <comparator> threshold``."""

    selector: Selector
    threshold: float
    comparator: Comparator

    @property
    def kind(self) -> SliKind:
        return SliKind.THRESHOLD

    @property
    def signal_names(self) -> tuple[str, ...]:
        return (self.selector.signal,)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            **self.selector.to_dict(),
            "threshold": self.threshold,
            "comparator": self.comparator.value,
        }


Sli = RatioSli | ThresholdSli


def sli_from_dict(stored: dict[str, Any]) -> Sli:
    if stored["kind"] == SliKind.RATIO.value:
        return RatioSli(Selector.from_dict(stored["good"]), Selector.from_dict(stored["total"]))
    return ThresholdSli(
        Selector.from_dict(stored), float(stored["threshold"]), Comparator(stored["comparator"])
    )
