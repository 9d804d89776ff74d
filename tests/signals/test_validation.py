"""Sample validation and label matchers, as pure functions."""

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from server.core.errors import InvalidInput
from server.core.labels import MAX_LABELS, InvalidLabels, validate_labels
from server.core.matchers import Matcher, MatchOp, matches_all, validate_matchers
from server.signals.validation import (
    Sample,
    SampleInput,
    SampleRejected,
    validate_sample,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def item(**changes: Any) -> SampleInput:
    values: dict[str, Any] = {
        "service": "checkout",
        "name": "http_requests_total",
        "value": 1.0,
        "ts": NOW - timedelta(minutes=1),
        "labels": {"pod": "a"},
    }
    values.update(changes)
    return SampleInput(**values)


def test_a_valid_sample_is_returned_clean() -> None:
    sample = validate_sample(item(labels={"pod": "a", "shard": 3}), now=NOW)
    assert sample == Sample(
        service="checkout",
        name="http_requests_total",
        value=1.0,
        ts=NOW - timedelta(minutes=1),
        labels={"pod": "a", "shard": "3"},
    )


def test_a_missing_ts_is_now_and_missing_labels_are_empty() -> None:
    sample = validate_sample(item(ts=None, labels=None), now=NOW)
    assert sample.ts == NOW
    assert sample.labels == {}


def test_an_offset_ts_keeps_its_instant() -> None:
    local = datetime(2026, 3, 2, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    assert validate_sample(item(ts=local), now=NOW).ts == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "service",
    ["", " api", "api ", "-api", "_api", "api\n", "a" * 101, "api\tx", "ápi", "api,x"],
)
def test_bad_service_names_are_rejected(service: str) -> None:
    with pytest.raises(SampleRejected, match="service"):
        validate_sample(item(service=service), now=NOW)


@pytest.mark.parametrize("service", ["a", "A" * 100, "9lives", "team.payments/api:v2-eu_1"])
def test_good_service_names_pass(service: str) -> None:
    assert validate_sample(item(service=service), now=NOW).service == service


@pytest.mark.parametrize(
    "name", ["", "1xx", "http-requests", "http requests", "total\n", "n" * 201, "é"]
)
def test_bad_metric_names_are_rejected(name: str) -> None:
    with pytest.raises(SampleRejected, match="name"):
        validate_sample(item(name=name), now=NOW)


@pytest.mark.parametrize("name", ["_", ":", "n" * 200, "job:http_requests:rate5m", "a.b_c"])
def test_good_metric_names_pass(name: str) -> None:
    assert validate_sample(item(name=name), now=NOW).name == name


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected(value: float) -> None:
    with pytest.raises(SampleRejected, match="finite"):
        validate_sample(item(value=value), now=NOW)


def test_a_naive_ts_is_rejected() -> None:
    with pytest.raises(SampleRejected, match="timezone"):
        validate_sample(item(ts=datetime(2026, 3, 2, 11, 0)), now=NOW)


@pytest.mark.parametrize("ts", ["yesterday", "2026-13-01T00:00:00Z", 12345, ["2026"]])
def test_a_ts_that_is_no_date_time_is_rejected(ts: object) -> None:
    with pytest.raises(SampleRejected, match="RFC 3339 date-time with a timezone offset"):
        validate_sample(item(ts=ts), now=NOW)


def test_up_to_five_minutes_in_the_future_is_allowed() -> None:
    edge = NOW + timedelta(minutes=5)
    assert validate_sample(item(ts=edge), now=NOW).ts == edge
    with pytest.raises(SampleRejected, match="future"):
        validate_sample(item(ts=edge + timedelta(microseconds=1)), now=NOW)
    past = NOW - timedelta(days=400)
    assert validate_sample(item(ts=past), now=NOW).ts == past


@pytest.mark.parametrize("labels", [[], ["pod"], "pod=a", 5, True])
def test_labels_must_be_an_object(labels: Any) -> None:
    with pytest.raises(InvalidLabels, match="labels must be an object"):
        validate_labels(labels)


def test_at_most_the_maximum_number_of_labels() -> None:
    enough = {f"l{i}": "x" for i in range(MAX_LABELS)}
    assert validate_labels(enough) == enough
    with pytest.raises(InvalidLabels, match=f"at most {MAX_LABELS} labels"):
        validate_labels({**enough, "one_more": "x"})


@pytest.mark.parametrize("label", ["", "1pod", "pod-name", "pod name", "pod\n", "pöd", "l" * 65])
def test_bad_label_names_are_rejected(label: str) -> None:
    with pytest.raises(InvalidLabels, match="label name"):
        validate_labels({label: "x"})


@pytest.mark.parametrize("label", ["_", "__name__", "Pod_9", "l" * 64])
def test_good_label_names_pass(label: str) -> None:
    assert validate_labels({label: "x"}) == {label: "x"}


@pytest.mark.parametrize("value", [{"a": "b"}, ["a"], None, True, False])
def test_label_values_must_be_scalars(value: Any) -> None:
    with pytest.raises(InvalidLabels, match="'pod' must have a string value"):
        validate_labels({"pod": value})


def test_numeric_label_values_become_strings() -> None:
    assert validate_labels({"shard": 7, "ratio": 0.25, "empty": ""}) == {
        "shard": "7",
        "ratio": "0.25",
        "empty": "",
    }


def test_label_values_have_a_length_limit() -> None:
    assert validate_labels({"pod": "x" * 256}) == {"pod": "x" * 256}
    with pytest.raises(InvalidLabels, match="longer than 256"):
        validate_labels({"pod": "x" * 257})


# --- matchers ---------------------------------------------------------------------------

LABELS = {"pod": "a-1", "env": "prod", "msg": "line\nnext"}


@pytest.mark.parametrize(
    ("op", "label", "value", "expected"),
    [
        (MatchOp.EQ, "env", "prod", True),
        (MatchOp.EQ, "env", "pro", False),
        (MatchOp.EQ, "zone", "", True),
        (MatchOp.NEQ, "env", "prod", False),
        (MatchOp.NEQ, "zone", "eu", True),
        (MatchOp.NEQ, "zone", "", False),
        (MatchOp.RE, "pod", "a-.*", True),
        (MatchOp.RE, "pod", "a", False),
        (MatchOp.RE, "pod", "-1", False),
        (MatchOp.RE, "env", "pro|staging", False),
        (MatchOp.RE, "env", "dev|prod", True),
        (MatchOp.RE, "zone", "", True),
        (MatchOp.RE, "zone", ".+", False),
        (MatchOp.RE, "msg", "line.next", True),
        (MatchOp.RE, "msg", "line", False),
        (MatchOp.NRE, "pod", "b-.*", True),
        (MatchOp.NRE, "pod", "a-.*", False),
        (MatchOp.NRE, "zone", ".*", False),
    ],
)
def test_matcher_semantics(op: MatchOp, label: str, value: str, expected: bool) -> None:
    assert Matcher(label, op, value).matches(LABELS) is expected


def test_a_trailing_newline_does_not_satisfy_the_end_anchor() -> None:
    assert Matcher("env", MatchOp.RE, "prod").matches({"env": "prod\n"}) is False
    assert Matcher("env", MatchOp.RE, "prod\n").matches({"env": "prod\n"}) is True


def test_matches_all_needs_every_matcher() -> None:
    both = [Matcher("env", MatchOp.EQ, "prod"), Matcher("pod", MatchOp.RE, "a-.*")]
    assert matches_all(both, LABELS) is True
    assert matches_all([*both, Matcher("pod", MatchOp.NEQ, "a-1")], LABELS) is False
    assert matches_all([], LABELS) is True


@pytest.mark.parametrize(
    ("matchers", "field"),
    [
        ([Matcher("pod", MatchOp.RE, "(")], "labels[0].value"),
        ([Matcher("env", MatchOp.EQ, "x"), Matcher("pod", MatchOp.NRE, "[a-")], "labels[1].value"),
        ([Matcher("pod", MatchOp.RE, "a)|(b")], "labels[0].value"),
        ([Matcher("pod", MatchOp.RE, "a(?i)b")], "labels[0].value"),
        ([Matcher("pod", MatchOp.RE, "x" * 501)], "labels[0].value"),
        ([Matcher("", MatchOp.EQ, "x")], "labels[0].label"),
        ([Matcher("pod-name", MatchOp.EQ, "x")], "labels[0].label"),
        ([Matcher("9pod", MatchOp.EQ, "x")], "labels[0].label"),
        ([Matcher("pod", MatchOp.EQ, "x")] * 21, "labels"),
    ],
)
def test_invalid_matchers_name_their_field(matchers: list[Matcher], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_matchers(matchers, field="labels")
    assert raised.value.field == field


def test_valid_matchers_pass_unchanged() -> None:
    matchers = [
        Matcher("pod", MatchOp.RE, "a-.*"),
        Matcher("env", MatchOp.NEQ, "("),  # not a regex matcher: any value goes
        Matcher("zone", MatchOp.NRE, ""),
    ] * 6 + [Matcher("x" * 64, MatchOp.EQ, "")] * 2
    assert len(matchers) == 20
    assert validate_matchers(matchers, field="labels") == matchers
