"""The shortcuts taken for throughput behave exactly like the paths they replace."""

import asyncio
import gc
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition

from schema.audited import plain
from schema.context import Context
from schema.root import build_schema
from schema.scalars import parse_datetime
from server.access.authentication import KeyAuthenticator
from server.audit.redaction import MAX_ITEMS, redact
from server.core.auth import Principal, Role
from server.core.clock import SystemClock
from server.core.errors import Unauthenticated
from server.core.settings import Settings

DATETIMES = [
    "2026-03-02T12:00:00Z",
    "2026-03-02T12:00:00.123456+02:00",
    "2026-03-02T12:00:00-05:30",
    "2026-03-02T24:00:00Z",  # fromisoformat refuses it; dateutil reads the next midnight
    "2026-03-02 12:00:00",
    "20260302T120000Z",
    "2026-W10-1T12:00Z",
    "2026-03-02T12:00:00.1234567Z",
    "2026-03-02",
    "2026-03-02T10:30,5Z",
]


def _outcome(parse: Any, text: str) -> object:
    try:
        return parse(text)
    except StrawberryInputCoercionError as error:
        return f"refused: {error}"


@pytest.mark.parametrize("text", DATETIMES)
def test_the_datetime_scalar_reads_what_the_builtin_reads(text: str) -> None:
    expected = _outcome(DateTimeDefinition.parse_value, text)
    parsed = _outcome(parse_datetime, text)
    assert parsed == expected
    if isinstance(expected, datetime) and isinstance(parsed, datetime):
        assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("value", ["yesterday", 5, None, "2026-03-02T12:00:00+25:00"])
def test_the_datetime_scalar_refuses_what_the_builtin_refuses(value: Any) -> None:
    with pytest.raises(StrawberryInputCoercionError):
        parse_datetime(value)


@dataclass
class Item:
    service: str
    labels: dict[str, str]


def test_audit_variables_of_a_large_batch_are_unchanged() -> None:
    items = [Item(service=f"s{n}", labels={"pod": str(n)}) for n in range(10_000)]
    audited = redact(plain({"signals": items}))
    assert len(audited["signals"]) == MAX_ITEMS + 1
    assert audited["signals"][0] == {"service": "s0", "labels": {"pod": "0"}}
    last = MAX_ITEMS - 1
    assert audited["signals"][last] == {"service": f"s{last}", "labels": {"pod": str(last)}}
    assert audited["signals"][-1] == f"... {10_000 - MAX_ITEMS} more"


class CountingAuthenticator(KeyAuthenticator):
    def __init__(self, *, fail: bool = False) -> None:
        super().__init__(db=None, clock=SystemClock(), cache_seconds=60)  # type: ignore[arg-type]
        self.loads = 0
        self.fail = fail

    async def _load(self, secret_digest: str) -> Principal:
        self.loads += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise Unauthenticated("invalid or revoked API key")
        return Principal(key_id=1, key_name="admin", workspace_id=1, role=Role.ADMIN)


async def test_concurrent_requests_with_an_uncached_key_load_it_once() -> None:
    authenticator = CountingAuthenticator()
    principals = await asyncio.gather(*(authenticator.authenticate("k") for _ in range(20)))
    assert authenticator.loads == 1
    assert {p.key_id for p in principals} == {1}
    await authenticator.authenticate("k")
    assert authenticator.loads == 1  # cached


async def test_a_failed_shared_load_fails_every_waiter_and_is_not_cached() -> None:
    authenticator = CountingAuthenticator(fail=True)
    results = await asyncio.gather(
        *(authenticator.authenticate("k") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(result, Unauthenticated) for result in results)
    assert authenticator.loads == 1
    with pytest.raises(Unauthenticated):
        await authenticator.authenticate("k")
    assert authenticator.loads == 2


async def test_executing_a_query_leaves_no_garbage_for_the_cycle_collector() -> None:
    # A cycle per execution left ~55 objects a request to full collector passes,
    # which stalled every request in flight.
    schema = build_schema(Settings())
    principal = Principal(key_id=1, key_name="k", workspace_id=1, role=Role.VIEWER)

    async def me() -> None:
        context = Context(None, request_id="r", principal=principal)  # type: ignore[arg-type]
        result = await schema.execute("{ me { role } }", context_value=context)
        assert result.data == {"me": {"role": "VIEWER"}}

    await me()  # validating a new document leaves cycles once; it is then cached
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            await me()
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0
