"""Prometheus remote-write 1.0 on the wire: a ``WriteRequest`` protobuf message,
compressed in snappy's *block* format (not the framed one).

The messages are those of ``prompb/remote.proto`` and ``prompb/types.proto`` of
the Prometheus project (Apache-2.0), declared here through the protobuf
runtime's descriptors rather than generated code: no ``protoc`` at build time,
and no generated module tied to one protobuf release. Only the fields a
receiver of samples reads are declared (time series, their labels and
samples, and native histograms so that a series holding them can be told
apart); protobuf skips the others (metadata, exemplars) as unknown fields.
"""

from collections.abc import Sequence
from typing import Protocol, cast

import cramjam
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

#: The header a remote-write 1.0 sender sets; the body's content type.
REMOTE_WRITE_VERSION = "0.1.0"
PROTOBUF_MEDIA_TYPE = "application/x-protobuf"


class WireLabel(Protocol):
    name: str
    value: str


class WireSample(Protocol):
    value: float
    timestamp: int


class WireTimeSeries(Protocol):
    labels: Sequence[WireLabel]
    samples: Sequence[WireSample]
    histograms: Sequence[object]


class WireWriteRequest(Protocol):
    timeseries: Sequence[WireTimeSeries]


class UndecodableBody(ValueError):
    """The body is not a snappy-compressed ``WriteRequest``."""


class BodyTooLargeDecoded(ValueError):
    """The body would decompress past the allowed size."""


_TYPE = descriptor_pb2.FieldDescriptorProto
_FIELDS: dict[str, list[tuple[str, int, int, str | None]]] = {
    # message: [(field, number, type, message type of a repeated message field)]
    "WriteRequest": [("timeseries", 1, _TYPE.TYPE_MESSAGE, ".prometheus.TimeSeries")],
    "TimeSeries": [
        ("labels", 1, _TYPE.TYPE_MESSAGE, ".prometheus.Label"),
        ("samples", 2, _TYPE.TYPE_MESSAGE, ".prometheus.Sample"),
        ("histograms", 4, _TYPE.TYPE_MESSAGE, ".prometheus.Histogram"),
    ],
    "Label": [("name", 1, _TYPE.TYPE_STRING, None), ("value", 2, _TYPE.TYPE_STRING, None)],
    "Sample": [("value", 1, _TYPE.TYPE_DOUBLE, None), ("timestamp", 2, _TYPE.TYPE_INT64, None)],
    "Histogram": [],
}


def _write_request_class() -> type:
    """The ``prometheus.WriteRequest`` class, built in a pool of its own."""
    file = descriptor_pb2.FileDescriptorProto(
        name="opsgraph/prometheus_remote_write.proto", package="prometheus", syntax="proto3"
    )
    for message_name, fields in _FIELDS.items():
        message = file.message_type.add(name=message_name)
        for field_name, number, kind, type_name in fields:
            field = message.field.add(name=field_name, number=number, type=kind)
            if type_name is None:
                field.label = _TYPE.LABEL_OPTIONAL
            else:
                field.label = _TYPE.LABEL_REPEATED
                field.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


_WriteRequest = _write_request_class()


def decode_write_request(body: bytes, *, max_decoded_bytes: int) -> WireWriteRequest:
    """The ``WriteRequest`` of a request body; UndecodableBody or BodyTooLargeDecoded."""
    try:
        decoded_length = cramjam.snappy.decompress_raw_len(body)
    except cramjam.DecompressionError as error:
        raise UndecodableBody(f"the body is not snappy block-compressed: {error}") from error
    if decoded_length > max_decoded_bytes:
        raise BodyTooLargeDecoded(
            f"the body decompresses to {decoded_length} bytes, over the limit of "
            f"{max_decoded_bytes}: lower queue_config.max_samples_per_send"
        )
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as error:
        raise UndecodableBody(f"the body is not snappy block-compressed: {error}") from error
    request = _WriteRequest()
    try:
        request.ParseFromString(raw)
    except DecodeError as error:
        raise UndecodableBody(f"the body is not a remote-write WriteRequest: {error}") from error
    return cast(WireWriteRequest, request)


def encode_write_request(
    series: Sequence[tuple[dict[str, str], Sequence[tuple[float, int]]]],
) -> bytes:
    """A snappy-compressed ``WriteRequest`` of ``(labels, [(value, timestamp ms)])``
    pairs, as Prometheus sends it (for tests and benchmarks)."""
    request = _WriteRequest()
    for labels, samples in series:
        timeseries = request.timeseries.add()
        for name, text in sorted(labels.items()):
            timeseries.labels.add(name=name, value=text)
        for number, timestamp in samples:
            timeseries.samples.add(value=number, timestamp=timestamp)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
