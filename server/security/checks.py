"""Inspection checks of a workspace's keys and webhook routes: pure functions over
facts, each giving one item with a status, what was found and what to do.

Ages are measured from ``now``, the injected clock's time of the inspection.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from server.access.service import KeyFacts
from server.core.roles import Role
from server.notifications.inventory import WebhookRouteFacts

KEY_MAX_AGE = timedelta(days=90)
KEY_IDLE_LIMIT = timedelta(days=30)
MAX_ADMINS = 3


class ItemStatus(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class InspectionItem:
    check: str
    status: ItemStatus
    detail: str
    remediation: str


def passed(check: str, detail: str) -> InspectionItem:
    return InspectionItem(check, ItemStatus.PASS, detail, "nothing to do")


def days(span: timedelta) -> int:
    return span // timedelta(days=1)


def key_names(keys: Iterable[KeyFacts]) -> str:
    return ", ".join(sorted(f"{key.name} (#{key.id})" for key in keys))


def route_names(routes: Iterable[WebhookRouteFacts]) -> str:
    return ", ".join(
        sorted(
            f"{route.name} (#{route.id}{'' if route.enabled else ', disabled'})" for route in routes
        )
    )


def _every_route(routes: list[WebhookRouteFacts], does: str) -> str:
    return f"all {len(routes)} webhook route(s) {does}" if routes else "no webhook routes"


def bootstrap_key(keys: list[KeyFacts]) -> InspectionItem:
    check = "bootstrap_key_active"
    active = [key for key in keys if key.is_bootstrap]
    if not active:
        return passed(check, "no bootstrap key is active")
    return InspectionItem(
        check,
        ItemStatus.FAIL,
        f"the key printed at the first start is still active: {key_names(active)}",
        "create a named admin key for each administrator (createApiKey), "
        "then revoke the bootstrap key (revokeApiKey)",
    )


def admin_count(keys: list[KeyFacts]) -> InspectionItem:
    check = "too_many_admins"
    admins = [key for key in keys if key.role is Role.ADMIN]
    if len(admins) <= MAX_ADMINS:
        return passed(check, f"{len(admins)} admin key(s), at most {MAX_ADMINS} advised")
    return InspectionItem(
        check,
        ItemStatus.WARN,
        f"{len(admins)} admin keys, at most {MAX_ADMINS} advised: {key_names(admins)}",
        "give developer or viewer keys to whoever needs no key or backup administration, "
        "and revoke the admin keys they replace",
    )


def key_age(keys: list[KeyFacts], now: datetime) -> InspectionItem:
    check = "api_key_age"
    old = [key for key in keys if now - key.created_at > KEY_MAX_AGE]
    if not old:
        return passed(check, f"every active key is at most {days(KEY_MAX_AGE)} days old")
    return InspectionItem(
        check,
        ItemStatus.WARN,
        f"{len(old)} key(s) older than {days(KEY_MAX_AGE)} days: {key_names(old)}",
        "rotate them: create a replacement key, move its clients to it, then revoke the old key",
    )


def _idle_since(key: KeyFacts) -> datetime:
    return key.last_used_at if key.last_used_at is not None else key.created_at


def unused_keys(keys: list[KeyFacts], now: datetime) -> InspectionItem:
    check = "unused_api_keys"
    idle = [key for key in keys if now - _idle_since(key) > KEY_IDLE_LIMIT]
    if not idle:
        return passed(check, f"every active key was used in the last {days(KEY_IDLE_LIMIT)} days")
    never = [key for key in idle if key.last_used_at is None]
    unused = [key for key in idle if key.last_used_at is not None]
    found = [
        f"never used: {key_names(never)}" if never else "",
        f"not used for over {days(KEY_IDLE_LIMIT)} days: {key_names(unused)}" if unused else "",
    ]
    return InspectionItem(
        check,
        ItemStatus.WARN,
        "; ".join(part for part in found if part),
        "revoke the keys nobody uses (revokeApiKey); an unused key is a credential "
        "that can leak without anyone noticing",
    )


def webhook_secrets(routes: list[WebhookRouteFacts]) -> InspectionItem:
    check = "webhook_route_secrets"
    unsigned = [route for route in routes if not route.has_secret]
    if not unsigned:
        return passed(check, _every_route(routes, "sign their requests"))
    return InspectionItem(
        check,
        ItemStatus.FAIL,
        f"webhook route(s) without a signing secret: {route_names(unsigned)}",
        "set a whsec_ secret on each route (updateNotificationRoute generates one) "
        "and have the receiver verify the webhook-signature header",
    )


def webhook_tls(routes: list[WebhookRouteFacts]) -> InspectionItem:
    check = "webhook_route_tls"
    plain = [route for route in routes if route.scheme != "https"]
    if not plain:
        return passed(check, _every_route(routes, "use https"))
    return InspectionItem(
        check,
        ItemStatus.FAIL,
        f"webhook route(s) sending alerts without TLS: {route_names(plain)}",
        "serve the receivers over https and change the routes' URLs to https://",
    )


def workspace_checks(
    keys: list[KeyFacts], routes: list[WebhookRouteFacts], now: datetime
) -> list[InspectionItem]:
    return [
        bootstrap_key(keys),
        admin_count(keys),
        key_age(keys, now),
        unused_keys(keys, now),
        webhook_secrets(routes),
        webhook_tls(routes),
    ]
