"""A webhook receiver for opsgraph notification routes (standard library + standardwebhooks).

Verifies each request's Standard Webhooks signature with the route's secret,
drops repeats of a webhook-id it already handled (retries and redeliveries keep
the id), prints one line per notification and, with --confirm, posts a signed
receipt back to opsgraph so that the delivery shows ``confirmedAt``.

    export OPSGRAPH_WEBHOOK_SECRET=whsec_...     # from createNotificationRoute
    .venv/bin/python web-examples/webhook_receiver.py --port 9000 \
        --confirm http://127.0.0.1:8000/notifications/receipts
"""

import argparse
import json
import os
import sys
import urllib.request
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

REMEMBERED_IDS = 10_000


class Seen:
    """The webhook-ids handled lately, oldest forgotten first."""

    def __init__(self, limit: int = REMEMBERED_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit
        self._lock = Lock()

    def first_time(self, webhook_id: str) -> bool:
        with self._lock:
            if webhook_id in self._ids:
                return False
            self._ids[webhook_id] = None
            if len(self._ids) > self._limit:
                self._ids.popitem(last=False)
            return True


def describe(document: dict[str, Any]) -> str:
    data = document.get("data") or {}
    alert = data.get("alert") or {}
    route = (data.get("route") or {}).get("name", "-")
    return (
        f"{document.get('timestamp')} {alert.get('severity')} {alert.get('service')}: "
        f"{alert.get('summary')} (alert {alert.get('alertId')}, {data.get('reason')}, "
        f"route {route}, attempt {data.get('attempt')})"
    )


def send_receipt(url: str, webhook: Webhook, delivery_id: str) -> int:
    """Post ``{"deliveryId": ...}`` to opsgraph, signed like the webhooks it sends."""
    body = json.dumps({"deliveryId": delivery_id}).encode()
    receipt_id = f"receipt_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "content-type": "application/json",
            "webhook-id": receipt_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": webhook.sign(receipt_id, now, body),
        },
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        status: int = response.status
        return status


def handler_class(webhook: Webhook, seen: Seen, confirm_url: str | None) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                document = webhook.verify(body, headers)
            except WebhookVerificationError as error:
                self.send_response(401)
                self.end_headers()
                print(f"refused: {error}", file=sys.stderr, flush=True)
                return
            self.send_response(204)
            self.end_headers()
            if not seen.first_time(headers["webhook-id"]):
                return  # a retry or redelivery of one already handled
            print(describe(document), flush=True)
            delivery_id = (document.get("data") or {}).get("deliveryId")
            if confirm_url and delivery_id:
                try:
                    send_receipt(confirm_url, webhook, str(delivery_id))
                except OSError as error:
                    print(f"receipt not sent: {error}", file=sys.stderr, flush=True)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per notification is printed instead

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--confirm", metavar="URL", help="post signed receipts to this URL")
    arguments = parser.parse_args()
    secret = os.environ.get("OPSGRAPH_WEBHOOK_SECRET")
    if not secret:
        print("set OPSGRAPH_WEBHOOK_SECRET to the route's whsec_... secret", file=sys.stderr)
        return 2
    webhook = Webhook(secret)
    handler = handler_class(webhook, Seen(), arguments.confirm)
    server = ThreadingHTTPServer((arguments.host, arguments.port), handler)
    print(f"listening on http://{arguments.host}:{arguments.port}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
