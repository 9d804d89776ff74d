"""Where notifications may go: webhook URLs and email addresses, checked against SSRF.

A target is refused when its host is, or resolves to, a link-local address
(169.254.0.0/16 and fe80::/10, where cloud metadata services live), a private
one (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), a loopback one (unless
``allow_loopback``), an unspecified, multicast or reserved one. Names are
resolved with the event loop's ``getaddrinfo``; every address a name resolves
to must pass. Checks run when a route is written and again before each send,
since DNS answers change; a webhook is then sent to the address that passed
(``Resolved``), so a second lookup cannot swap it for another.
"""

import asyncio
import contextlib
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from server.core.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL = 2048
MAX_EMAIL = 254
_EMAIL = re.compile(r"[^@\s\x00]{1,64}@(?P<domain>[^@\s\x00]{1,253})")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class TargetRefused(Exception):
    """A target that must not be contacted; the message says why."""


class Unresolvable(TargetRefused):
    """A host name without addresses."""


@dataclass(frozen=True)
class Resolved:
    """A webhook URL and the address it is sent to."""

    url: str
    host: str
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        return parts._replace(netloc=netloc).geturl()


def refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why ``address`` may not be contacted, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        if allow_loopback:
            return None
        return "a loopback address (set OPSGRAPH_ALLOW_LOOPBACK_WEBHOOKS=true to allow it)"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private or (address.version == 4 and address in _SHARED):
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str) -> list[IPAddress]:
    """The addresses of ``host`` (an IP literal is its own); raises ``TargetRefused``
    when the name does not resolve."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Unresolvable(f"{host} does not resolve ({error})") from error
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def check_host(host: str, *, allow_loopback: bool) -> list[IPAddress]:
    """The host's addresses, all of them allowed; else ``TargetRefused``."""
    addresses = await resolve(host)
    for address in addresses:
        reason = refusal(address, allow_loopback=allow_loopback)
        if reason is not None:
            literal = str(address) == host.strip("[]")
            shown = f"{host} is" if literal else f"{host} resolves to {address},"
            raise TargetRefused(f"{shown} {reason}: refused")
    return addresses


def _split_url(url: str) -> SplitResult:
    if len(url) > MAX_URL or any(char.isspace() or char == "\x00" for char in url):
        raise TargetRefused(f"a URL of at most {MAX_URL} characters, without spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as error:
        raise TargetRefused(f"not a valid URL ({error})") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("the URL must be https://host/...")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL may not carry credentials; the route's secret signs it")
    return parts


async def check_webhook_url(url: str, *, allow_loopback: bool) -> Resolved:
    """A URL notifications may be posted to: https to a public address, or plain
    http to a loopback address when loopback is allowed."""
    parts = _split_url(url)
    host = parts.hostname or ""
    addresses = await check_host(host, allow_loopback=allow_loopback)
    if parts.scheme == "http" and not all(address.is_loopback for address in addresses):
        raise TargetRefused("the URL must use https (plain http only to loopback addresses)")
    return Resolved(url=url, host=host, address=addresses[0])


def email_domain(address: str) -> str:
    """The domain of an email address, or ``TargetRefused`` if it is not one."""
    found = _EMAIL.fullmatch(address) if len(address) <= MAX_EMAIL else None
    if found is None:
        raise TargetRefused(f"not an email address (local@domain, at most {MAX_EMAIL} characters)")
    return found["domain"]


async def check_email(address: str, *, allow_loopback: bool) -> None:
    """An address whose domain is not, and does not resolve to, a refused address.

    A domain that does not resolve passes: mail goes through the configured SMTP
    relay, which finds the domain's MX hosts itself.
    """
    domain = email_domain(address)
    with contextlib.suppress(Unresolvable):
        await check_host(domain, allow_loopback=allow_loopback)


async def check_webhook_input(url: str, *, allow_loopback: bool, field: str) -> None:
    try:
        await check_webhook_url(url, allow_loopback=allow_loopback)
    except TargetRefused as refused:
        raise InvalidInput(f"webhook url refused: {refused}", field=field) from refused


async def check_email_input(address: str, *, allow_loopback: bool, field: str) -> None:
    try:
        await check_email(address, allow_loopback=allow_loopback)
    except TargetRefused as refused:
        raise InvalidInput(f"email address refused: {refused}", field=field) from refused


def is_ip_literal(host: str) -> bool:
    return _literal(host) is not None
