"""Rotations turned into shifts and overrides applied, without a database."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.oncall.rotation import (
    Participant,
    RotationPlan,
    Shift,
    ShiftSource,
    apply_overrides,
    rotation_shifts,
    schedule_shifts,
)

ANN, BOB, CAT = (Participant(name, f"{name}@example.com") for name in ("ann", "bob", "cat"))
HOUR = timedelta(hours=1)


def plan(
    zone: str = "UTC",
    *,
    starts_at: datetime,
    hours: int = 24,
    handoff: time = time(9),
    people: tuple[Participant, ...] = (ANN, BOB),
    ends_at: datetime | None = None,
) -> RotationPlan:
    return RotationPlan(
        key=7,
        schedule="primary",
        participants=people,
        shift_length=hours * HOUR,
        handoff=handoff,
        zone=ZoneInfo(zone),
        starts_at=starts_at,
        ends_at=ends_at,
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def table(shifts: list[Shift]) -> list[tuple[str, datetime, datetime]]:
    return [(s.person, s.starts_at, s.ends_at) for s in shifts]


def override(person: str, starts_at: datetime, ends_at: datetime, key: int = 1) -> Shift:
    return Shift(
        f"override:{key}",
        "primary",
        person,
        f"{person}@x",
        starts_at,
        ends_at,
        ShiftSource.OVERRIDE,
    )


def test_a_daily_rotation_in_berlin_hands_off_at_nine_across_spring_forward() -> None:
    # 2026-03-29 02:00 CET becomes 03:00 CEST: 09:00 is 08:00 UTC before, 07:00 after.
    rotation = plan("Europe/Berlin", starts_at=utc(2026, 3, 27, 8))
    found = rotation_shifts(rotation, utc(2026, 3, 27), utc(2026, 3, 31))
    assert table(found) == [
        ("ann", utc(2026, 3, 27, 8), utc(2026, 3, 28, 8)),
        ("bob", utc(2026, 3, 28, 8), utc(2026, 3, 29, 7)),  # 23 hours
        ("ann", utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)),
        ("bob", utc(2026, 3, 30, 7), utc(2026, 3, 31, 7)),
    ]
    assert found[1].ends_at - found[1].starts_at == 23 * HOUR
    assert [s.key for s in found] == [f"rotation:7:{turn}" for turn in range(4)]
    assert {s.source for s in found} == {ShiftSource.ROTATION}


def test_a_daily_rotation_in_berlin_hands_off_at_nine_across_fall_back() -> None:
    # 2026-10-25 03:00 CEST becomes 02:00 CET: 09:00 is 07:00 UTC before, 08:00 after.
    rotation = plan("Europe/Berlin", starts_at=utc(2026, 10, 23, 7))
    found = rotation_shifts(rotation, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))
    assert table(found) == [
        ("bob", utc(2026, 10, 24, 7), utc(2026, 10, 25, 8)),  # 25 hours
        ("ann", utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)),
    ]


def test_new_york_changes_on_its_own_dates() -> None:
    # 2026-03-08 02:00 EST becomes 03:00 EDT; 2026-11-01 02:00 EDT becomes 01:00 EST.
    spring = plan("America/New_York", starts_at=utc(2026, 3, 6, 14), handoff=time(9))
    assert [
        s.ends_at - s.starts_at for s in rotation_shifts(spring, utc(2026, 3, 6), utc(2026, 3, 10))
    ] == [
        24 * HOUR,
        23 * HOUR,
        24 * HOUR,
        24 * HOUR,
    ]
    fall = plan("America/New_York", starts_at=utc(2026, 10, 30, 13), handoff=time(9))
    found = rotation_shifts(fall, utc(2026, 10, 30, 13), utc(2026, 11, 2, 15))
    assert [(s.starts_at.astimezone(ZoneInfo("America/New_York")).hour) for s in found] == [9] * 4
    assert [s.ends_at - s.starts_at for s in found][:3] == [24 * HOUR, 25 * HOUR, 24 * HOUR]


def test_a_rotation_starting_between_handoffs_gives_the_first_person_a_partial_turn() -> None:
    rotation = plan(starts_at=utc(2026, 3, 2, 15), people=(ANN, BOB, CAT))
    assert table(rotation_shifts(rotation, utc(2026, 3, 1), utc(2026, 3, 5))) == [
        ("ann", utc(2026, 3, 2, 15), utc(2026, 3, 3, 9)),
        ("bob", utc(2026, 3, 3, 9), utc(2026, 3, 4, 9)),
        ("cat", utc(2026, 3, 4, 9), utc(2026, 3, 5, 9)),
    ]


def test_twelve_hour_turns_hand_off_at_the_handoff_time_and_twelve_hours_later() -> None:
    rotation = plan("Europe/Berlin", starts_at=utc(2026, 3, 28, 7), hours=12)
    found = rotation_shifts(rotation, utc(2026, 3, 28, 7), utc(2026, 3, 29, 20))
    local = [s.starts_at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%d %H:%M") for s in found]
    assert local == ["28 08:00", "28 09:00", "28 21:00", "29 09:00", "29 21:00"]
    assert [s.person for s in found] == ["ann", "bob", "ann", "bob", "ann"]
    assert found[2].ends_at - found[2].starts_at == 11 * HOUR  # the night the clocks go forward


def test_a_range_long_after_the_start_finds_the_same_turns_as_counting_from_it() -> None:
    rotation = plan("Europe/Berlin", starts_at=utc(2025, 1, 6, 8), people=(ANN, BOB, CAT), hours=8)
    far = rotation_shifts(rotation, utc(2026, 10, 24), utc(2026, 10, 27))
    counted = [
        s
        for s in rotation_shifts(rotation, utc(2025, 1, 1), utc(2026, 10, 27))
        if s.ends_at > utc(2026, 10, 24)
    ]
    assert far == counted
    assert len(far) > 8


def test_a_rotation_with_an_end_stops_there_and_nothing_exists_before_its_start() -> None:
    rotation = plan(starts_at=utc(2026, 3, 2, 9), ends_at=utc(2026, 3, 3, 21))
    assert table(rotation_shifts(rotation, utc(2026, 3, 1), utc(2026, 3, 9))) == [
        ("ann", utc(2026, 3, 2, 9), utc(2026, 3, 3, 9)),
        ("bob", utc(2026, 3, 3, 9), utc(2026, 3, 3, 21)),
    ]
    assert rotation_shifts(rotation, utc(2026, 2, 1), utc(2026, 3, 2, 9)) == []


def test_an_override_cuts_the_turn_it_covers_and_keys_its_parts() -> None:
    rotation = plan(starts_at=utc(2026, 3, 2, 9))
    generated = rotation_shifts(rotation, utc(2026, 3, 2, 9), utc(2026, 3, 4, 9))
    cut = apply_overrides(generated, [override("dan", utc(2026, 3, 2, 12), utc(2026, 3, 2, 18))])
    assert [(s.key, s.person, s.starts_at, s.ends_at) for s in cut] == [
        ("rotation:7:0:0", "ann", utc(2026, 3, 2, 9), utc(2026, 3, 2, 12)),
        ("rotation:7:0:1", "ann", utc(2026, 3, 2, 18), utc(2026, 3, 3, 9)),
        ("rotation:7:1", "bob", utc(2026, 3, 3, 9), utc(2026, 3, 4, 9)),
    ]


def test_overrides_replace_rotations_but_explicit_shifts_stay_on_call() -> None:
    rotation = plan(starts_at=utc(2026, 3, 2, 9))
    explicit = Shift(
        "5", "primary", "eve", "eve@x", utc(2026, 3, 2, 10), utc(2026, 3, 2, 11), ShiftSource.SHIFT
    )
    found = schedule_shifts(
        explicit=[explicit],
        rotations=[rotation],
        overrides=[override("dan", utc(2026, 3, 2, 9), utc(2026, 3, 3, 9))],
        start=utc(2026, 3, 2, 9),
        end=utc(2026, 3, 3, 12),
    )
    assert [(s.person, s.source) for s in found] == [
        ("dan", ShiftSource.OVERRIDE),
        ("eve", ShiftSource.SHIFT),
        ("bob", ShiftSource.ROTATION),
    ]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_turns_follow_each_other_without_gap_or_overlap_through_a_year(zone: str) -> None:
    rotation = plan(zone, starts_at=utc(2026, 1, 1), hours=6, handoff=time(2, 30))
    found = rotation_shifts(rotation, utc(2026, 1, 1), utc(2027, 1, 1))
    assert found[0].starts_at == utc(2026, 1, 1)
    assert all(a.ends_at == b.starts_at for a, b in zip(found, found[1:], strict=False))
    assert all(s.ends_at > s.starts_at for s in found)
