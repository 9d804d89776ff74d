"""Websocket GraphQL clients speaking graphql-transport-ws and the legacy graphql-ws."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


class SubscriptionClient:
    def __init__(self, connection: ClientConnection, protocol: str) -> None:
        self.connection = connection
        self.protocol = protocol

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, wait: float = 5.0) -> dict[str, Any]:
        while True:
            raw = await asyncio.wait_for(self.connection.recv(), timeout=wait)
            message: dict[str, Any] = json.loads(raw)
            if message["type"] not in ("ka", "ping", "pong"):
                return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        operation_id = uuid.uuid4().hex[:8]
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": operation_id, "type": kind, "payload": payload})
        return operation_id

    async def next_data(self, wait: float = 5.0) -> dict[str, Any]:
        """The data of the next result; fails on an error or completion."""
        message = await self.receive(wait)
        assert message["type"] in ("next", "data"), message
        assert not message["payload"].get("errors"), message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def expect_silence(self, seconds: float) -> None:
        try:
            message = await self.receive(wait=seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected nothing, got {message}")


@asynccontextmanager
async def subscription_client(
    url: str, key: str | None, protocol: str = TRANSPORT_WS
) -> AsyncIterator[SubscriptionClient]:
    async with connect(url, subprotocols=[protocol]) as connection:  # type: ignore[list-item]
        client = SubscriptionClient(connection, protocol)
        payload = {"Authorization": f"Bearer {key}"} if key else {}
        await client.send({"type": "connection_init", "payload": payload})
        acknowledged = await client.receive()
        assert acknowledged["type"] == "connection_ack", acknowledged
        yield client
