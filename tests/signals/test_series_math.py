"""Series requests and bucket arithmetic, and the reference the GraphQL tests compare with."""

import random
import statistics
from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.core.errors import InvalidInput
from server.core.matchers import Matcher, MatchOp
from server.signals.series import MAX_POINTS, Aggregate, SeriesRequest, validate_series_request
from tests.signals.reference import Point, aggregate, expected_series, percentile_cont

T0 = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def request(
    *,
    start: datetime = T0,
    end: datetime = T0 + timedelta(hours=1),
    step: int = 60,
    matchers: list[Matcher] | None = None,
) -> SeriesRequest:
    return SeriesRequest(
        service="api",
        name="latency_ms",
        from_=start,
        to=end,
        step=step,
        aggregate=Aggregate.AVG,
        matchers=matchers or [],
    )


def field_of(bad: SeriesRequest) -> str | None:
    with pytest.raises(InvalidInput) as raised:
        validate_series_request(bad)
    return raised.value.field


@pytest.mark.parametrize("step", [0, -1, -3600])
def test_step_must_be_positive(step: int) -> None:
    assert field_of(request(step=step)) == "step"


def test_to_must_be_after_from() -> None:
    assert field_of(request(end=T0)) == "to"
    assert field_of(request(end=T0 - timedelta(microseconds=1))) == "to"
    validate_series_request(request(end=T0 + timedelta(seconds=1), step=3600))


def test_the_number_of_buckets_is_bounded() -> None:
    validate_series_request(request(end=T0 + timedelta(seconds=MAX_POINTS), step=1))
    validate_series_request(request(end=T0 + timedelta(minutes=MAX_POINTS), step=60))
    too_far = T0 + timedelta(seconds=MAX_POINTS + 1)
    assert field_of(request(end=too_far, step=1)) == "step"
    assert field_of(request(end=T0 + timedelta(days=365), step=60)) == "step"


def test_from_and_to_need_an_offset() -> None:
    assert field_of(request(start=datetime(2026, 3, 2, 11, 0))) == "from"
    assert field_of(request(end=datetime(2026, 3, 2, 12, 0))) == "to"


def test_matchers_are_validated_under_labels() -> None:
    bad = [Matcher("pod", MatchOp.EQ, "a"), Matcher("pod", MatchOp.RE, "(")]
    assert field_of(request(matchers=bad)) == "labels[1].value"


def test_the_origin_is_from_rounded_down_to_a_second() -> None:
    assert request(start=T0).origin == int(T0.timestamp())
    fractional = T0 + timedelta(seconds=7, microseconds=999_999)
    assert request(start=fractional).origin == int(T0.timestamp()) + 7
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    assert request(start=plus_two).origin == int(T0.timestamp())
    before_epoch = datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)
    assert request(start=before_epoch, end=T0, step=86_400).origin == -1


def test_bucket_starts_step_from_the_origin_in_utc() -> None:
    start = (T0 + timedelta(seconds=7.25)).astimezone(timezone(timedelta(hours=-5)))
    series = request(start=start, step=45)
    assert series.bucket_start(0) == T0 + timedelta(seconds=7)
    assert series.bucket_start(3) == T0 + timedelta(seconds=7 + 135)
    assert series.bucket_start(3).tzinfo == UTC


# --- the reference ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([5.0], 0.99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.5),
        ([-2.0, 10.0, 10.0, 7.75], 0.5, 8.875),
        ([0.5, 1.25, 99.0, -50.0, 3.0, 3.0, 12.0], 0.95, 72.9),
        ([0.5, 1.25, 99.0, -50.0, 3.0, 3.0, 12.0], 0.99, 93.78),
        ([10.0, 20.0], 0.95, 19.5),
        ([1.0, 2.0, 3.0], 0.0, 1.0),
        ([1.0, 2.0, 3.0], 1.0, 3.0),
    ],
)
def test_percentile_cont_interpolates_between_closest_ranks(
    values: list[float], fraction: float, expected: float
) -> None:
    assert percentile_cont(values, fraction) == pytest.approx(expected)


def test_percentile_cont_agrees_with_the_inclusive_method_of_statistics() -> None:
    rng = random.Random(20260302)
    for size in (2, 3, 7, 10, 101):
        values = [rng.uniform(-1000, 1000) for _ in range(size)]
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        for percent in (50, 95, 99):
            assert percentile_cont(values, percent / 100) == pytest.approx(cuts[percent - 1])


def test_aggregate_of_each_kind() -> None:
    values = [3.0, -1.0, 4.0, 1.5]
    assert aggregate(values, "AVG") == pytest.approx(1.875)
    assert aggregate(values, "SUM") == pytest.approx(7.5)
    assert aggregate(values, "MIN") == -1.0
    assert aggregate(values, "MAX") == 4.0
    assert aggregate(values, "COUNT") == 4.0
    assert aggregate(values, "P50") == pytest.approx(2.25)


def test_expected_series_buckets_by_half_open_intervals() -> None:
    start = T0 + timedelta(seconds=7)
    samples = [
        (T0 + timedelta(seconds=6.5), 100.0),  # before from
        (start, 1.0),  # on from: bucket 0
        (T0 + timedelta(seconds=66, microseconds=999_999), 2.0),  # end of bucket 0
        (T0 + timedelta(seconds=67), 3.0),  # on a boundary: bucket 1
        (T0 + timedelta(seconds=187), 4.0),  # bucket 3; bucket 2 is empty
        (T0 + timedelta(seconds=200), 5.0),  # on to: excluded
    ]
    points = expected_series(
        samples, start=start, end=T0 + timedelta(seconds=200), step=60, name="SUM"
    )
    assert points == [
        Point(ts=start, value=3.0, count=2),
        Point(ts=start + timedelta(seconds=60), value=3.0, count=1),
        Point(ts=start + timedelta(seconds=180), value=4.0, count=1),
    ]
