"""Operations generated from schema.graphql, valid and invalid, as a viewer and an
admin of each of two workspaces.

Every answer must be a GraphQL answer (``data`` or ``errors``, never a 500),
and nothing of the other workspace (seeded with a marker in every text it
has) may ever show. Each generated document is sent by four callers (the
viewer and the admin of workspace A, the same of B), so a fixed budget of
documents is a fixed number of operations, and each test asserts it sent them
all. Documents are drawn once per session, derandomised, and replayed on every
backend, so a run fails the same way twice; hypothesis only generates (no
shrinking, no example database).

Most documents ask for one root field: they are cheap to draw, and one field's
bad input does not null every other field's data, so answers do carry data
for the isolation check to look at. Fewer ask for many root fields at once,
which is how siblings sharing a request's session get exercised. A document
that once failed is kept in ``regressions/`` (written there on failure) and
replayed by every run.
"""

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from graphql import NameNode, ObjectFieldNode, ObjectValueNode, build_schema
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, mutations, nodes, queries

from server.core.clock import FrozenClock
from tests.conftest import Backend, Workspace, make_settings, make_workspace, running_app
from tests.graphql_client import GraphQLClient

HERE = Path(__file__).parent
REGRESSIONS = HERE / "regressions"
SCHEMA_TEXT = (HERE.parent.parent / "schema.graphql").read_text()
SCHEMA = build_schema(SCHEMA_TEXT)

#: Long-running tasks (database dumps and restores) are left to their own tests;
#: revoking keys by generated ids could end the fuzzing keys themselves.
LEFT_OUT_MUTATIONS = {"startBackupRun", "startRestoreDrill", "forecastCapacity", "revokeApiKey"}
MUTATION_FIELDS = sorted(set(SCHEMA.mutation_type.fields) - LEFT_OUT_MUTATIONS)  # type: ignore[union-attr]

#: Documents per kind; each is sent by the four callers of ``World.callers``.
ONE_ROOT_QUERIES = 500
MANY_ROOT_QUERIES = 150
ONE_ROOT_MUTATIONS = 150
MANY_ROOT_MUTATIONS = 50
INVALID_DOCUMENTS = 200
CALLERS = 4
#: Documents in flight at once (each by every caller).
IN_FLIGHT = 4


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


def _drawn(strategy: st.SearchStrategy[str], count: int) -> tuple[str, ...]:
    """``count`` documents of a strategy, the same ones on every run."""
    drawn: list[str] = []

    @given(document=strategy)
    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(document: str) -> None:
        drawn.append(document)

    collect()
    return tuple(drawn)


QUERY_FIELDS = sorted(SCHEMA.query_type.fields)  # type: ignore[union-attr]


@cache
def generated_queries() -> tuple[str, ...]:
    one_root = st.one_of(
        [queries(SCHEMA, fields=[root], custom_scalars=CUSTOM_SCALARS) for root in QUERY_FIELDS]
    )
    many_roots = queries(SCHEMA, custom_scalars=CUSTOM_SCALARS)
    return _drawn(one_root, ONE_ROOT_QUERIES) + _drawn(many_roots, MANY_ROOT_QUERIES)


@cache
def generated_mutations() -> tuple[str, ...]:
    one_root = st.one_of(
        [
            mutations(SCHEMA, fields=[root], custom_scalars=CUSTOM_SCALARS)
            for root in MUTATION_FIELDS
        ]
    )
    many_roots = mutations(SCHEMA, fields=MUTATION_FIELDS, custom_scalars=CUSTOM_SCALARS)
    return _drawn(one_root, ONE_ROOT_MUTATIONS) + _drawn(many_roots, MANY_ROOT_MUTATIONS)


@cache
def generated_invalid_operations() -> tuple[str, ...]:
    roots = ["alerts", "signals", "auditLog", "me"]
    strategy = from_schema(SCHEMA, fields=roots, mode=Mode.NEGATIVE)
    return _drawn(strategy, INVALID_DOCUMENTS)


@dataclass(frozen=True)
class Caller:
    role: str
    key: str
    #: The marker of the other workspace, which this caller must never see.
    foreign_marker: str


@dataclass
class World:
    client: GraphQLClient
    callers: tuple[Caller, ...]
    sent: int = 0
    #: Answers with the data of at least one root field.
    with_data: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


SEED = """mutation($marker: String!, $signals: [SignalInput!]!, $alert: AlertInput!) {
  ingestSignals(signals: $signals) { accepted }
  raiseAlert(input: $alert) { id }
  createApiKey(name: $marker, role: VIEWER) { apiKey { id } }
}"""


async def _seed(client: GraphQLClient, workspace: Workspace, marker: str) -> None:
    signal = {"service": marker, "name": marker, "value": 1.0, "labels": {"team": marker}}
    alert = {"service": marker, "summary": marker, "severity": "PAGE", "labels": {"t": marker}}
    variables = {"marker": marker, "signals": [signal], "alert": alert}
    await client.data(SEED, variables, key=workspace.admin)


@pytest.fixture(scope="module")
async def world(
    backend: Backend, clock: FrozenClock, gql: GraphQLClient, root_key: str
) -> AsyncIterator[World]:
    """One app (no rate limit, a cost limit no generated list reaches, no job
    runner) and two seeded workspaces, shared by every test of the module."""
    first, second = await make_workspace(gql, root_key), await make_workspace(gql, root_key)
    markers = {ws.id: f"marker-{uuid.uuid4().hex[:12]}" for ws in (first, second)}
    fuzz_settings = make_settings(
        backend, rate_limit_per_minute=0, max_query_cost=1_000_000, run_jobs=False
    )
    async with running_app(fuzz_settings, clock) as client:
        for workspace in (first, second):
            await _seed(client, workspace, markers[workspace.id])
        callers = tuple(
            Caller(role, key, markers[other.id])
            for ours, other in ((first, second), (second, first))
            for role, key in (("viewer", ours.viewer), ("admin", ours.admin))
        )
        yield World(client, callers)


def _keep(document: str) -> None:
    digest = hashlib.sha256(document.encode()).hexdigest()[:12]
    REGRESSIONS.mkdir(exist_ok=True)
    (REGRESSIONS / f"found-{digest}.graphql").write_text(document + "\n")


async def _check_one(world: World, document: str, caller: Caller) -> None:
    response = await world.client.http.post(
        "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {caller.key}"}
    )
    world.sent += 1
    world.statuses[response.status_code] = world.statuses.get(response.status_code, 0) + 1
    assert response.status_code in (200, 400), (caller.role, response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert "data" in body or body.get("errors"), (caller.role, body)
    data = body.get("data")
    if isinstance(data, dict) and any(value is not None for value in data.values()):
        world.with_data += 1
    assert caller.foreign_marker not in response.text, (
        f"the {caller.role} of one workspace sees the other's data"
    )


async def check(world: World, document: str) -> None:
    """Every caller gets a GraphQL answer showing nothing of the other workspace."""
    try:
        await asyncio.gather(*(_check_one(world, document, caller) for caller in world.callers))
    except AssertionError:
        _keep(document)
        raise


async def send_all(world: World, documents: Iterable[str]) -> int:
    """Send every document by every caller, a few documents at a time; the
    number of operations sent."""
    before = world.sent
    pending = list(documents)
    for start in range(0, len(pending), IN_FLIGHT):
        await asyncio.gather(*(check(world, doc) for doc in pending[start : start + IN_FLIGHT]))
    return world.sent - before


async def test_generated_queries(world: World) -> None:
    documents = generated_queries()
    assert len(documents) == ONE_ROOT_QUERIES + MANY_ROOT_QUERIES
    answered_with_data = world.with_data
    assert await send_all(world, documents) == len(documents) * CALLERS
    with_data = world.with_data - answered_with_data
    assert with_data >= len(documents) * CALLERS // 20, "the isolation check saw data"


async def test_generated_mutations(world: World) -> None:
    documents = generated_mutations()
    assert len(documents) == ONE_ROOT_MUTATIONS + MANY_ROOT_MUTATIONS
    assert await send_all(world, documents) == len(documents) * CALLERS


async def test_generated_invalid_operations(world: World) -> None:
    documents = generated_invalid_operations()
    assert len(documents) == INVALID_DOCUMENTS
    assert await send_all(world, documents) == len(documents) * CALLERS
    assert world.statuses.get(200, 0) + world.statuses.get(400, 0) == world.sent


KEPT = {path.stem: path.read_text() for path in sorted(REGRESSIONS.glob("*.graphql"))}


async def test_documents_that_once_failed_pass(world: World) -> None:
    assert KEPT, "the regression file is replayed"
    sent = await send_all(world, KEPT.values())
    assert sent == len(KEPT) * CALLERS
