"""Every mutation leaves an audit record; a failed one writes nothing else."""

from typing import Any

import pytest

from server.audit import service as audit_service
from server.audit.redaction import MAX_ITEMS, REDACTED, redact
from tests.conftest import CREATE_KEY, Workspace
from tests.graphql_client import GraphQLClient

AUDIT_LOG = """{ auditLog(first: 10) { totalCount edges { node {
  operation target outcome errorCode actorName actorKeyId requestId variables createdAt } } } }"""


async def _entries(gql: GraphQLClient, workspace: Workspace) -> list[dict[str, Any]]:
    data = await gql.data(AUDIT_LOG, key=workspace.admin)
    return [edge["node"] for edge in data["auditLog"]["edges"]]


async def test_a_mutation_is_audited_with_actor_target_and_request_id(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    response = await gql.post(
        CREATE_KEY,
        {"name": "deployer", "role": "DEVELOPER"},
        key=workspace.admin,
        headers={"X-Request-ID": "audit-req-1"},
    )
    key_id = response.json()["data"]["createApiKey"]["apiKey"]["id"]
    latest = (await _entries(gql, workspace))[0]
    assert latest["operation"] == "createApiKey"
    assert latest["target"] == f"ApiKey:{key_id}"
    assert latest["outcome"] == "ok"
    assert latest["actorName"] == "admin"
    assert latest["requestId"] == "audit-req-1"
    assert latest["variables"] == {"name": "deployer", "role": "DEVELOPER"}
    assert response.json()["data"]["createApiKey"]["secret"] not in str(latest)


async def test_refused_and_failed_mutations_are_audited(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    ingest = (
        'mutation { ingestSignals(signals: [{service: "a", name: "b", value: 1}]) { accepted } }'
    )
    assert await gql.error_code(ingest, key=workspace.viewer) == "FORBIDDEN"
    revoke = 'mutation { revokeApiKey(id: "999999") { id } }'
    assert await gql.error_code(revoke, key=workspace.admin) == "NOT_FOUND"
    newest, refused = (await _entries(gql, workspace))[:2]
    assert (newest["operation"], newest["outcome"], newest["errorCode"]) == (
        "revokeApiKey",
        "error",
        "NOT_FOUND",
    )
    assert newest["variables"] == {"id": "999999"}
    assert (refused["operation"], refused["errorCode"], refused["actorName"]) == (
        "ingestSignals",
        "FORBIDDEN",
        "viewer",
    )


async def test_a_failure_after_the_work_rolls_all_of_it_back(
    gql: GraphQLClient, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = audit_service.record
    calls = 0

    async def fail_first_record(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("audit storage unavailable")
        return await original(*args, **kwargs)

    monkeypatch.setattr(audit_service, "record", fail_first_record)
    variables = {"name": "half-made", "role": "VIEWER"}
    assert await gql.error_code(CREATE_KEY, variables, key=workspace.admin) == "INTERNAL"
    monkeypatch.setattr(audit_service, "record", original)
    keys = await gql.data("{ apiKeys { edges { node { name } } } }", key=workspace.admin)
    assert "half-made" not in str(keys)
    failure = (await _entries(gql, workspace))[0]
    assert (failure["operation"], failure["errorCode"]) == ("createApiKey", "INTERNAL")


def test_redaction_hides_secrets_and_url_credentials() -> None:
    variables = {
        "input": {
            "name": "hook",
            "url": "https://user:hunter2@hooks.example.com/x",
            "secret": "whsec_abc",
            "headers": {"Authorization": "Bearer t", "X-Trace": "ok"},
        },
        "password": None,
        "items": list(range(60)),
    }
    redacted = redact(variables)
    assert redacted["input"]["secret"] == REDACTED
    assert redacted["input"]["headers"] == {"Authorization": REDACTED, "X-Trace": "ok"}
    assert redacted["input"]["url"] == "https://[redacted]@hooks.example.com/x"
    assert redacted["input"]["name"] == "hook"
    assert redacted["password"] is None
    assert redacted["items"] == [*range(MAX_ITEMS), f"... {60 - MAX_ITEMS} more"]
