"""Inspection checks of the deployment (settings) and of its recovery (backups and
restore drills): pure functions over facts, as in ``server.security.checks``."""

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.core.settings import Settings
from server.security.checks import InspectionItem, ItemStatus, days, passed

BACKUP_MAX_AGE = timedelta(hours=24)
RATE_LIMIT_SETTING = "OPSGRAPH_RATE_LIMIT_PER_MINUTE"
DRILL_MAX_AGE = timedelta(days=30)


@dataclass(frozen=True)
class DeploymentFacts:
    environment: str
    production: bool
    #: The address the server listens on.
    host: str
    playground: bool
    introspection: bool
    #: Requests per key per minute; None when rate limiting is off.
    rate_limit_per_minute: int | None
    loopback_webhooks: bool
    #: None without an SMTP server; ``smtp_tls`` is auto, starttls, tls or none.
    smtp_host: str | None
    smtp_tls: str

    @property
    def reachable_from_other_hosts(self) -> bool:
        return not is_loopback(self.host)

    @property
    def exposed(self) -> bool:
        """Production, or a development server that other hosts can reach."""
        return self.production or self.reachable_from_other_hosts


@dataclass(frozen=True)
class RecoveryFacts:
    last_successful_backup_at: datetime | None
    last_passed_restore_drill_at: datetime | None
    backup_dir: str
    #: The backup directory's permission bits; None while it does not exist.
    backup_dir_mode: int | None


def is_loopback(host: str) -> bool:
    """A host name or address that only this machine reaches."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def rate_limit_per_minute(settings: Settings) -> int | None:
    """The per-key request limit the server enforces, None when it enforces none."""
    return settings.rate_limit_per_minute or None


def deployment_facts(settings: Settings) -> DeploymentFacts:
    return DeploymentFacts(
        environment=settings.environment.value,
        production=settings.is_production,
        host=settings.host,
        playground=settings.playground_enabled,
        introspection=settings.introspection_enabled,
        rate_limit_per_minute=rate_limit_per_minute(settings),
        loopback_webhooks=settings.allow_loopback_webhooks,
        smtp_host=settings.smtp_host or None,
        smtp_tls=settings.smtp_tls,
    )


def _where(facts: DeploymentFacts) -> str:
    return f"{facts.environment}, listening on {facts.host}"


def _open_tool(check: str, what: str, on: bool, facts: DeploymentFacts) -> InspectionItem:
    state = "on" if on else "off"
    if not (on and facts.exposed):
        return passed(check, f"{what} {state} ({_where(facts)})")
    return InspectionItem(
        check,
        ItemStatus.FAIL,
        f"{what} {state} where other hosts reach the server ({_where(facts)})",
        "set OPSGRAPH_ENVIRONMENT=production (which turns it off), or bind "
        "OPSGRAPH_HOST to a loopback address for local development",
    )


def playground(facts: DeploymentFacts) -> InspectionItem:
    return _open_tool(
        "playground_in_production", "the GraphQL playground is", facts.playground, facts
    )


def introspection(facts: DeploymentFacts) -> InspectionItem:
    return _open_tool(
        "introspection_in_production", "schema introspection is", facts.introspection, facts
    )


def rate_limiting(facts: DeploymentFacts) -> InspectionItem:
    check = "rate_limiting"
    if facts.rate_limit_per_minute is not None:
        return passed(check, f"{facts.rate_limit_per_minute} requests per key per minute")
    return InspectionItem(
        check,
        ItemStatus.FAIL,
        "per-key rate limiting is off: one leaked or runaway key can exhaust the server",
        f"turn it on: set {RATE_LIMIT_SETTING} to a positive limit",
    )


def loopback_webhooks(facts: DeploymentFacts) -> InspectionItem:
    check = "loopback_webhooks"
    allowed = "allowed" if facts.loopback_webhooks else "refused"
    if not (facts.production and facts.loopback_webhooks):
        return passed(check, f"webhooks to loopback addresses are {allowed} in {facts.environment}")
    return InspectionItem(
        check,
        ItemStatus.WARN,
        "webhooks to loopback addresses are allowed in production: a route can reach "
        "services that listen only on this host",
        "unset OPSGRAPH_ALLOW_LOOPBACK_WEBHOOKS (it is meant for tests and demos)",
    )


def smtp_tls(facts: DeploymentFacts) -> InspectionItem:
    check = "smtp_tls"
    host, mode = facts.smtp_host, facts.smtp_tls
    if host is None:
        return passed(check, "no SMTP server is configured")
    if mode in ("tls", "starttls") or is_loopback(host):
        return passed(check, f"email goes to {host} with smtp_tls={mode}")
    if mode == "none":
        status, risk = ItemStatus.FAIL, "in clear text"
    else:
        status, risk = ItemStatus.WARN, "in clear text whenever STARTTLS is not offered or stripped"
    return InspectionItem(
        check,
        status,
        f"email (alert contents, SMTP credentials) goes to {host} {risk} (smtp_tls={mode})",
        "set OPSGRAPH_SMTP_TLS=starttls (or tls for implicit TLS) so that TLS is required",
    )


def backup_directory(facts: RecoveryFacts) -> InspectionItem:
    check = "backup_dir_permissions"
    mode = facts.backup_dir_mode
    if mode is None:
        return passed(check, f"{facts.backup_dir} does not exist yet")
    if not mode & 0o007:
        return passed(check, f"{facts.backup_dir} is closed to other users (mode {mode:o})")
    return InspectionItem(
        check,
        ItemStatus.FAIL,
        f"other users of the host can reach {facts.backup_dir} (mode {mode:o}): "
        "dumps hold every workspace's rows",
        f"chmod 700 {facts.backup_dir} (and chown it to the user opsgraph runs as)",
    )


def _ago(moment: datetime, now: datetime) -> str:
    hours = (now - moment) // timedelta(hours=1)
    return (
        f"{moment.isoformat()} ({hours} h ago)"
        if hours < 48
        else f"{moment.isoformat()} ({days(now - moment)} days ago)"
    )


def recent_backup(facts: RecoveryFacts, now: datetime) -> InspectionItem:
    check = "recent_backup"
    last = facts.last_successful_backup_at
    if last is not None and now - last <= BACKUP_MAX_AGE:
        return passed(check, f"last successful backup at {_ago(last, now)}")
    found = (
        "no successful backup ever"
        if last is None
        else f"last successful backup at {_ago(last, now)}"
    )
    return InspectionItem(
        check,
        ItemStatus.FAIL,
        f"{found}; at most {BACKUP_MAX_AGE // timedelta(hours=1)} h advised",
        "run startBackupRun now, then find out why the nightly backup did not succeed "
        "(backupRuns shows failed runs with their reason)",
    )


def recent_restore_drill(facts: RecoveryFacts, now: datetime) -> InspectionItem:
    check = "recent_restore_drill"
    last = facts.last_passed_restore_drill_at
    if last is not None and now - last <= DRILL_MAX_AGE:
        return passed(check, f"last passed restore drill at {_ago(last, now)}")
    remediation = "run startRestoreDrill on the newest backup and fix what its failed checks report"
    if last is None:
        return InspectionItem(
            check,
            ItemStatus.FAIL,
            "no restore drill has ever passed: backups are untested",
            remediation,
        )
    return InspectionItem(
        check,
        ItemStatus.WARN,
        f"last passed restore drill at {_ago(last, now)}; "
        f"one every {days(DRILL_MAX_AGE)} days advised",
        remediation,
    )


def deployment_checks(
    deployment: DeploymentFacts, recovery: RecoveryFacts, now: datetime
) -> list[InspectionItem]:
    return [
        playground(deployment),
        introspection(deployment),
        rate_limiting(deployment),
        loopback_webhooks(deployment),
        smtp_tls(deployment),
        recent_backup(recovery, now),
        recent_restore_drill(recovery, now),
        backup_directory(recovery),
    ]
