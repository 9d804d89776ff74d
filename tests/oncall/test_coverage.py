"""Gaps and hours of a schedule, without a database."""

from datetime import UTC, datetime

from server.oncall.coverage import PersonHours, coverage, gaps, hours_by_person
from server.oncall.rotation import Shift, ShiftSource


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def shift(person: str, start: datetime, end: datetime) -> Shift:
    return Shift("1", "primary", person, f"{person}@x", start, end, ShiftSource.SHIFT)


def test_nobody_on_call_is_one_gap_over_the_whole_period() -> None:
    assert gaps([], at(2), at(3)) == [(at(2), at(3))]
    assert coverage([], at(2), at(3)).people == []


def test_gaps_lie_between_shifts_and_at_the_edges_only_inside_the_period() -> None:
    found = [
        shift("ann", at(1), at(2, 6)),  # starts before the period
        shift("bob", at(2, 8), at(2, 12)),
        shift("cat", at(2, 10), at(2, 14)),  # overlaps bob
        shift("ann", at(2, 14), at(2, 16)),  # touches cat: no gap
    ]
    assert gaps(found, at(2), at(3)) == [(at(2, 6), at(2, 8)), (at(2, 16), at(3))]


def test_hours_count_inside_the_period_and_overlaps_of_one_person_once() -> None:
    found = [
        shift("ann", at(1), at(2, 6)),  # 6 hours inside
        shift("ann", at(2, 4), at(2, 8)),  # 2 more (04-06 already counted)
        shift("bob", at(2, 12), at(4)),  # 12 hours inside
        shift(
            "cat",
            at(2, 18),
            at(
                2,
                19,
            ),
        ),
        shift("dan", at(3), at(4)),  # outside
    ]
    assert hours_by_person(found, at(2), at(3)) == [
        PersonHours("bob", 12.0),
        PersonHours("ann", 8.0),
        PersonHours("cat", 1.0),
    ]


def test_a_fully_covered_period_has_no_gap() -> None:
    found = [shift("ann", at(1), at(2, 12)), shift("bob", at(2, 12), at(5))]
    result = coverage(found, at(2), at(3))
    assert result.gaps == []
    assert result.people == [PersonHours("ann", 12.0), PersonHours("bob", 12.0)]
