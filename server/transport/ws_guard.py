"""Limits of a GraphQL websocket, kept at the ASGI edge of the connection.

Between the socket and Strawberry's protocol handlers, ``WebSocketGuard``:
- closes with 1009 a message larger than ``max_websocket_message_bytes``;
- pings ``graphql-transport-ws`` clients every ``websocket_ping_interval_seconds``
  and closes with 4408 ("Idle timeout") a connection that sent nothing (not
  even a pong) for ``websocket_idle_timeout_seconds``; a legacy ``graphql-ws``
  connection, whose protocol has no client pong, only while it runs no
  subscription;
- takes each ``subscribe``/``start`` and ``ping`` from the key's rate limit:
  an operation over it gets an ``error`` coded ``RATE_LIMITED`` (with
  ``retryAfter``), a ping flood is closed with 4429;
- holds each operation to ``max_query_cost``, as over HTTP: one over it gets
  an ``error`` coded ``COST_LIMIT_EXCEEDED`` naming its cost and the limit;
- in production, takes graphql-core's "Did you mean ...?" out of every error
  message it sends, as over HTTP;
- in persisted-operations mode, runs only allow-listed operations, as over
  HTTP (a client may send the hash alone);
- holds a key to ``max_websocket_connections_per_key`` connections across
  every replica (``server.core.connection_slots``): one more is closed with
  4429 after ``connection_init``.
"""

import asyncio
import contextlib
import uuid
from typing import Any

import orjson
from starlette.types import Message, Receive, Scope, Send

from schema.engine.cost import operation_cost
from schema.engine.documents import root_fields
from schema.engine.errors import without_suggestions
from schema.engine.schema import OpsGraphSchema
from server.core.auth import Principal
from server.core.connection_slots import ConnectionSlots
from server.core.errors import ErrorCode
from server.core.ratelimit import RateLimiter, RequestKind
from server.core.settings import Settings
from server.transport.guards import COST_LIMIT_EXCEEDED, cost_refusal
from server.transport.persisted import PersistedOperations, PersistedQueryRefused

MESSAGE_TOO_BIG = 1009
IDLE_TIMEOUT = 4408
TOO_MANY = 4429
TRANSPORT_WS = "graphql-transport-ws"
SUGGESTION_MARK = "Did you mean"


class WebSocketGuard:
    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        settings: Settings,
        limiter: RateLimiter,
        slots: ConnectionSlots,
        schema: OpsGraphSchema,
        persisted: PersistedOperations | None = None,
    ) -> None:
        self._receive = receive
        self._send = send
        self._settings = settings
        self._limiter = limiter
        self._slots = slots
        self._connection_id = uuid.uuid4().hex
        self._schema = schema
        self._transport_ws = TRANSPORT_WS in scope.get("subprotocols", ())
        self._principal: Principal | None = None
        self._counted_key: int | None = None
        self._running: set[str] = set()
        self._closed = False
        self._send_lock = asyncio.Lock()
        self._pinger: asyncio.Task[None] | None = None
        self._hide_suggestions = settings.is_production
        self._persisted = persisted

    async def receive(self) -> Message:
        while True:
            message = await self._next_message()
            if message["type"] != "websocket.receive":
                return message
            if await self._admitted(message):
                return message

    async def send(self, message: Message) -> None:
        if self._closed:
            return
        if message["type"] == "websocket.close":
            self._closed = True
        elif message["type"] == "websocket.send":
            self._track_sent(message)
            text = message.get("text")
            if self._hide_suggestions and text and SUGGESTION_MARK in text:
                message = {**message, "text": _without_suggestions(text)}
        async with self._send_lock:
            await self._send(message)

    async def authenticated(self, principal: Principal) -> bool:
        """Count the connection against its key; False if that is one too many."""
        self._principal = principal
        if not await self._slots.acquire(principal.key_id, self._connection_id):
            return False
        self._counted_key = principal.key_id
        return True

    async def close(self, code: int, reason: str) -> None:
        await self.send({"type": "websocket.close", "code": code, "reason": reason})

    async def release(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinger
        if self._counted_key is not None:
            await self._slots.release(self._counted_key, self._connection_id)
            self._counted_key = None

    async def _next_message(self) -> Message:
        timeout = self._idle_timeout()
        try:
            async with asyncio.timeout(timeout):
                return await self._receive()
        except TimeoutError:
            await self.close(IDLE_TIMEOUT, "Idle timeout")
            return {"type": "websocket.disconnect", "code": IDLE_TIMEOUT}

    def _idle_timeout(self) -> float | None:
        if not self._transport_ws and self._running:
            return None
        return self._settings.websocket_idle_timeout_seconds

    async def _admitted(self, message: Message) -> bool:
        """Whether the message goes on to the protocol handler."""
        raw = message.get("text") or message.get("bytes") or ""
        if len(raw) > self._settings.max_websocket_message_bytes:
            limit = self._settings.max_websocket_message_bytes
            await self.close(MESSAGE_TOO_BIG, f"Message larger than {limit} bytes")
            message.clear()
            message.update({"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG})
            return True
        parsed = _parsed(raw)
        kind = parsed.get("type")
        if kind in ("subscribe", "start"):
            self._running.add(str(parsed.get("id")))
            if self._persisted is not None and not await self._persisted_text_in(parsed):
                return False
            admitted = await self._operation_admitted(parsed)
            if admitted and self._persisted is not None:
                message.pop("bytes", None)
                message["text"] = orjson.dumps(parsed).decode()
            return admitted
        if kind in ("complete", "stop"):
            self._running.discard(str(parsed.get("id")))
        if kind == "ping" and not await self._within_limit(RequestKind.READ):
            await self.close(TOO_MANY, "Rate limit exceeded")
            message.clear()
            message.update({"type": "websocket.disconnect", "code": TOO_MANY})
        return True

    async def _operation_admitted(self, parsed: dict[str, Any]) -> bool:
        payload = parsed.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        query = payload.get("query")
        prepared = self._schema.preparer.prepare(query) if isinstance(query, str) else None
        # An invalid document is refused by the handler, with its errors.
        document = prepared.document if prepared is not None and not prepared.errors else None
        kind = RequestKind.READ
        if document is not None and root_fields(document, None)[0] == "mutation":
            kind = RequestKind.WRITE
        status = await self._hit(kind)
        if status is not None and status.exceeded:
            message = f"rate limit exceeded; retry in {status.retry_after}s"
            extensions = {"code": ErrorCode.RATE_LIMITED.value, "retryAfter": status.retry_after}
            return await self._refused(parsed, message, extensions)
        if document is None:
            return True
        operation_name = payload.get("operationName")
        variables = payload.get("variables")
        cost = operation_cost(
            self._schema,
            document,
            operation_name if isinstance(operation_name, str) else None,
            variables if isinstance(variables, dict) else None,
            default_page_size=self._settings.default_page_size,
        )
        limit = self._settings.max_query_cost
        if cost <= limit:
            return True
        message = cost_refusal(cost, limit)
        extensions = {"code": COST_LIMIT_EXCEEDED, "cost": {"requested": cost, "limit": limit}}
        return await self._refused(parsed, message, extensions)

    async def _persisted_text_in(self, parsed: dict[str, Any]) -> bool:
        """Put the allow-listed text of the operation in its payload (a client may
        send the hash alone); False, with a coded error sent, when it is not listed."""
        assert self._persisted is not None
        payload = parsed.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        query, extensions = payload.get("query"), payload.get("extensions")
        try:
            text = self._persisted.resolve(
                query if isinstance(query, str) else None,
                extensions if isinstance(extensions, dict) else None,
            )
        except PersistedQueryRefused as refusal:
            return await self._refused(parsed, refusal.message, {"code": refusal.code})
        parsed["payload"] = {**payload, "query": text}
        return True

    async def _refused(
        self, parsed: dict[str, Any], message: str, extensions: dict[str, Any]
    ) -> bool:
        """Answer the operation with a coded error instead of running it: False."""
        self._running.discard(str(parsed.get("id")))
        error = {"message": message, "extensions": extensions}
        body = {
            "id": parsed.get("id"),
            "type": "error",
            "payload": [error] if self._transport_ws else error,
        }
        await self.send({"type": "websocket.send", "text": orjson.dumps(body).decode()})
        return False

    async def _within_limit(self, kind: RequestKind) -> bool:
        status = await self._hit(kind)
        return status is None or not status.exceeded

    async def _hit(self, kind: RequestKind) -> Any:
        if self._principal is None or not self._limiter.enabled:
            return None
        return await self._limiter.hit(self._principal, kind)

    def _track_sent(self, message: Message) -> None:
        text = message.get("text")
        if not text or '"type":"next"' in text[:100] or '"type":"data"' in text[:100]:
            return
        parsed = _parsed(text)
        kind = parsed.get("type")
        if kind == "connection_ack" and self._transport_ws and self._pinger is None:
            self._pinger = asyncio.create_task(self._ping_forever())
        elif kind in ("complete", "error"):
            self._running.discard(str(parsed.get("id")))

    async def _ping_forever(self) -> None:
        interval = self._settings.websocket_ping_interval_seconds
        while not self._closed:
            await asyncio.sleep(interval)
            await self.send({"type": "websocket.send", "text": '{"type":"ping"}'})


def _without_suggestions(text: str) -> str:
    """A protocol message whose error messages say no "Did you mean ...?"."""
    parsed = _parsed(text)
    payload = parsed.get("payload")
    if isinstance(payload, list):
        errors = payload
    elif isinstance(payload, dict):
        errors = payload.get("errors") or [payload]
    else:
        return text
    for error in errors:
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            error["message"] = without_suggestions(error["message"])
    return orjson.dumps(parsed).decode()


def _parsed(raw: str | bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
