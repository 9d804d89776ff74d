"""Security headers on every HTTP response, and CORS from an allow-list.

The Content-Security-Policy lets the self-hosted playground and dashboard work
and nothing else: scripts, styles, fonts and images from this origin only (no
inline script, no CDN), API calls to this origin over HTTP and websockets,
never framed. HSTS is sent only where it means something: over TLS, or behind
a proxy trusted (by setting) to say so with ``X-Forwarded-Proto: https``.
"""

import re

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.core.settings import Settings

#: Hosts as they may appear in a CSP source: a name or address and a port.
_SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")

BASE_POLICY = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    # GraphiQL's stylesheet embeds its fonts as data: URLs.
    "font-src 'self' data:",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
STATIC_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def content_security_policy(host: str | None) -> str:
    """The policy for a page served to ``host``: ``connect-src`` names its own
    ws:// and wss:// origin, which older browsers do not count as 'self'."""
    connect = "connect-src 'self'"
    if host and _SAFE_HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join((*BASE_POLICY, connect))


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, trust_forwarded_proto: bool, hsts_max_age: int) -> None:
        self.app = app
        self.trust_forwarded_proto = trust_forwarded_proto
        self.hsts = f"max-age={hsts_max_age}; includeSubDomains".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope["headers"])
        added = [
            *STATIC_HEADERS,
            (b"content-security-policy", self._policy(request_headers)),
        ]
        if self._over_tls(scope, request_headers):
            added.append((b"strict-transport-security", self.hsts))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in added if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _policy(headers: dict[bytes, bytes]) -> bytes:
        host = headers.get(b"host", b"").decode("latin-1")
        return content_security_policy(host).encode()

    def _over_tls(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        if scope.get("scheme") == "https":
            return True
        if not self.trust_forwarded_proto:
            return False
        forwarded = headers.get(b"x-forwarded-proto", b"").decode("latin-1")
        return forwarded.split(",")[0].strip().lower() == "https"


def guarded(app: ASGIApp, settings: Settings) -> ASGIApp:
    """``app`` behind CORS (when origins are allowed) and the security headers."""
    if settings.cors_allow_origins:
        app = CORSMiddleware(
            app,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "X-OpsGraph-Cost"],
            expose_headers=[
                "X-Request-ID",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "Retry-After",
            ],
            max_age=600,
        )
    return SecurityHeaders(
        app,
        trust_forwarded_proto=settings.trust_forwarded_proto,
        hsts_max_age=settings.hsts_max_age_seconds,
    )
