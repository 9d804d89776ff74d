"""Real receivers on loopback ports: a webhook endpoint and an SMTP server."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """Records every request and answers with the scripted statuses in turn, then
    200, after ``delay_seconds``."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    delay_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer_with(self, *statuses: int, **headers: str) -> None:
        self.script.extend((status, dict(headers)) for status in statuses)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        self.requests.append(Received(scope["path"], headers, body))
        status, extra = self.script.pop(0) if self.script else (200, {})
        await asyncio.sleep(self.delay_seconds)
        raw_headers = [(name.encode(), value.encode()) for name, value in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(port=free_port())
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=receiver.port, lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await serving


@dataclass
class MailSink:
    port: int = 0
    mails: list[tuple[Envelope, Message]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else (content or "").encode()
        self.mails.append((envelope, message_from_bytes(raw)))
        return "250 OK"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[MailSink]:
    sink = MailSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    await asyncio.to_thread(controller.start)
    try:
        yield sink
    finally:
        await asyncio.to_thread(controller.stop)
