"""Task events over real websockets: delivery, isolation, resume, gap-free order."""

import contextlib
import json
from typing import Any

import pytest
from sqlalchemy import delete
from websockets.exceptions import ConnectionClosed

from server.core.events.models import EventRetention
from server.core.services import Services
from server.core.tasks import service as task_service
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, SubscriptionClient, subscription_client

TASK_EVENTS = """subscription($taskId: ID, $after: String) {
  taskEvents(taskId: $taskId, after: $after) {
    schema cursor type occurredAt workspace payload
  }
}"""
START = "mutation { startSecurityInspection { id status } }"


async def _start_inspection(gql: GraphQLClient, workspace: Workspace) -> str:
    task_id: str = (await gql.data(START, key=workspace.admin))["startSecurityInspection"]["id"]
    return task_id


async def _events_until_finished(client: SubscriptionClient) -> list[dict[str, Any]]:
    received = []
    while True:
        envelope = (await client.next_data())["taskEvents"]
        received.append(envelope)
        if envelope["type"] in ("task.succeeded", "task.failed", "task.cancelled"):
            return received


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_task_events_reach_subscribers_of_the_workspace_only(
    gql: GraphQLClient,
    live_server: str,
    workspace: Workspace,
    other_workspace: Workspace,
    protocol: str,
) -> None:
    async with (
        subscription_client(live_server, workspace.viewer, protocol) as mine,
        subscription_client(live_server, other_workspace.viewer, protocol) as theirs,
    ):
        await mine.subscribe(TASK_EVENTS)
        await theirs.subscribe(TASK_EVENTS)
        task_id = await _start_inspection(gql, workspace)
        received = await _events_until_finished(mine)
        await theirs.expect_silence(0.5)
    types = [envelope["type"] for envelope in received]
    assert types == ["task.queued", "task.started", "task.progress", "task.succeeded"]
    first = received[0]
    assert first["schema"] == "opsgraph.task-event.v1"
    assert first["workspace"] == workspace.id
    assert first["payload"]["taskId"] == task_id
    cursors = [int(envelope["cursor"]) for envelope in received]
    assert cursors == sorted(cursors)
    assert received[-1]["payload"]["result"]["summary"]["FAIL"] >= 0


async def test_a_client_resuming_from_its_cursor_misses_nothing(
    gql: GraphQLClient, live_server: str, workspace: Workspace
) -> None:
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(TASK_EVENTS)
        await _start_inspection(gql, workspace)
        seen = await _events_until_finished(client)
    last_cursor = seen[-1]["cursor"]
    missed_task = await _start_inspection(gql, workspace)
    missed = [
        (
            await gql.data(
                "query($id: ID!) { task(id: $id) { status } }",
                {"id": missed_task},
                key=workspace.viewer,
            )
        )
    ]
    assert missed
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(TASK_EVENTS, {"after": last_cursor})
        replayed = await _events_until_finished(client)
        assert {e["payload"]["taskId"] for e in replayed} == {missed_task}
        live_task = await _start_inspection(gql, workspace)
        live = await _events_until_finished(client)
    assert [e["type"] for e in replayed][0] == "task.queued"
    assert {e["payload"]["taskId"] for e in live} == {live_task}
    all_cursors = [int(e["cursor"]) for e in seen + replayed + live]
    assert all_cursors == sorted(set(all_cursors)), "in order, each once"


async def test_a_subscription_can_follow_one_task(
    gql: GraphQLClient, live_server: str, workspace: Workspace
) -> None:
    cursor = await gql.data("{ latestEventCursor }", key=workspace.viewer)
    before = cursor["latestEventCursor"]
    async with subscription_client(live_server, workspace.viewer) as client:
        first = await _start_inspection(gql, workspace)
        second = await _start_inspection(gql, workspace)
        await client.subscribe(TASK_EVENTS, {"taskId": second, "after": before})
        received = await _events_until_finished(client)
    assert {e["payload"]["taskId"] for e in received} == {second}
    assert first != second


async def test_a_cursor_older_than_retention_is_refused(
    live_server: str, workspace: Workspace, services: Services
) -> None:
    async with services.db.transaction() as session:
        retention = await session.get(EventRetention, 1)
        previous = retention.pruned_through if retention else None
        await session.merge(EventRetention(id=1, pruned_through=max(previous or 0, 5)))
    try:
        async with subscription_client(live_server, workspace.viewer) as client:
            await client.subscribe(TASK_EVENTS, {"after": "2"})
            message = await client.receive()
    finally:
        async with services.db.transaction() as session:
            if previous is None:
                await session.execute(delete(EventRetention))
            else:
                await session.merge(EventRetention(id=1, pruned_through=previous))
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "CURSOR_EXPIRED"


@pytest.mark.postgresql_only  # SQLite admits one writer at a time: ids commit in order
async def test_an_event_committed_late_with_a_lower_id_is_still_delivered(
    gql: GraphQLClient, live_server: str, workspace: Workspace, services: Services
) -> None:
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(TASK_EVENTS)
        held = services.db.sessions()
        await held.begin()
        early = await task_service.enqueue(
            held,
            workspace_id=int(workspace.id),
            kind="held",
            params={},
            created_by_key_id=None,
            clock=services.clock,
        )
        await held.flush()  # the event row now holds a lower id, uncommitted
        later = await _start_inspection(gql, workspace)
        before = (await client.next_data())["taskEvents"]
        assert before["payload"]["taskId"] == later
        await held.commit()
        await held.close()
        await services.outbox.announce()
        received = [before]
        while received[-1]["payload"]["taskId"] != str(early.id):
            received.append((await client.next_data())["taskEvents"])
    cursors = [int(envelope["cursor"]) for envelope in received]
    assert cursors == sorted(set(cursors))
    assert received[-1]["type"] == "task.queued"


async def test_an_event_whose_writer_died_before_sequencing_is_still_delivered(
    gql: GraphQLClient, live_server: str, workspace: Workspace, services: Services
) -> None:
    """The writer committed and died before giving its events cursors: the feed
    finds them still waiting a poll later and sequences them itself."""
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(TASK_EVENTS)
        await client.expect_silence(0.3)  # the subscription is live
        async with services.db.transaction() as session:  # no announce: "dies" here
            orphan = await task_service.enqueue(
                session,
                workspace_id=int(workspace.id),
                kind="orphaned",
                params={},
                created_by_key_id=None,
                clock=services.clock,
            )
        envelope = (await client.next_data(wait=10.0))["taskEvents"]
    assert envelope["type"] == "task.queued"
    assert envelope["payload"]["taskId"] == str(orphan.id)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_connection_without_a_valid_key_is_closed_with_4403(
    live_server: str, protocol: str
) -> None:
    from websockets.asyncio.client import connect

    for key in (None, "og_bogus"):
        params = {"Authorization": f"Bearer {key}"} if key else {}
        async with connect(live_server, subprotocols=[protocol]) as connection:  # type: ignore[list-item]
            await connection.send(json.dumps({"type": "connection_init", "payload": params}))
            answers = []
            with contextlib.suppress(ConnectionClosed):  # closed with a code: not a clean end
                async for message in connection:
                    answers.append(json.loads(message))
        assert connection.close_code == 4403
        # graphql-ws says why before closing; graphql-transport-ws closes at once
        expected = ["connection_error"] if protocol == LEGACY_WS else []
        assert [answer["type"] for answer in answers] == expected


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_connection_that_never_inits_is_closed_with_4408(
    live_server: str, protocol: str
) -> None:
    from websockets.asyncio.client import connect

    async with connect(live_server, subprotocols=[protocol]) as connection:  # type: ignore[list-item]
        with pytest.raises(ConnectionClosed) as closed:
            await connection.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4408


ALERT_EVENTS = """subscription($filter: AlertEventFilter, $after: String) {
  alertEvents(filter: $filter, after: $after) { cursor type }
}"""


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        pytest.param(TASK_EVENTS, {"after": "²"}, "BAD_USER_INPUT", id="non-ascii-digit"),
        pytest.param(TASK_EVENTS, {"after": "٣"}, "BAD_USER_INPUT", id="arabic-indic-digit"),
        pytest.param(TASK_EVENTS, {"after": "9" * 18}, "BAD_USER_INPUT", id="ahead-of-newest"),
        pytest.param(TASK_EVENTS, {"taskId": "987654321"}, "NOT_FOUND", id="unknown-task"),
        pytest.param(
            ALERT_EVENTS, {"filter": {"types": ["alert.fird"]}}, "BAD_USER_INPUT", id="bad-type"
        ),
    ],
)
async def test_a_subscription_that_would_silently_miss_events_is_refused(
    live_server: str, workspace: Workspace, query: str, variables: dict[str, Any], code: str
) -> None:
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(query, variables)
        message = await client.receive()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == code, errors


async def _first_data_by_operation(
    client: SubscriptionClient, operation_ids: list[str]
) -> dict[str, dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    while len(first) < len(operation_ids):
        message = await client.receive()
        assert message["type"] in ("next", "data"), message
        assert not message["payload"].get("errors"), message
        first.setdefault(message["id"], message["payload"]["data"])
    return first


async def test_each_selection_gets_its_own_shape_when_events_are_rendered_once(
    gql: GraphQLClient, live_server: str, workspace: Workspace
) -> None:
    # Subscribers of one event share its render per selection (operation text and
    # the variables its directives read); each must still get exactly its own shape.
    full = "subscription { taskEvents { type cursor payload } }"
    aliased = "subscription { e: taskEvents { kind: type } }"
    conditional = """subscription($withPayload: Boolean!) {
      taskEvents { type payload @include(if: $withPayload) }
    }"""
    fragment = """subscription($withCursor: Boolean!) { taskEvents { ...Parts } }
    fragment Parts on EventEnvelope { type cursor @include(if: $withCursor) }"""
    async with (
        subscription_client(live_server, workspace.viewer) as one,
        subscription_client(live_server, workspace.viewer) as two,
        subscription_client(live_server, workspace.viewer, LEGACY_WS) as legacy,
    ):
        ids = {
            one: [await one.subscribe(full), await one.subscribe(aliased)],
            two: [
                await two.subscribe(full),
                await two.subscribe(conditional, {"withPayload": True}),
            ],
            legacy: [
                await legacy.subscribe(conditional, {"withPayload": False}),
                await legacy.subscribe(fragment, {"withCursor": False}),
            ],
        }
        task_id = await _start_inspection(gql, workspace)
        first = {
            operation: data
            for client, operations in ids.items()
            for operation, data in (await _first_data_by_operation(client, operations)).items()
        }
    shape = {
        operation: {name: sorted(fields) for name, fields in data.items()}
        for operation, data in first.items()
    }
    assert [shape[operation] for operations in ids.values() for operation in operations] == [
        {"taskEvents": ["cursor", "payload", "type"]},
        {"e": ["kind"]},
        {"taskEvents": ["cursor", "payload", "type"]},
        {"taskEvents": ["payload", "type"]},
        {"taskEvents": ["type"]},
        {"taskEvents": ["type"]},
    ]
    assert first[ids[one][0]] == first[ids[two][0]]
    assert first[ids[one][0]]["taskEvents"]["payload"]["taskId"] == task_id
    assert first[ids[one][1]] == {"e": {"kind": "task.queued"}}


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_subscription_over_the_per_connection_cap_is_refused_with_a_code(
    live_server: str, services: Services, workspace: Workspace, protocol: str
) -> None:
    cap = services.settings.max_subscriptions_per_connection
    async with subscription_client(live_server, workspace.viewer, protocol) as client:
        for _ in range(cap):
            await client.subscribe(TASK_EVENTS)
        refused = await client.subscribe(TASK_EVENTS)
        message = await client.receive()
        assert message["id"] == refused
        assert message["type"] == "error"
        error = message["payload"][0] if protocol == TRANSPORT_WS else message["payload"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert str(cap) in error["message"]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_queries_and_invalid_documents_over_a_websocket_get_data_or_coded_errors(
    live_server: str, workspace: Workspace, protocol: str
) -> None:
    async with subscription_client(live_server, workspace.viewer, protocol) as client:
        if protocol == TRANSPORT_WS:  # graphql-ws carries subscriptions only
            await client.subscribe("{ me { role } }")
            assert await client.next_data() == {"me": {"role": "VIEWER"}}
        for query, variables, code in [
            ("subscription { taskEvents { nope } }", {}, "GRAPHQL_VALIDATION_FAILED"),
            ("subscription { taskEvents { type }", {}, "GRAPHQL_PARSE_FAILED"),
            (TASK_EVENTS, {"taskId": ["x"]}, "BAD_USER_INPUT"),
        ]:
            operation = await client.subscribe(query, variables)
            message = await client.receive()
            while message["type"] == "complete":  # the end of the query above
                message = await client.receive()
            assert message["id"] == operation
            payload = message["payload"]
            errors = payload if isinstance(payload, list) else payload.get("errors", [payload])
            assert errors[0]["extensions"]["code"] == code, message
