"""API keys, roles and workspace isolation through HTTP GraphQL."""

from sqlalchemy import select

from server.access.models import ApiKey
from server.core.services import Services
from tests.conftest import CREATE_KEY, CREATE_WORKSPACE, Workspace
from tests.graphql_client import GraphQLClient

ME = "{ me { keyId keyName role permissions workspace { id name } } }"
INGEST = """
mutation($signals: [SignalInput!]!) { ingestSignals(signals: $signals) { accepted } }"""
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }"
API_KEYS = "{ apiKeys { totalCount edges { node { id name role prefix revokedAt } } } }"


async def test_me_describes_the_calling_key(gql: GraphQLClient, workspace: Workspace) -> None:
    me = (await gql.data(ME, key=workspace.viewer))["me"]
    assert me["role"] == "VIEWER"
    assert me["permissions"] == ["observability.read"]
    assert me["workspace"] == {"id": workspace.id, "name": workspace.name}


async def test_roles_map_to_permissions(gql: GraphQLClient, workspace: Workspace) -> None:
    developer = (await gql.data(ME, key=workspace.developer))["me"]
    admin = (await gql.data(ME, key=workspace.admin))["me"]
    assert developer["permissions"] == ["observability.read", "observability.write"]
    assert admin["permissions"] == ["admin", "observability.read", "observability.write"]


async def test_a_request_without_key_is_unauthenticated(gql: GraphQLClient) -> None:
    assert await gql.error_code(ME) == "UNAUTHENTICATED"


async def test_an_unknown_key_is_unauthenticated(gql: GraphQLClient) -> None:
    assert await gql.error_code(ME, key="og_not-a-real-key") == "UNAUTHENTICATED"


async def test_a_malformed_authorization_header_is_unauthenticated(gql: GraphQLClient) -> None:
    response = await gql.post(ME, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_secret_is_shown_once_and_stored_only_as_digest(
    gql: GraphQLClient, workspace: Workspace, services: Services
) -> None:
    created = await gql.data(CREATE_KEY, {"name": "ci", "role": "DEVELOPER"}, key=workspace.admin)
    secret = created["createApiKey"]["secret"]
    key_id = int(created["createApiKey"]["apiKey"]["id"])
    async with services.db.reader() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    assert row is not None
    assert secret not in (row.secret_sha256, row.secret_prefix, row.name)
    assert secret.startswith(row.secret_prefix)
    listed = (await gql.data(API_KEYS, key=workspace.admin))["apiKeys"]
    assert secret not in str(listed)
    assert (await gql.data(ME, key=secret))["me"]["role"] == "DEVELOPER"


async def test_a_viewer_cannot_mutate_and_nothing_is_written(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    sample = {"service": "api", "name": "requests_total", "value": 1}
    assert await gql.error_code(INGEST, {"signals": [sample]}, key=workspace.viewer) == "FORBIDDEN"
    signals = await gql.data("{ signals { totalCount } }", key=workspace.viewer)
    assert signals["signals"]["totalCount"] == 0


async def test_a_developer_cannot_manage_keys(gql: GraphQLClient, workspace: Workspace) -> None:
    variables = {"name": "sneaky", "role": "ADMIN"}
    assert await gql.error_code(CREATE_KEY, variables, key=workspace.developer) == "FORBIDDEN"
    assert await gql.error_code(API_KEYS, key=workspace.developer) == "FORBIDDEN"
    assert await gql.error_code("{ auditLog { totalCount } }", key=workspace.viewer) == "FORBIDDEN"


async def test_a_revoked_key_is_refused_at_once(gql: GraphQLClient, workspace: Workspace) -> None:
    created = await gql.data(CREATE_KEY, {"name": "temp", "role": "VIEWER"}, key=workspace.admin)
    secret = created["createApiKey"]["secret"]
    key_id = created["createApiKey"]["apiKey"]["id"]
    assert (await gql.data(ME, key=secret))["me"]["role"] == "VIEWER"  # now cached
    revoked = (await gql.data(REVOKE, {"id": key_id}, key=workspace.admin))["revokeApiKey"]
    assert revoked["revokedAt"] is not None
    assert await gql.error_code(ME, key=secret) == "UNAUTHENTICATED"
    assert await gql.error_code(REVOKE, {"id": key_id}, key=workspace.admin) == "CONFLICT"


async def test_workspaces_do_not_see_each_other(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    sample = {"service": "checkout", "name": "latency_ms", "value": 42, "labels": {"pod": "a"}}
    await gql.data(INGEST, {"signals": [sample]}, key=workspace.developer)
    theirs = await gql.data(
        "{ signals { totalCount edges { node { id } } }"
        " observabilityOverview { services { service } } }",
        key=other_workspace.viewer,
    )
    assert theirs["signals"] == {"totalCount": 0, "edges": []}
    assert theirs["observabilityOverview"]["services"] == []
    their_keys = (await gql.data(API_KEYS, key=other_workspace.admin))["apiKeys"]
    assert their_keys["totalCount"] == 3
    mine = (await gql.data(API_KEYS, key=workspace.admin))["apiKeys"]["edges"]
    my_key_id = mine[0]["node"]["id"]
    code = await gql.error_code(REVOKE, {"id": my_key_id}, key=other_workspace.admin)
    assert code == "NOT_FOUND"
    log = await gql.data("{ auditLog { edges { node { operation } } } }", key=other_workspace.admin)
    assert "ingestSignals" not in str(log)


async def test_a_new_workspace_gets_a_working_admin_key(gql: GraphQLClient, root_key: str) -> None:
    created = await gql.data(CREATE_WORKSPACE, {"name": "payments-team"}, key=root_key)
    secret = created["createWorkspace"]["secret"]
    me = (await gql.data(ME, key=secret))["me"]
    assert me["role"] == "ADMIN"
    assert me["workspace"]["name"] == "payments-team"
    again = await gql.error_code(CREATE_WORKSPACE, {"name": "payments-team"}, key=root_key)
    assert again == "CONFLICT"


async def test_invalid_names_are_bad_user_input(gql: GraphQLClient, workspace: Workspace) -> None:
    body = await gql.execute(CREATE_KEY, {"name": "   ", "role": "VIEWER"}, key=workspace.admin)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "name"
    assert body["data"] is None


async def test_api_keys_paginate(gql: GraphQLClient, workspace: Workspace) -> None:
    query = """query($after: String) { apiKeys(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }"""
    first = (await gql.data(query, key=workspace.admin))["apiKeys"]
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    after = {"after": first["pageInfo"]["endCursor"]}
    second = (await gql.data(query, after, key=workspace.admin))["apiKeys"]
    assert second["pageInfo"]["hasNextPage"] is False
    names = [e["node"]["name"] for e in first["edges"] + second["edges"]]
    assert sorted(names) == ["admin", "developer", "viewer"]
