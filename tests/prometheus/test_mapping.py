"""The wire format and the mappings, without a database: snappy and protobuf,
staleness markers, Alertmanager's fingerprints, severities and summaries."""

import math
import struct
from datetime import UTC, datetime, timedelta

import cramjam
import pytest

from server.alerts.prometheus import AlertMapping, labelset_fingerprint, to_draft
from server.alerts.prometheus_payloads import (
    PrometheusAlert,
    parse_postable_alerts,
    parse_webhook,
)
from server.core.errors import InvalidInput
from server.signals.remote_write import DropReason, drop_reason, is_stale_marker, series_name
from server.transport.prometheus.wire import (
    BodyTooLargeDecoded,
    UndecodableBody,
    decode_write_request,
    encode_write_request,
)

STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_a_write_request_survives_snappy_and_protobuf() -> None:
    body = encode_write_request(
        [({"__name__": "up", "job": "api"}, [(1.0, 1_700_000_000_000), (STALE, 1_700_000_001_000)])]
    )
    (series,) = decode_write_request(body, max_decoded_bytes=1 << 20).timeseries
    assert [(label.name, label.value) for label in series.labels] == [
        ("__name__", "up"),
        ("job", "api"),
    ]
    assert series.samples[0].value == 1.0
    assert series.samples[0].timestamp == 1_700_000_000_000
    assert is_stale_marker(series.samples[1].value), "the NaN payload must survive decoding"


def test_bodies_that_are_not_snappy_protobuf_are_undecodable() -> None:
    with pytest.raises(UndecodableBody):
        decode_write_request(b"\xff\xff\xff\xff garbage", max_decoded_bytes=1 << 20)
    framed = bytes(cramjam.snappy.compress(b"\x0a\x02\x0a\x00"))  # the framed format
    with pytest.raises(UndecodableBody):
        decode_write_request(framed, max_decoded_bytes=1 << 20)
    not_protobuf = bytes(cramjam.snappy.compress_raw(b"\x0a\xff\xff\xff\xff\x0f"))
    with pytest.raises(UndecodableBody):
        decode_write_request(not_protobuf, max_decoded_bytes=1 << 20)


def test_a_body_that_would_decompress_too_large_is_refused_before_decompressing() -> None:
    body = bytes(cramjam.snappy.compress_raw(b"\x00" * 100_000))
    assert len(body) < 10_000
    with pytest.raises(BodyTooLargeDecoded, match="100000 bytes"):
        decode_write_request(body, max_decoded_bytes=50_000)


def test_staleness_markers_nan_and_infinities_are_dropped_with_their_reason() -> None:
    assert drop_reason(STALE) is DropReason.STALE
    assert drop_reason(math.nan) is DropReason.NAN
    assert drop_reason(math.inf) is DropReason.INFINITE
    assert drop_reason(-math.inf) is DropReason.INFINITE
    assert drop_reason(0.0) is None
    assert not is_stale_marker(math.nan)


def test_a_series_is_named_as_prometheus_writes_it() -> None:
    body = encode_write_request([({"__name__": "up", "job": "api", "zone": "a"}, [])])
    (series,) = decode_write_request(body, max_decoded_bytes=1 << 20).timeseries
    assert series_name(series.labels) == 'up{job="api",zone="a"}'


def test_fingerprints_are_alertmanagers() -> None:
    # The values of prometheus/common's model signature tests.
    assert int(labelset_fingerprint({}), 16) == 14695981039346656037
    labels = {"name": "garland, briggs", "fear": "love is not enough"}
    assert int(labelset_fingerprint(labels), 16) == 5799056148416392346
    assert labelset_fingerprint({"a": "b"}) != labelset_fingerprint({"a": "c"})


def alert(**labels: str) -> PrometheusAlert:
    return PrometheusAlert(labels={"alertname": "HighErrorRate", **labels})


def test_service_severity_and_summary_come_from_labels_and_annotations() -> None:
    mapping = AlertMapping()
    draft = to_draft(alert(job="api", severity="page"), mapping)
    assert (draft.service, draft.severity.value, draft.source.value) == ("api", "PAGE", "RULE")
    assert draft.summary == "HighErrorRate"
    assert draft.fingerprint == labelset_fingerprint(
        {"alertname": "HighErrorRate", "job": "api", "severity": "page"}
    )
    assert to_draft(alert(job="api", service="checkout"), mapping).service == "checkout"
    assert to_draft(alert(), mapping).service == "prometheus"
    assert to_draft(alert(severity="Critical"), mapping).severity.value == "CRITICAL"
    assert to_draft(alert(severity="whatever"), mapping).severity.value == "WARNING"
    annotated = PrometheusAlert(
        labels={"alertname": "X"}, annotations={"description": "disk almost full"}
    )
    assert to_draft(annotated, mapping).summary == "disk almost full"
    custom = AlertMapping(service_labels=("team",), severity_label="level", default_service="ops")
    draft = to_draft(alert(team="payments", level="info", job="api"), custom)
    assert (draft.service, draft.severity.value) == ("payments", "INFO")


def test_annotations_the_generator_url_and_the_end_go_into_the_draft() -> None:
    ends = NOW + timedelta(minutes=4)
    sent = PrometheusAlert(
        labels={"alertname": "X"},
        annotations={"summary": "s", "runbook_url": "https://runbooks/x"},
        generator_url="http://prometheus:9090/graph?g0.expr=up",
        ends_at=ends,
    )
    draft = to_draft(sent, AlertMapping())
    assert draft.annotations == {"summary": "s", "runbook_url": "https://runbooks/x"}
    assert (draft.generator_url, draft.ends_at) == ("http://prometheus:9090/graph?g0.expr=up", ends)
    for odd in ("javascript:alert(1)", "ftp://x/y", "http://", "http://a b"):
        linked = PrometheusAlert(labels={"alertname": "X"}, generator_url=odd)
        assert to_draft(linked, AlertMapping()).generator_url is None, odd
    crowded = PrometheusAlert(labels={"a": "b"}, annotations={str(i): "v" for i in range(65)})
    with pytest.raises(InvalidInput):
        to_draft(crowded, AlertMapping())


def test_labels_opsgraph_cannot_store_refuse_the_alert() -> None:
    with pytest.raises(InvalidInput):
        to_draft(alert(note="x" * 300), AlertMapping())


def test_ends_at_in_the_past_or_a_resolved_status_ends_an_alert() -> None:
    past = PrometheusAlert(labels={"a": "b"}, ends_at=NOW - timedelta(seconds=1))
    future = PrometheusAlert(labels={"a": "b"}, ends_at=NOW + timedelta(minutes=4))
    assert past.resolved_at(NOW)
    assert not future.resolved_at(NOW)
    assert not PrometheusAlert(labels={"a": "b"}).resolved_at(NOW)


def test_postable_alerts_are_read_one_by_one() -> None:
    parsed = parse_postable_alerts(
        [
            {
                "labels": {"alertname": "A"},
                "annotations": {"summary": "s"},
                "startsAt": "2026-03-02T11:59:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus/graph",
            },
            {"labels": "not an object"},
            {"labels": {}},
            {"labels": {"alertname": "B"}, "endsAt": "yesterday"},
        ],
        max_alerts=10,
    )
    ((index, first),) = parsed.alerts
    assert index == 0
    assert first.ends_at is None
    assert first.starts_at == datetime(2026, 3, 2, 11, 59, 0, 123456, tzinfo=UTC)
    assert first.generator_url == "http://prometheus/graph"
    assert [r.index for r in parsed.rejected] == [1, 2, 3]
    with pytest.raises(InvalidInput):
        parse_postable_alerts({"labels": {}}, max_alerts=10)
    with pytest.raises(InvalidInput, match="at most 1"):
        parse_postable_alerts([{"labels": {"a": "b"}}] * 2, max_alerts=1)


def test_webhooks_of_version_4_only() -> None:
    notification = {
        "version": "4",
        "status": "resolved",
        "alerts": [
            {"status": "resolved", "labels": {"alertname": "A"}, "fingerprint": "0123456789abcdef"}
        ],
    }
    ((_, parsed),) = parse_webhook(notification, max_alerts=10).alerts
    assert parsed.resolved is True
    assert parsed.fingerprint == "0123456789abcdef"
    with pytest.raises(InvalidInput, match="version"):
        parse_webhook({**notification, "version": "3"}, max_alerts=10)
