"""The inspection checks as pure functions over facts, without a database."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from server.access.service import KeyFacts
from server.core.roles import Role
from server.core.settings import Environment, Settings
from server.notifications.inventory import WebhookRouteFacts
from server.security import checks, deployment
from server.security.checks import ItemStatus
from server.security.deployment import DeploymentFacts, RecoveryFacts

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def key(
    key_id: int,
    *,
    role: Role = Role.DEVELOPER,
    age: timedelta = DAY,
    idle: timedelta | None = DAY,
    bootstrap: bool = False,
) -> KeyFacts:
    """A key created ``age`` ago and last used ``idle`` ago (None: never)."""
    return KeyFacts(
        id=key_id,
        name=f"key-{key_id}",
        role=role,
        is_bootstrap=bootstrap,
        created_at=NOW - age,
        last_used_at=None if idle is None else NOW - idle,
    )


def route(route_id: int, *, scheme: str = "https", secret: bool = True) -> WebhookRouteFacts:
    return WebhookRouteFacts(
        id=route_id, name=f"hook-{route_id}", enabled=True, scheme=scheme, has_secret=secret
    )


def recovery(
    backup: datetime | None, drill: datetime | None, *, mode: int | None = 0o700
) -> RecoveryFacts:
    return RecoveryFacts(backup, drill, "/var/lib/opsgraph/backups", mode)


DEVELOPMENT = DeploymentFacts(
    environment="development",
    production=False,
    host="127.0.0.1",
    playground=True,
    introspection=True,
    rate_limit_per_minute=1200,
    loopback_webhooks=False,
    smtp_host=None,
    smtp_tls="auto",
)
PRODUCTION = replace(
    DEVELOPMENT,
    environment="production",
    production=True,
    host="0.0.0.0",
    playground=False,
    introspection=False,
)


def test_a_key_is_old_past_90_days_of_age_whatever_its_use() -> None:
    fresh = key(1, age=90 * DAY)
    old = key(2, age=91 * DAY, idle=timedelta(minutes=1))
    assert checks.key_age([fresh], NOW).status is ItemStatus.PASS
    item = checks.key_age([fresh, old], NOW)
    assert item.status is ItemStatus.WARN
    assert item.detail == "1 key(s) older than 90 days: key-2 (#2)"
    assert "revoke the old key" in item.remediation


def test_a_key_is_unused_when_idle_for_30_days_counting_from_creation_if_never_used() -> None:
    recent_never = key(1, age=30 * DAY, idle=None)
    used = key(2, age=200 * DAY, idle=30 * DAY)
    assert checks.unused_keys([recent_never, used], NOW).status is ItemStatus.PASS
    old_never = key(3, age=31 * DAY, idle=None)
    idle = key(4, age=200 * DAY, idle=31 * DAY)
    item = checks.unused_keys([recent_never, used, old_never, idle], NOW)
    assert item.status is ItemStatus.WARN
    assert item.detail == "never used: key-3 (#3); not used for over 30 days: key-4 (#4)"


def test_more_than_three_admin_keys_warn() -> None:
    admins = [key(index, role=Role.ADMIN) for index in range(1, 4)]
    assert checks.admin_count([*admins, key(9)]).status is ItemStatus.PASS
    item = checks.admin_count([*admins, key(4, role=Role.ADMIN)])
    assert item.status is ItemStatus.WARN
    assert item.detail.startswith("4 admin keys, at most 3 advised: key-1 (#1)")


def test_an_active_bootstrap_key_fails() -> None:
    assert checks.bootstrap_key([key(1)]).status is ItemStatus.PASS
    item = checks.bootstrap_key([key(1), key(2, role=Role.ADMIN, bootstrap=True)])
    assert item.status is ItemStatus.FAIL
    assert "key-2 (#2)" in item.detail


def test_webhook_routes_without_a_secret_or_tls_fail() -> None:
    assert checks.webhook_secrets([]).detail == "no webhook routes"
    assert checks.webhook_secrets([route(1)]).status is ItemStatus.PASS
    assert checks.webhook_tls([route(1)]).status is ItemStatus.PASS
    unsigned = replace(route(2, secret=False), enabled=False)
    item = checks.webhook_secrets([route(1), unsigned])
    assert (item.status, item.detail) == (
        ItemStatus.FAIL,
        "webhook route(s) without a signing secret: hook-2 (#2, disabled)",
    )
    item = checks.webhook_tls([route(1), route(3, scheme="http")])
    assert item.status is ItemStatus.FAIL
    assert item.detail.endswith("hook-3 (#3)")


@pytest.mark.parametrize(
    ("facts", "status"),
    [
        (DEVELOPMENT, ItemStatus.PASS),
        (replace(DEVELOPMENT, host="localhost"), ItemStatus.PASS),
        (replace(DEVELOPMENT, host="::1"), ItemStatus.PASS),
        (replace(DEVELOPMENT, host="0.0.0.0"), ItemStatus.FAIL),
        (replace(DEVELOPMENT, host="opsgraph.internal"), ItemStatus.FAIL),
        (
            replace(DEVELOPMENT, host="0.0.0.0", playground=False, introspection=False),
            ItemStatus.PASS,
        ),
        (PRODUCTION, ItemStatus.PASS),
        (
            replace(PRODUCTION, host="127.0.0.1", playground=True, introspection=True),
            ItemStatus.FAIL,
        ),
    ],
)
def test_playground_and_introspection_fail_where_other_hosts_reach_them(
    facts: DeploymentFacts, status: ItemStatus
) -> None:
    assert deployment.playground(facts).status is status
    assert deployment.introspection(facts).status is status


def test_rate_limiting_off_fails_and_loopback_webhooks_warn_in_production() -> None:
    assert deployment.rate_limiting(DEVELOPMENT).status is ItemStatus.PASS
    off = deployment.rate_limiting(replace(DEVELOPMENT, rate_limit_per_minute=None))
    assert off.status is ItemStatus.FAIL
    assert deployment.loopback_webhooks(replace(DEVELOPMENT, loopback_webhooks=True)).status is (
        ItemStatus.PASS
    )
    assert deployment.loopback_webhooks(PRODUCTION).status is ItemStatus.PASS
    assert deployment.loopback_webhooks(replace(PRODUCTION, loopback_webhooks=True)).status is (
        ItemStatus.WARN
    )


def test_the_settings_read_as_deployment_facts() -> None:
    production = deployment.deployment_facts(
        Settings(environment=Environment.PRODUCTION, host="0.0.0.0", rate_limit_per_minute=0)
    )
    assert production == replace(PRODUCTION, rate_limit_per_minute=None)
    development = deployment.deployment_facts(Settings(rate_limit_per_minute=1200))
    assert development == DEVELOPMENT


def test_a_backup_is_due_every_24_hours() -> None:
    assert deployment.recent_backup(recovery(None, None), NOW).status is ItemStatus.FAIL
    recent = recovery(NOW - timedelta(hours=24), None)
    item = deployment.recent_backup(recent, NOW)
    assert (item.status, item.detail) == (
        ItemStatus.PASS,
        "last successful backup at 2026-05-31T12:00:00+00:00 (24 h ago)",
    )
    late = recovery(NOW - timedelta(hours=25), None)
    assert deployment.recent_backup(late, NOW).status is ItemStatus.FAIL


def test_a_passed_restore_drill_is_due_every_30_days() -> None:
    never = deployment.recent_restore_drill(recovery(NOW, None), NOW)
    assert never.status is ItemStatus.FAIL
    recent = recovery(NOW, NOW - 30 * DAY)
    assert deployment.recent_restore_drill(recent, NOW).status is ItemStatus.PASS
    late = deployment.recent_restore_drill(recovery(NOW, NOW - 31 * DAY), NOW)
    assert late.status is ItemStatus.WARN
    assert "(31 days ago)" in late.detail


@pytest.mark.parametrize(
    ("host", "mode", "status"),
    [
        (None, "none", ItemStatus.PASS),
        ("mail.example.com", "starttls", ItemStatus.PASS),
        ("mail.example.com", "tls", ItemStatus.PASS),
        ("127.0.0.1", "none", ItemStatus.PASS),
        ("mail.example.com", "auto", ItemStatus.WARN),
        ("mail.example.com", "none", ItemStatus.FAIL),
    ],
)
def test_email_to_another_host_must_require_tls(
    host: str | None, mode: str, status: ItemStatus
) -> None:
    item = deployment.smtp_tls(replace(DEVELOPMENT, smtp_host=host, smtp_tls=mode))
    assert item.status is status


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        (None, ItemStatus.PASS),
        (0o700, ItemStatus.PASS),
        (0o750, ItemStatus.PASS),
        (0o701, ItemStatus.FAIL),
        (0o755, ItemStatus.FAIL),
        (0o777, ItemStatus.FAIL),
    ],
)
def test_the_backup_directory_is_closed_to_other_users(
    mode: int | None, status: ItemStatus
) -> None:
    item = deployment.backup_directory(recovery(None, None, mode=mode))
    assert item.status is status
    if status is ItemStatus.FAIL:
        assert item.detail.startswith(
            f"other users of the host can reach /var/lib/opsgraph/backups (mode {mode:o})"
        )
