"""Inspection checks: pure functions over key facts and settings, each giving one item."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from server.access.service import KeyFacts
from server.core.roles import Role
from server.core.settings import Settings

STALE_AFTER = timedelta(days=90)
UNUSED_GRACE = timedelta(days=7)
MAX_ADMINS = 3


class Verdict(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class InspectionItem:
    check: str
    verdict: Verdict
    detail: str


def _names(keys: list[KeyFacts]) -> str:
    return ", ".join(sorted(f"{key.name} (#{key.id})" for key in keys))


def bootstrap_key(keys: list[KeyFacts]) -> InspectionItem:
    active = [key for key in keys if key.is_bootstrap]
    if active:
        return InspectionItem(
            "bootstrap_key_active",
            Verdict.FAIL,
            f"revoke the bootstrap key once named keys exist: {_names(active)}",
        )
    return InspectionItem("bootstrap_key_active", Verdict.PASS, "no bootstrap key is active")


def admin_count(keys: list[KeyFacts]) -> InspectionItem:
    admins = [key for key in keys if key.role is Role.ADMIN]
    if len(admins) > MAX_ADMINS:
        detail = f"{len(admins)} admin keys (at most {MAX_ADMINS} advised): {_names(admins)}"
        return InspectionItem("too_many_admins", Verdict.WARN, detail)
    return InspectionItem("too_many_admins", Verdict.PASS, f"{len(admins)} admin key(s)")


def stale_keys(keys: list[KeyFacts], now: datetime) -> InspectionItem:
    stale = [k for k in keys if k.last_used_at is not None and now - k.last_used_at > STALE_AFTER]
    if stale:
        return InspectionItem(
            "stale_api_keys", Verdict.WARN, f"unused for over 90 days: {_names(stale)}"
        )
    return InspectionItem("stale_api_keys", Verdict.PASS, "every used key was used recently")


def never_used_keys(keys: list[KeyFacts], now: datetime) -> InspectionItem:
    unused = [k for k in keys if k.last_used_at is None and now - k.created_at > UNUSED_GRACE]
    if unused:
        return InspectionItem(
            "never_used_api_keys", Verdict.WARN, f"never used in over 7 days: {_names(unused)}"
        )
    return InspectionItem("never_used_api_keys", Verdict.PASS, "no idle unused keys")


def deployment(settings: Settings) -> list[InspectionItem]:
    production = settings.is_production
    items = [
        InspectionItem(
            "rate_limiting",
            Verdict.PASS if settings.rate_limit_per_minute > 0 else Verdict.FAIL,
            f"{settings.rate_limit_per_minute} requests per key per minute"
            if settings.rate_limit_per_minute
            else "per-key rate limiting is off",
        ),
        InspectionItem(
            "playground_in_production",
            Verdict.FAIL if production and settings.playground_enabled else Verdict.PASS,
            f"playground {'on' if settings.playground_enabled else 'off'} "
            f"in {settings.environment.value}",
        ),
        InspectionItem(
            "introspection_in_production",
            Verdict.FAIL if production and settings.introspection_enabled else Verdict.PASS,
            f"introspection {'on' if settings.introspection_enabled else 'off'} "
            f"in {settings.environment.value}",
        ),
        InspectionItem(
            "loopback_webhooks",
            Verdict.WARN if production and settings.allow_loopback_webhooks else Verdict.PASS,
            "webhooks to loopback addresses are "
            + ("allowed" if settings.allow_loopback_webhooks else "refused"),
        ),
    ]
    return items
