"""Operations generated from schema.graphql, valid and invalid, as a viewer and an admin.

Every answer must be a GraphQL answer (``data`` or ``errors``, never a 500),
and nothing of the other workspace (seeded with a marker in every text it
has) may ever show. The example budget is fixed and the examples are
derandomised, so a run takes seconds and fails the same way twice. A document
that once failed is kept in ``regressions/`` (written there on failure) and
replayed by every run.
"""

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from graphql import NameNode, ObjectFieldNode, ObjectValueNode, build_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, mutations, nodes, queries

from server.core.clock import FrozenClock
from tests.conftest import Backend, Workspace, make_settings, running_app
from tests.graphql_client import GraphQLClient

HERE = Path(__file__).parent
REGRESSIONS = HERE / "regressions"
SCHEMA_TEXT = (HERE.parent.parent / "schema.graphql").read_text()
SCHEMA = build_schema(SCHEMA_TEXT)

#: Long-running tasks (database dumps and restores) are left to their own tests.
SLOW_MUTATIONS = {"startBackupRun", "startRestoreDrill", "forecastCapacity"}
MUTATION_FIELDS = sorted(set(SCHEMA.mutation_type.fields) - SLOW_MUTATIONS)  # type: ignore[union-attr]


def _json_object(labels: dict[str, str]) -> ObjectValueNode:
    return nodes.Object(
        [ObjectFieldNode(name=NameNode(value=k), value=nodes.String(v)) for k, v in labels.items()]
    )


MOMENTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
CUSTOM_SCALARS = {
    "DateTime": MOMENTS.map(lambda moment: nodes.String(moment.isoformat())),
    "JSON": st.dictionaries(st.sampled_from(["env", "team", "region"]), st.text(max_size=8)).map(
        _json_object
    ),
}
EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class World:
    client: GraphQLClient
    ours: Workspace
    marker: str


SEED = """mutation($marker: String!, $signals: [SignalInput!]!, $alert: AlertInput!) {
  ingestSignals(signals: $signals) { accepted }
  raiseAlert(input: $alert) { id }
  createApiKey(name: $marker, role: VIEWER) { apiKey { id } }
}"""


async def _seed(client: GraphQLClient, theirs: Workspace, marker: str) -> None:
    signal = {"service": marker, "name": marker, "value": 1.0, "labels": {"team": marker}}
    alert = {"service": marker, "summary": marker, "severity": "PAGE", "labels": {"t": marker}}
    variables = {"marker": marker, "signals": [signal], "alert": alert}
    await client.data(SEED, variables, key=theirs.admin)


@pytest.fixture
async def world(
    backend: Backend, clock: FrozenClock, workspace: Workspace, other_workspace: Workspace
) -> AsyncIterator[World]:
    marker = f"theirs-{uuid.uuid4().hex[:12]}"
    fuzz_settings = make_settings(backend, rate_limit_per_minute=0, max_query_cost=1_000_000)
    async with running_app(fuzz_settings, clock) as client:
        await _seed(client, other_workspace, marker)
        yield World(client, workspace, marker)


def _keep(document: str) -> None:
    digest = hashlib.sha256(document.encode()).hexdigest()[:12]
    REGRESSIONS.mkdir(exist_ok=True)
    (REGRESSIONS / f"found-{digest}.graphql").write_text(document + "\n")


async def check(world: World, document: str, key: str) -> None:
    """The answer is a GraphQL answer showing nothing of the other workspace."""
    try:
        response = await world.client.http.post(
            "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code in (200, 400, 429), (response.status_code, response.text)
        body: dict[str, Any] = response.json()
        assert "data" in body or body.get("errors"), body
        assert world.marker not in response.text, "another workspace's data is visible"
    except AssertionError:
        _keep(document)
        raise


@given(document=queries(SCHEMA, custom_scalars=CUSTOM_SCALARS))
@EXAMPLES
async def test_generated_queries_as_a_viewer(world: World, document: str) -> None:
    await check(world, document, world.ours.viewer)


@given(document=queries(SCHEMA, custom_scalars=CUSTOM_SCALARS))
@EXAMPLES
async def test_generated_queries_as_an_admin(world: World, document: str) -> None:
    await check(world, document, world.ours.admin)


@given(document=mutations(SCHEMA, fields=MUTATION_FIELDS, custom_scalars=CUSTOM_SCALARS))
@settings(EXAMPLES, max_examples=20)
async def test_generated_mutations_as_an_admin(world: World, document: str) -> None:
    await check(world, document, world.ours.admin)


@given(
    document=from_schema(SCHEMA, fields=["alerts", "signals", "auditLog", "me"], mode=Mode.NEGATIVE)
)
@EXAMPLES
async def test_generated_invalid_operations(world: World, document: str) -> None:
    await check(world, document, world.ours.developer)


KEPT = {path.stem: path.read_text() for path in sorted(REGRESSIONS.glob("*.graphql"))}


@pytest.mark.parametrize("name", sorted(KEPT))
async def test_documents_that_once_failed_pass(world: World, name: str) -> None:
    for key in (world.ours.viewer, world.ours.admin):
        await check(world, KEPT[name], key)
