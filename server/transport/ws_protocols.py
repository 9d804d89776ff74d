"""The two websocket subprotocols, held to the same rules.

The legacy ``graphql-ws`` protocol defines no close codes and no deadline for
``connection_init``; Strawberry's handler closes a refused connection with 1011
(internal error) and waits for ``connection_init`` forever. Here a refused key
gets ``connection_error`` and the close code 4403, and a connection that sends
no ``connection_init`` in time is closed with 4408, as on ``graphql-transport-ws``.
On both, a subscription over the per-connection cap is refused with an error
that carries ``extensions.code`` like every other.
"""

import asyncio
import contextlib
from collections.abc import Collection
from typing import Any

from graphql import GraphQLError, GraphQLFormattedError
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionErrorMessage,
    ConnectionInitMessage,
    ErrorMessage,
    StartMessage,
)
from strawberry.types.unset import UnsetType

from server.core.errors import ErrorCode


def _over_the_cap(
    cap: int | None, running: Collection[str], operation_id: str
) -> GraphQLFormattedError | None:
    """The error refusing a new operation beyond the per-connection cap, if it is one."""
    if cap is None or operation_id in running or len(running) < cap:
        return None
    return GraphQLError(
        f"a connection may hold at most {cap} subscriptions; complete one first",
        extensions={"code": ErrorCode.RATE_LIMITED.value},
    ).formatted


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        cap = self.max_subscriptions_per_connection
        error = _over_the_cap(cap, self.operations, message["id"])
        if self.connection_acknowledged and error is not None:
            await self.send_message({"id": message["id"], "type": "error", "payload": [error]})
            return
        await super().handle_subscribe(message)


class LegacyGraphQLWSHandler(BaseGraphQLWSHandler[Any, Any]):
    async def handle(self) -> None:
        deadline = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            deadline.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deadline

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(code=4408, reason="Connection initialisation timeout")

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            await self._refuse({"message": "the connection_init payload must be an object"})
            return
        self.context.connection_params = payload
        try:
            acknowledged = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as rejection:
            await self._refuse(rejection.payload)
            return
        if isinstance(acknowledged, UnsetType) or acknowledged is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": acknowledged})
        self.connection_acknowledged = True
        if self.keep_alive:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())

    async def handle_start(self, message: StartMessage) -> None:
        cap = self.max_subscriptions_per_connection
        error = _over_the_cap(cap, self.tasks, message["id"])
        if self.connection_acknowledged and error is not None:
            await self.send_message(ErrorMessage(type="error", id=message["id"], payload=error))
            return
        await super().handle_start(message)

    async def _refuse(self, payload: dict[str, object]) -> None:
        await self.send_message(ConnectionErrorMessage(type="connection_error", payload=payload))
        await self.websocket.close(code=4403, reason="Forbidden")
