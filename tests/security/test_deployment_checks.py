"""The checks of the deployment's settings, each made to fail (or warn) and to pass
through GraphQL. Each deployment is an app of its own on the session's database,
whose runner runs its inspection; the session's runner is paused meanwhile so
that it cannot take the task and inspect with its own settings instead."""

from pathlib import Path

from server.core.clock import FrozenClock
from tests.conftest import Backend, Workspace, make_settings
from tests.graphql_client import GraphQLClient
from tests.security.helpers import Inspection, driven_app, inspect


async def _inspect_deployment(
    backend: Backend, clock: FrozenClock, workspace: Workspace, **settings: object
) -> Inspection:
    async with driven_app(make_settings(backend, **settings), clock) as app:
        return await app.inspect(workspace.admin)


async def test_playground_and_introspection_fail_on_a_development_server_others_reach(
    backend: Backend, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    exposed = await _inspect_deployment(backend, paused_runner, workspace, host="0.0.0.0")
    for check in ("playground_in_production", "introspection_in_production"):
        assert exposed.status(check) == "FAIL"
        assert "(development, listening on 0.0.0.0)" in exposed.detail(check)
        assert "OPSGRAPH_ENVIRONMENT=production" in exposed.item(check)["remediation"]


async def test_playground_and_introspection_pass_in_production_and_on_loopback(
    backend: Backend, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    production = await _inspect_deployment(
        backend, paused_runner, workspace, environment="production", host="0.0.0.0"
    )
    local = await _inspect_deployment(backend, paused_runner, workspace, host="127.0.0.1")
    for check in ("playground_in_production", "introspection_in_production"):
        assert production.status(check) == "PASS"
        assert " off (production, listening on 0.0.0.0)" in production.detail(check)
        assert local.status(check) == "PASS"
        assert " on (development, listening on 127.0.0.1)" in local.detail(check)


async def test_rate_limiting_off_fails_and_on_passes(
    backend: Backend, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    off = await _inspect_deployment(backend, paused_runner, workspace, rate_limit_per_minute=0)
    assert off.status("rate_limiting") == "FAIL"
    assert "OPSGRAPH_RATE_LIMIT_PER_MINUTE" in off.item("rate_limiting")["remediation"]
    on = await _inspect_deployment(backend, paused_runner, workspace, rate_limit_per_minute=600)
    assert on.status("rate_limiting") == "PASS"
    assert on.detail("rate_limiting") == "600 requests per key per minute"


async def test_loopback_webhooks_warn_in_production_only_while_allowed(
    backend: Backend, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    allowed = await _inspect_deployment(
        backend, paused_runner, workspace, environment="production", allow_loopback_webhooks=True
    )
    assert allowed.status("loopback_webhooks") == "WARN"
    refused = await _inspect_deployment(
        backend, paused_runner, workspace, environment="production", allow_loopback_webhooks=False
    )
    assert refused.status("loopback_webhooks") == "PASS"


async def test_the_session_app_inspects_with_its_own_settings(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    inspection = await inspect(gql, workspace.admin)
    assert inspection.status("loopback_webhooks") == "PASS"
    assert inspection.detail("loopback_webhooks") == (
        "webhooks to loopback addresses are allowed in development"
    )


async def test_email_without_required_tls_fails_and_with_it_passes(
    backend: Backend, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    clear = await _inspect_deployment(
        backend, paused_runner, workspace, smtp_host="mail.example.com", smtp_tls="none"
    )
    assert clear.status("smtp_tls") == "FAIL"
    assert clear.detail("smtp_tls") == (
        "email (alert contents, SMTP credentials) goes to mail.example.com in clear text"
        " (smtp_tls=none)"
    )
    opportunistic = await _inspect_deployment(
        backend, paused_runner, workspace, smtp_host="mail.example.com", smtp_tls="auto"
    )
    assert opportunistic.status("smtp_tls") == "WARN"
    required = await _inspect_deployment(
        backend, paused_runner, workspace, smtp_host="mail.example.com", smtp_tls="starttls"
    )
    assert required.status("smtp_tls") == "PASS"


async def test_a_backup_directory_others_can_enter_fails_until_closed(
    backend: Backend, workspace: Workspace, paused_runner: FrozenClock, tmp_path: Path
) -> None:
    directory = tmp_path / "backups"
    missing = await _inspect_deployment(backend, paused_runner, workspace, backup_dir=directory)
    assert missing.status("backup_dir_permissions") == "PASS"
    directory.mkdir()
    directory.chmod(0o755)
    open_ = await _inspect_deployment(backend, paused_runner, workspace, backup_dir=directory)
    assert open_.status("backup_dir_permissions") == "FAIL"
    assert open_.detail("backup_dir_permissions").startswith(
        f"other users of the host can reach {directory} (mode 755)"
    )
    assert open_.item("backup_dir_permissions")["remediation"].startswith(f"chmod 700 {directory}")
    directory.chmod(0o700)
    closed = await _inspect_deployment(backend, paused_runner, workspace, backup_dir=directory)
    assert closed.status("backup_dir_permissions") == "PASS"
    assert (
        closed.detail("backup_dir_permissions")
        == f"{directory} is closed to other users (mode 700)"
    )
