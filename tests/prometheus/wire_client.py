"""Requests as Prometheus and Alertmanager send them, for the tests."""

from collections.abc import Sequence
from typing import Any

import httpx

from server.transport.prometheus.wire import encode_write_request

REMOTE_WRITE_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "Prometheus/2.42.0",
}
Series = tuple[dict[str, str], Sequence[tuple[float, int]]]


async def remote_write(
    http: httpx.AsyncClient,
    key: str | None,
    series: Sequence[Series],
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> httpx.Response:
    sent = {**REMOTE_WRITE_HEADERS, **(headers or {})}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    content = encode_write_request(series) if body is None else body
    return await http.post("/api/v1/write", content=content, headers=sent)


async def post_json(
    http: httpx.AsyncClient, path: str, key: str | None, payload: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return await http.post(path, json=payload, headers=headers)


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code
